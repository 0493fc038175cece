import { describe, expect, it } from '@jest/globals';
import { JwtService } from '@nestjs/jwt';
import { loadConfig } from '@lantern/config';
import { UnauthorizedError } from '@lantern/domain';
import { AccessTokenService } from './access-token.service.js';

const secret = 's'.repeat(40);
const service = new AccessTokenService(loadConfig({ JWT_SECRET: secret, ACCESS_TOKEN_TTL: '15m' }));
const sid = '5f0c3c1e-8a3b-4c52-9a57-1f6f2b0f9d11';

describe('AccessTokenService', () => {
  it('round-trips a principal with its login and expires after ACCESS_TOKEN_TTL', () => {
    const before = Date.now();
    const principal = { userId: 'u1', role: 'patient', email: 'p@x.test', patientId: 'p1', sessionId: sid } as const;
    const { accessToken, expiresAt, expiresIn } = service.issue(principal);
    expect(service.verify(accessToken)).toEqual(principal);
    expect(expiresIn).toBe(900);
    expect(expiresAt.getTime() - before).toBeGreaterThanOrEqual(15 * 60_000 - 1000);
  });

  it('defaults ACCESS_TOKEN_TTL to 15 minutes', () => {
    const defaults = new AccessTokenService(loadConfig({ JWT_SECRET: secret }));
    expect(defaults.issue({ userId: 'u1', role: 'admin', email: 'a@x.test', sessionId: sid }).expiresIn).toBe(900);
  });

  it('names an expired genuine token for logout, never a forged one', () => {
    const expired = new JwtService({ secret }).sign(
      { sub: 'u1', role: 'admin', email: 'a@x.test', sid, exp: Math.floor(Date.now() / 1000) - 10 },
      { issuer: 'lantern' },
    );
    expect(() => service.verify(expired)).toThrow(UnauthorizedError);
    expect(service.verifyIgnoringExpiry(expired)).toEqual({
      userId: 'u1',
      role: 'admin',
      email: 'a@x.test',
      sessionId: sid,
    });
    const forged = new JwtService({ secret: 'o'.repeat(40) }).sign(
      { sub: 'u1', role: 'admin', email: 'a@x.test', sid },
      { issuer: 'lantern' },
    );
    expect(service.verifyIgnoringExpiry(forged)).toBeUndefined();
  });

  it.each([
    ['missing', undefined],
    ['empty', ''],
    ['garbage', 'a.b.c'],
    [
      'expired',
      new JwtService({ secret }).sign(
        { sub: 'u1', role: 'admin', email: 'a@x.test', sid, exp: Math.floor(Date.now() / 1000) - 10 },
        { issuer: 'lantern' },
      ),
    ],
    [
      'login-less (issued before sessions existed)',
      new JwtService({ secret }).sign({ sub: 'u1', role: 'admin', email: 'a@x.test' }, { issuer: 'lantern' }),
    ],
    [
      'other key',
      new JwtService({ secret: 'o'.repeat(40) }).sign(
        { sub: 'u1', role: 'admin', email: 'a@x.test', sid },
        { issuer: 'lantern' },
      ),
    ],
    [
      'other issuer',
      new JwtService({ secret }).sign({ sub: 'u1', role: 'admin', email: 'a@x.test', sid }, { issuer: 'someone' }),
    ],
    [
      'unknown role',
      new JwtService({ secret }).sign({ sub: 'u1', role: 'root', email: 'a@x.test', sid }, { issuer: 'lantern' }),
    ],
    [
      'patient without record',
      new JwtService({ secret }).sign({ sub: 'u1', role: 'patient', email: 'a@x.test', sid }, { issuer: 'lantern' }),
    ],
    [
      'alg none',
      `${Buffer.from('{"alg":"none","typ":"JWT"}').toString('base64url')}.${Buffer.from(`{"sub":"u1","role":"admin","email":"a@x.test","iss":"lantern","sid":"${sid}"}`).toString('base64url')}.`,
    ],
  ])('refuses a %s token', (_name, token) => {
    expect(() => service.verify(token)).toThrow(UnauthorizedError);
  });
});
