import { Inject, Injectable, Logger, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { LANTERN_CONFIG, type LanternConfig } from '@lantern/config';
import { UnauthorizedError } from '@lantern/domain';
import {
  SessionRepository,
  Transactions,
  UserRepository,
  type UserCredentials,
  type UserRecord,
} from '@lantern/storage';
import { AccessTokenService, type SessionPrincipal } from './access-token.service.js';
import { AuditService } from './audit.service.js';
import type { Principal } from './principal.js';
import { decideRotation, generateRefreshToken, hashRefreshToken } from './refresh-token.js';

/** Where a request came from: kept with the login and in the audit log. */
export interface ClientInfo {
  readonly ip?: string;
  readonly userAgent?: string;
}

/** What a login or a refresh hands out (contract §4.1 `{ accessToken, refreshToken, expiresIn, user }`). */
export interface IssuedSession {
  readonly accessToken: string;
  readonly refreshToken: string;
  /** Seconds until the access token expires. */
  readonly expiresIn: number;
  readonly sessionId: string;
  readonly user: UserRecord;
}

/** What identifies the login to end at logout; any one suffices. */
export interface LogoutCredentials {
  readonly refreshToken?: string;
  /** The refresh token came from the browser's cookie, not from the caller's own request body. */
  readonly refreshTokenFromCookie?: boolean;
  /** An access token, verified here (logout is a public route: it must work with an expired token too). */
  readonly accessToken?: string;
}

/** The same answer for every refused refresh: nothing to learn about the token from probing. */
const REFRESH_REFUSED = 'Invalid or expired refresh token';
const SESSION_ENDED = 'Session ended; sign in again';
const PRUNE_EVERY_MS = 3_600_000;

/** The principal a user record signs in as, in login `sessionId` when given. */
export function principalOf(user: UserRecord, sessionId?: string): Principal {
  return {
    userId: user.id,
    role: user.role,
    email: user.email,
    ...(user.patientId !== undefined && { patientId: user.patientId }),
    ...(sessionId !== undefined && { sessionId }),
  };
}

/**
 * Logins that can be revoked (contract §4.1, docs/security.md "Sessions"): short access tokens
 * naming their login, rotating refresh tokens stored only as hashes, reuse detection, logout, and
 * the liveness check every request and socket goes through. Revocations made in this process are
 * announced at once to {@link onRevoked} listeners (the socket gateway closes those sockets); other
 * processes learn them from the database — on the next request, or at the gateway's next sweep.
 */
@Injectable()
export class SessionService implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger('Sessions');
  private readonly listeners = new Set<(sessionIds: readonly string[]) => void>();
  private readonly refreshTtlMs: number;
  private pruneTimer?: NodeJS.Timeout;

  constructor(
    private readonly sessions: SessionRepository,
    private readonly users: UserRepository,
    private readonly tokens: AccessTokenService,
    private readonly audit: AuditService,
    private readonly transactions: Transactions,
    @Inject(LANTERN_CONFIG) config: LanternConfig,
  ) {
    this.refreshTtlMs = config.refreshTokenTtl;
  }

  onModuleInit(): void {
    // Every api instance prunes; the deletes are idempotent, so running them twice costs nothing.
    this.pruneTimer = setInterval(() => void this.prune(), PRUNE_EVERY_MS);
    this.pruneTimer.unref();
  }

  onModuleDestroy(): void {
    clearInterval(this.pruneTimer);
    this.listeners.clear();
  }

  /**
   * Starts a login for `user`, whose password was just verified against `user.passwordHash`.
   * Unauthorized when the account changed meanwhile (disabled, password changed).
   */
  async start(user: UserCredentials, client: ClientInfo): Promise<IssuedSession> {
    const refreshToken = generateRefreshToken();
    const created = await this.sessions.create({
      userId: user.id,
      verifiedPasswordHash: user.passwordHash,
      tokenHash: hashRefreshToken(refreshToken),
      ttlMs: this.refreshTtlMs,
      ...client,
    });
    if (created === undefined) throw new UnauthorizedError('Invalid e-mail or password');
    return this.issue(created.user, created.session.id, refreshToken);
  }

  /**
   * Exchanges a refresh token for a new pair; the old one is spent. A spent token presented again
   * revokes the whole login (audited as `auth.refresh_reuse`). Every refusal is the same 401.
   */
  async refresh(refreshToken: string, client: ClientInfo): Promise<IssuedSession> {
    const next = generateRefreshToken();
    const now = new Date();
    let refusal: string | undefined;
    // The revocation of a reused token's login and its audit entry are one transaction.
    const result = await this.transactions.run(async () => {
      const rotation = await this.sessions.rotate(
        hashRefreshToken(refreshToken),
        hashRefreshToken(next),
        this.refreshTtlMs,
        (facts) => {
          const { decision, reason } = decideRotation(facts, now);
          refusal = reason;
          return decision;
        },
      );
      if (rotation.outcome === 'family_revoked')
        await this.audit.record(
          { principal: principalOf(rotation.user, rotation.session.id), ip: client.ip },
          {
            action: 'auth.refresh_reuse',
            resource: 'session',
            resourceId: rotation.session.id,
            details: { userAgent: client.userAgent },
          },
        );
      return rotation;
    });
    switch (result.outcome) {
      case 'rotated':
        return this.issue(result.user, result.session.id, next);
      case 'family_revoked':
        this.logger.warn(`refresh token of session ${result.session.id} presented twice: login revoked`);
        this.announceRevoked([result.session.id]);
        throw new UnauthorizedError(REFRESH_REFUSED);
      case 'refused':
        this.logger.debug(`refresh refused: ${refusal ?? 'unknown token'}`);
        throw new UnauthorizedError(REFRESH_REFUSED);
    }
  }

  /**
   * Ends a login; unknown or already ended logins are ignored, so logout is idempotent.
   * - A refresh token in the body (current or spent) names exactly the login to end (contract §4.1).
   * - Otherwise the access token (even expired) names one, and the browser's refresh cookie another
   *   when it is the same user's (a tab that signed in again); a cookie of another user — someone
   *   else signed in on this browser since — is left alone.
   */
  async logout(credentials: LogoutCredentials, client: ClientInfo): Promise<void> {
    const explicit = credentials.refreshToken !== undefined && credentials.refreshTokenFromCookie !== true;
    const byAccess =
      credentials.accessToken && !explicit ? this.tokens.verifyIgnoringExpiry(credentials.accessToken) : undefined;
    const byRefresh = credentials.refreshToken
      ? await this.sessions.findByTokenHash(hashRefreshToken(credentials.refreshToken))
      : undefined;
    const targets = new Set<string>();
    if (byAccess !== undefined) targets.add(byAccess.sessionId);
    if (byRefresh !== undefined && (byAccess === undefined || byRefresh.userId === byAccess.userId))
      targets.add(byRefresh.id);
    for (const sessionId of targets) {
      const ended = await this.transactions.run(async () => {
        const revoked = await this.sessions.revoke(sessionId, 'logout');
        if (revoked === undefined) return undefined;
        const user = await this.users.findById(revoked.userId);
        await this.audit.record(user && { principal: principalOf(user, revoked.id), ip: client.ip }, {
          action: 'auth.logout',
          resource: 'session',
          resourceId: revoked.id,
        });
        return revoked;
      });
      if (ended !== undefined) this.announceRevoked([ended.id]);
    }
  }

  /**
   * Throws UnauthorizedError unless the caller's login is live: not revoked, not expired, its user
   * not disabled and still in the role the token names. One indexed query, on every request.
   */
  async assertActive(principal: Principal): Promise<void> {
    if (principal.sessionId === undefined) throw new UnauthorizedError(SESSION_ENDED);
    const live = (await this.sessions.liveRoles([principal.sessionId])).get(principal.sessionId);
    if (live === undefined || live.userId !== principal.userId || live.role !== principal.role)
      throw new UnauthorizedError(SESSION_ENDED);
  }

  /** Which of `principals`' logins are still live (same rule as {@link assertActive}), in one query. */
  async stillLive(principals: readonly Principal[]): Promise<Set<Principal>> {
    const live = await this.sessions.liveRoles(principals.flatMap((p) => (p.sessionId ? [p.sessionId] : [])));
    return new Set(
      principals.filter((p) => {
        const session = p.sessionId === undefined ? undefined : live.get(p.sessionId);
        return session !== undefined && session.userId === p.userId && session.role === p.role;
      }),
    );
  }

  /** Listens to logins revoked by this process; returns the function that stops listening. */
  onRevoked(listener: (sessionIds: readonly string[]) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Tells this process's listeners that these logins ended (called after the change committed). */
  announceRevoked(sessionIds: readonly string[]): void {
    if (sessionIds.length === 0) return;
    for (const listener of this.listeners) {
      try {
        listener(sessionIds);
      } catch (error) {
        this.logger.error(`revocation listener failed: ${String(error)}`);
      }
    }
  }

  /** Deletes logins ended longer than REFRESH_TOKEN_TTL ago and spent tokens past their lifetime. */
  async prune(): Promise<void> {
    try {
      const { sessions, tokens } = await this.sessions.prune(this.refreshTtlMs);
      if (sessions + tokens > 0) this.logger.log(`pruned ${sessions} ended logins and ${tokens} spent refresh tokens`);
    } catch (error) {
      this.logger.warn(`pruning logins failed (retried in an hour): ${String(error)}`);
    }
  }

  private issue(user: UserRecord, sessionId: string, refreshToken: string): IssuedSession {
    const principal = principalOf(user, sessionId) as SessionPrincipal;
    const { accessToken, expiresIn } = this.tokens.issue(principal);
    return { accessToken, refreshToken, expiresIn, sessionId, user };
  }
}
