import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { AuditEntryDto } from '../../apps/api/src/audit/audit.dto.js';
import { bodyOf } from '../support/http.js';
import { ADMIN_EMAIL, ADMIN_PASSWORD, startApi, type ApiFixture } from '../api/api-fixture.js';

/**
 * Issue #14: the login limit counted every attempt, successes included, per address only — a
 * ward behind one NAT address got 429s at shift change, while an attacker rotating addresses was
 * not slowed down for one account. Now failures are throttled per account and per address.
 * Client addresses are given through X-Forwarded-For, believed because TRUST_PROXY trusts the
 * loopback peer the tests connect from (exactly as behind a reverse proxy).
 */
let api: ApiFixture;
let admin: string;
const NURSE = { email: 'nurse@ward.test', password: 'a-long-nurse-password-1' };
const TARGET = { email: 'target@ward.test', password: 'a-long-target-password-1' };

const login = (email: string, password: string, from: string) =>
  api.http.post('/api/v1/auth/login').set('X-Forwarded-For', from).send({ email, password });

beforeAll(async () => {
  // The other limits at their defaults: 100 failures per address, a 15-minute window.
  api = await startApi({ TRUST_PROXY: 'loopback', LOGIN_MAX_FAILURES_PER_ACCOUNT: '5' });
  admin = await api.login(ADMIN_EMAIL, ADMIN_PASSWORD);
  for (const user of [NURSE, TARGET])
    await api.http
      .post('/api/v1/users')
      .set('Authorization', `Bearer ${admin}`)
      .send({ ...user, role: 'clinician', displayName: user.email })
      .expect(201);
});

afterAll(async () => {
  await api?.close();
});

async function auditEntries(action: string): Promise<AuditEntryDto[]> {
  const res = await api.http.get('/api/v1/audit?limit=1000').set('Authorization', `Bearer ${admin}`).expect(200);
  return bodyOf<AuditEntryDto[]>(res).filter((e) => e.action === action);
}

describe('login throttling', () => {
  it('never counts successful logins: a whole ward signs in from one NAT address', async () => {
    const statuses = new Set<number>();
    for (let i = 0; i < 40; i++) statuses.add((await login(NURSE.email, NURSE.password, '198.51.100.10')).status);
    expect([...statuses]).toEqual([200]);
  });

  it('throttles failures for one account even when every guess comes from another address', async () => {
    const guesses: number[] = [];
    for (let i = 1; i <= 5; i++) guesses.push((await login(TARGET.email, `guess-${i}`, `203.0.113.${i}`)).status);
    expect(guesses).toEqual([401, 401, 401, 401, 401]);

    const sixth = await login(TARGET.email, 'guess-6', '203.0.113.6');
    expect(sixth.status).toBe(429);
    expect(sixth.body).toEqual({
      statusCode: 429,
      error: 'Too Many Requests',
      message: 'Too many failed logins; try again later',
    });
    const retryAfter = Number(sixth.headers['retry-after']);
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(15 * 60);
    // Not even the right password gets through until the window ends: a guess then could not tell.
    expect((await login(TARGET.email, TARGET.password, '203.0.113.7')).status).toBe(429);
    // The same e-mail in capitals is the same account.
    expect((await login(TARGET.email.toUpperCase(), TARGET.password, '203.0.113.8')).status).toBe(429);
    // Other accounts are not affected, from those very addresses.
    expect((await login(NURSE.email, NURSE.password, '203.0.113.6')).status).toBe(200);
  });

  it('throttles failures from one address across accounts, and a /64 counts as one address', async () => {
    // 100 failures (the default) from one IPv6 /64, each from another address in it, for other e-mails.
    const statuses = new Set<number>();
    for (let i = 1; i <= 100; i++) {
      const res = await login(`nobody-${i}@ward.test`, 'wrong-password', `2001:db8:77:1::${i.toString(16)}`);
      statuses.add(res.status);
    }
    expect([...statuses]).toEqual([401]);
    const next = await login(NURSE.email, NURSE.password, '2001:db8:77:1::ffff');
    expect(next.status).toBe(429);
    expect(Number(next.headers['retry-after'])).toBeGreaterThan(0);
    // Another /64 and another IPv4 address are not affected.
    expect((await login(NURSE.email, NURSE.password, '2001:db8:77:2::1')).status).toBe(200);
    expect((await login(NURSE.email, NURSE.password, '198.51.100.11')).status).toBe(200);
  });

  it('a success clears the failures of its account', async () => {
    const user = { email: 'typo@ward.test', password: 'a-long-typo-password-1' };
    await api.http
      .post('/api/v1/users')
      .set('Authorization', `Bearer ${admin}`)
      .send({ ...user, role: 'clinician', displayName: user.email })
      .expect(201);
    for (let round = 0; round < 3; round++) {
      for (let i = 0; i < 4; i++) expect((await login(user.email, 'typo', '198.51.100.20')).status).toBe(401);
      expect((await login(user.email, user.password, '198.51.100.20')).status).toBe(200);
    }
  });

  it('records every failure and each throttling in the audit log', async () => {
    const failed = await auditEntries('auth.login_failed');
    expect(failed.filter((e) => e.details?.email === TARGET.email)).toHaveLength(5);
    const throttled = await auditEntries('auth.login_throttled');
    expect(throttled.map((e) => e.details)).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ scope: 'account', email: TARGET.email, ip: '203.0.113.5' }),
        expect.objectContaining({ scope: 'address', address: '2001:db8:77:1::/64', ip: '2001:db8:77:1::64' }),
      ]),
    );
    // Once per window and key, not once per refused attempt.
    expect(throttled.filter((e) => e.details?.scope === 'account')).toHaveLength(1);
  });

  it('refuses a burst of parallel guesses beyond the limit, not just sequential ones', async () => {
    const user = { email: 'burst@ward.test', password: 'a-long-burst-password-1' };
    await api.http
      .post('/api/v1/users')
      .set('Authorization', `Bearer ${admin}`)
      .send({ ...user, role: 'clinician', displayName: user.email })
      .expect(201);
    const statuses = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        login(user.email, `parallel-${i}`, `192.0.2.${i + 1}`).then((r) => r.status),
      ),
    );
    expect(statuses.filter((s) => s === 401)).toHaveLength(5);
    expect(statuses.filter((s) => s === 429)).toHaveLength(15);
  });
});
