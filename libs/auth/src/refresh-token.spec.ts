import { describe, expect, it } from '@jest/globals';
import type { RefreshTokenFacts, SessionRecord, UserRecord } from '@lantern/storage';
import { decideRotation, generateRefreshToken, hashRefreshToken } from './refresh-token.js';

const NOW = new Date(Date.UTC(2026, 11, 10, 9, 0, 0));
const user: UserRecord = {
  id: 'u1',
  email: 'dr@clinic.test',
  role: 'clinician',
  displayName: 'Dr',
  createdAt: new Date(Date.UTC(2026, 0, 1)),
};
const session: SessionRecord = {
  id: 's1',
  userId: 'u1',
  createdAt: new Date(Date.UTC(2026, 11, 1)),
  refreshedAt: new Date(Date.UTC(2026, 11, 10, 8, 45)),
  expiresAt: new Date(Date.UTC(2027, 0, 9, 8, 45)),
};

function facts(
  overrides: { spent?: boolean; session?: Partial<SessionRecord>; user?: Partial<UserRecord> } = {},
): RefreshTokenFacts {
  return {
    spent: overrides.spent ?? false,
    session: { ...session, ...overrides.session },
    user: { ...user, ...overrides.user },
  };
}

describe('decideRotation', () => {
  it('exchanges the current token of a live login', () => {
    expect(decideRotation(facts(), NOW)).toEqual({ decision: 'rotate' });
  });

  it('revokes the whole login when a spent token comes back (a stolen copy)', () => {
    expect(decideRotation(facts({ spent: true }), NOW)).toEqual({ decision: 'revoke_family' });
  });

  it.each([
    ['revoked', { session: { revokedAt: new Date(Date.UTC(2026, 11, 10, 8, 50)), revokedReason: 'logout' as const } }],
    ['expired', { session: { expiresAt: NOW } }],
    ['disabled', { user: { disabledAt: new Date(Date.UTC(2026, 11, 10, 8, 0)) } }],
  ] as const)('refuses every token of a login that is over: %s', (reason, overrides) => {
    expect(decideRotation(facts(overrides), NOW)).toEqual({ decision: 'refuse', reason });
    // A spent token of an ended login is refused too, not "revoked again".
    expect(decideRotation(facts({ ...overrides, spent: true }), NOW)).toEqual({ decision: 'refuse', reason });
  });

  it('still rotates a millisecond before the login expires', () => {
    expect(decideRotation(facts({ session: { expiresAt: new Date(NOW.getTime() + 1) } }), NOW)).toEqual({
      decision: 'rotate',
    });
  });
});

describe('refresh tokens', () => {
  it('are 256 random bits, URL-safe, never the same twice', () => {
    const tokens = new Set(Array.from({ length: 1000 }, generateRefreshToken));
    expect(tokens.size).toBe(1000);
    for (const token of tokens) expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });

  it('are stored as SHA-256 hex, never in clear', () => {
    expect(hashRefreshToken('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    expect(hashRefreshToken('abc')).not.toContain('abc');
  });
});
