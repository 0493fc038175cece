import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { ADMIN_EMAIL, ADMIN_PASSWORD, startApi, type ApiFixture } from './api-fixture.js';

let api: ApiFixture;

beforeAll(async () => {
  api = await startApi({ LOGIN_MAX_FAILURES_PER_ACCOUNT: '3' });
});

afterAll(async () => {
  await api?.close();
});

// Throttling per account and per address, and that successes never count: test/security/login-throttle.spec.ts.
describe('login rate limit', () => {
  it('allows LOGIN_MAX_FAILURES_PER_ACCOUNT failures, then 429 even with the right password', async () => {
    const statuses: number[] = [];
    for (const password of ['wrong-1', 'wrong-2', 'wrong-3']) {
      statuses.push((await api.http.post('/api/v1/auth/login').send({ email: ADMIN_EMAIL, password })).status);
    }
    expect(statuses).toEqual([401, 401, 401]);
    const limited = await api.http.post('/api/v1/auth/login').send({ email: ADMIN_EMAIL, password: ADMIN_PASSWORD });
    expect(limited.status).toBe(429);
    expect(limited.body).toEqual({
      statusCode: 429,
      error: 'Too Many Requests',
      message: 'Too many failed logins; try again later',
    });
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
    // Other routes are not limited.
    await api.http.get('/health').expect(200);
  });
});
