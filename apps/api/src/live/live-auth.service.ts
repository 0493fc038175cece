import { Injectable, Logger, type OnModuleDestroy } from '@nestjs/common';
import type { ExtendedError } from 'socket.io';
import { AccessTokenService, SessionService, type SessionPrincipal } from '@lantern/auth';
import type { AuthenticateAck } from '@lantern/domain';
import { SESSION_RECHECK_MS } from './live-intervals.js';
import { LIVE_LOG_CONTEXT, LiveSockets, type LiveSocket } from './live-sockets.js';
import { LiveSubscriptionsService } from './live-subscriptions.service.js';

/** setTimeout's limit; tokens living longer are re-armed on the next check instead. */
const MAX_TIMER_MS = 2 ** 31 - 1;

const AUTH_REFUSED: AuthenticateAck = { ok: false, error: 'unauthorized' };

/**
 * A `/live` socket lives only as long as its login and its access token (contract §4.1): checks the
 * handshake's token, takes a renewed one (`authenticate`), and closes the socket when its token
 * expires, when its login is revoked here (at once) or on another instance (found by the sweep
 * every SESSION_RECHECK_MS, which also brings caregivers' subscriptions in line with their shares).
 */
@Injectable()
export class LiveAuthService implements OnModuleDestroy {
  private readonly logger = new Logger(LIVE_LOG_CONTEXT);
  private readonly sessionTimer: NodeJS.Timeout;
  private readonly stopRevocations: () => void;
  private sweeping = false;

  constructor(
    private readonly tokens: AccessTokenService,
    private readonly sessions: SessionService,
    private readonly sockets: LiveSockets,
    private readonly subscriptions: LiveSubscriptionsService,
  ) {
    this.sessionTimer = setInterval(() => void this.sweepSessions(), SESSION_RECHECK_MS);
    this.sessionTimer.unref();
    this.stopRevocations = this.sessions.onRevoked((ids) => this.endSessions(new Set(ids)));
  }

  onModuleDestroy(): void {
    clearInterval(this.sessionTimer);
    this.stopRevocations();
  }

  /** The namespace middleware: admits a handshake whose `auth.token` is a valid token of a live login. */
  handshake(socket: LiveSocket, next: (error?: ExtendedError) => void): void {
    const auth: unknown = socket.handshake.auth;
    const token = typeof auth === 'object' && auth !== null ? (auth as { token?: unknown }).token : undefined;
    this.authenticated(token)
      .then((principal) => {
        socket.data.principal = principal;
        socket.data.expiresAt = tokenExpiry(token as string);
        socket.data.patients = new Set();
        socket.data.rooms = new Map();
        socket.data.pending = new Map();
        next();
      })
      // One message for every cause, as the contract says: nothing to learn from probing.
      .catch(() => next(new Error('unauthorized')));
  }

  /**
   * A renewed access token for the socket: it must be valid, of a live login, of the same user and
   * role; the socket then lives until the new token expires.
   */
  async renew(socket: LiveSocket, token: string): Promise<AuthenticateAck> {
    try {
      const principal = await this.authenticated(token);
      const current = socket.data.principal;
      if (principal.userId !== current.userId || principal.role !== current.role) return AUTH_REFUSED;
      socket.data.principal = principal;
      socket.data.expiresAt = tokenExpiry(token);
      this.armExpiry(socket);
      return { ok: true };
    } catch {
      return AUTH_REFUSED;
    }
  }

  /** A socket lives no longer than the token it runs on, unless `authenticate` renews it. */
  armExpiry(socket: LiveSocket): void {
    if (socket.data.expiry) clearTimeout(socket.data.expiry);
    socket.data.expiry = undefined;
    const { expiresAt } = socket.data;
    if (expiresAt === undefined) return;
    socket.data.expiry = setTimeout(
      () => this.sockets.end(socket, 'expired'),
      Math.min(MAX_TIMER_MS, Math.max(0, expiresAt - Date.now())),
    );
    socket.data.expiry.unref();
  }

  /** Stops the expiry timer of a socket that disconnected. */
  disarm(socket: LiveSocket): void {
    if (socket.data.expiry) clearTimeout(socket.data.expiry);
  }

  /**
   * Closes this instance's sockets whose login is no longer live (revoked on another instance,
   * user disabled or re-roled there). A failed query keeps them until the next sweep: a revocation
   * needs the database too, so none can have happened that this sweep would miss for long.
   */
  async sweepSessions(): Promise<void> {
    if (this.sweeping) return;
    this.sweeping = true;
    try {
      const sockets = [...this.sockets.all()].filter((s) => s.data.principal !== undefined);
      if (sockets.length === 0) return;
      const live = await this.sessions.stillLive(sockets.map((s) => s.data.principal));
      // A socket re-authenticated during the query is judged by its new principal at the next sweep.
      for (const socket of sockets) if (!live.has(socket.data.principal)) this.sockets.end(socket, 'revoked');
      // Shares changed on another api instance: caregivers' subscriptions follow within this interval too.
      await this.subscriptions.reconcileShares();
    } catch (error) {
      this.logger.warn(`live session sweep failed (retried in ${SESSION_RECHECK_MS} ms): ${String(error)}`);
    } finally {
      this.sweeping = false;
    }
  }

  /** The principal of a valid access token of a live login; throws otherwise. */
  private async authenticated(token: unknown): Promise<SessionPrincipal> {
    const principal = this.tokens.verify(typeof token === 'string' ? token : undefined);
    await this.sessions.assertActive(principal);
    return principal;
  }

  /** Closes the sockets of these logins on this instance (revoked here: at once). */
  private endSessions(sessionIds: ReadonlySet<string>): void {
    for (const socket of this.sockets.all())
      if (sessionIds.has(socket.data.principal?.sessionId)) this.sockets.end(socket, 'revoked');
  }
}

/** The `exp` of a token already verified, in epoch ms; undefined when it has none. */
function tokenExpiry(token: string): number | undefined {
  try {
    const payload: unknown = JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8'));
    const exp = (payload as { exp?: unknown }).exp;
    return typeof exp === 'number' ? exp * 1000 : undefined;
  } catch {
    return undefined;
  }
}
