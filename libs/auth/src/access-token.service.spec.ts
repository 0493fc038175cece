import { describe, expect, it } from '@jest/globals';
import { JwtService } from '@nestjs/jwt';
import { loadConfig } from '@lantern/config';
import { UnauthorizedError } from '@lantern/domain';
import { AccessTokenService } from './access-token.service.js';

const secret = 's'.repeat(40);
const service = new AccessTokenService(loadConfig({ JWT_SECRET: secret, JWT_TTL: '15m' }));

describe('AccessTokenService', () => {
  it('round-trips a principal and expires after JWT_TTL', () => {
    const before = Date.now();
    const { accessToken, expiresAt } = service.issue({
      userId: 'u1',
      role: 'patient',
      email: 'p@x.test',
      patientId: 'p1',
    });
    expect(service.verify(accessToken)).toEqual({ userId: 'u1', role: 'patient', email: 'p@x.test', patientId: 'p1' });
    expect(expiresAt.getTime() - before).toBeGreaterThanOrEqual(15 * 60_000 - 1000);
  });

  it.each([
    ['missing', undefined],
    ['empty', ''],
    ['garbage', 'a.b.c'],
    [
      'expired',
      new JwtService({ secret }).sign(
        { sub: 'u1', role: 'admin', email: 'a@x.test', exp: Math.floor(Date.now() / 1000) - 10 },
        { issuer: 'lantern' },
      ),
    ],
    [
      'other key',
      new JwtService({ secret: 'o'.repeat(40) }).sign(
        { sub: 'u1', role: 'admin', email: 'a@x.test' },
        { issuer: 'lantern' },
      ),
    ],
    [
      'other issuer',
      new JwtService({ secret }).sign({ sub: 'u1', role: 'admin', email: 'a@x.test' }, { issuer: 'someone' }),
    ],
    [
      'unknown role',
      new JwtService({ secret }).sign({ sub: 'u1', role: 'root', email: 'a@x.test' }, { issuer: 'lantern' }),
    ],
    [
      'patient without record',
      new JwtService({ secret }).sign({ sub: 'u1', role: 'patient', email: 'a@x.test' }, { issuer: 'lantern' }),
    ],
    [
      'alg none',
      `${Buffer.from('{"alg":"none","typ":"JWT"}').toString('base64url')}.${Buffer.from('{"sub":"u1","role":"admin","email":"a@x.test","iss":"lantern"}').toString('base64url')}.`,
    ],
  ])('refuses a %s token', (_name, token) => {
    expect(() => service.verify(token)).toThrow(UnauthorizedError);
  });
});
