import { createHash, randomBytes } from 'node:crypto';
import type { RefreshTokenFacts, RotationDecision } from '@lantern/storage';

/** A new refresh token: 256 random bits, URL-safe, opaque to clients. */
export function generateRefreshToken(): string {
  return randomBytes(32).toString('base64url');
}

/**
 * Stored form of a refresh token: SHA-256 hex. Like a device secret it carries 256 bits of
 * entropy, so a fast hash is as safe as a slow one — and a refresh runs every few minutes per
 * dashboard, where argon2 would cost real CPU for nothing.
 */
export function hashRefreshToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/** Why a refresh token was not exchanged; for logs and the audit, never for the client (always one 401). */
export type RefusalReason = 'revoked' | 'expired' | 'disabled';

/**
 * The rotation rule of contract §4.1, as a function of what the database knows about a presented
 * token (read under lock), so it can be tested without one:
 * - a login that is over (revoked, expired, user disabled) refuses every token of its family;
 * - the family's current (unspent) token is exchanged for a new pair;
 * - a spent token presented again means two parties hold the family — one of them stole it — so the
 *   whole login is revoked and both are signed out.
 */
export function decideRotation(
  facts: RefreshTokenFacts,
  now: Date,
): { readonly decision: RotationDecision; readonly reason?: RefusalReason } {
  if (facts.session.revokedAt !== undefined) return { decision: 'refuse', reason: 'revoked' };
  if (facts.session.expiresAt.getTime() <= now.getTime()) return { decision: 'refuse', reason: 'expired' };
  if (facts.user.disabledAt !== undefined) return { decision: 'refuse', reason: 'disabled' };
  return facts.spent ? { decision: 'revoke_family' } : { decision: 'rotate' };
}
