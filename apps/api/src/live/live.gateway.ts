import { Logger, type OnModuleDestroy } from '@nestjs/common';
import {
  ConnectedSocket,
  MessageBody,
  SubscribeMessage,
  WebSocketGateway,
  WebSocketServer,
  type OnGatewayConnection,
  type OnGatewayDisconnect,
  type OnGatewayInit,
} from '@nestjs/websockets';
import type { Namespace, Socket } from 'socket.io';
import {
  AccessTokenService,
  SessionService,
  ShareChanges,
  type PatientGrant,
  type SessionPrincipal,
  type ShareChange,
} from '@lantern/auth';
import {
  LIVE_NAMESPACE,
  type AlertResource,
  type AuthenticateAck,
  type LiveClientToServerEvents,
  type LiveServerToClientEvents,
  type LiveUnauthorizedEvent,
  type SharingScope,
  type SubscribeAck,
} from '@lantern/domain';
import {
  patientSelfRoom,
  sharedAudienceOf,
  sharedRoomsOf,
  watchersRoom,
  type LiveBroadcaster,
  type WatcherEvent,
} from './live-broadcaster.js';
import { LiveService } from './live.service.js';
import { parsePatientMessage } from './live-message.js';

interface LiveSocketData {
  /** Who the socket acts for, in which login; replaced by `authenticate` with a renewed token. */
  principal: SessionPrincipal;
  /** When the access token the socket runs on expires (epoch ms); undefined when it has no `exp`. */
  expiresAt?: number;
  /** Patients this socket subscribed to, released on disconnect. */
  patients: Set<string>;
  /** The rooms joined for each subscribed patient: what the socket's grant on that patient shows. */
  rooms: Map<string, string[]>;
  /** Subscriptions being granted: a repeated subscribe shares the first one's answer instead of counting twice. */
  pending: Map<string, Promise<SubscribeAck>>;
  /** Disconnects the socket when its access token expires. */
  expiry?: NodeJS.Timeout;
}

/** How often every live subscription's visibility is checked again (care-team changes). */
const ACCESS_RECHECK_MS = 30_000;
/**
 * How often every socket's login is checked against the database. A revocation made on this
 * instance closes its sockets at once (SessionService.onRevoked); one made on another api instance
 * is found by this sweep — one query for all sockets — so every socket of a revoked login closes
 * within this interval plus a query, under the 5 s of contract §4.1, broker or no broker.
 */
export const SESSION_RECHECK_MS = 2_000;
/** How long a socket has to acknowledge a delivery before it is emitted again. */
const DELIVERY_ACK_MS = 10_000;
const PERSON_ROOM_PREFIX = 'user:';
/** Socket.IO room of every socket of one person (user id), joined at connection. */
const personRoom = (userId: string): string => `${PERSON_ROOM_PREFIX}${userId}`;
/** setTimeout's limit; tokens living longer are re-armed on the next check instead. */
const MAX_TIMER_MS = 2 ** 31 - 1;

type LiveNamespace = Namespace<
  LiveClientToServerEvents,
  LiveServerToClientEvents,
  Record<string, never>,
  LiveSocketData
>;
type LiveSocket = Socket<LiveClientToServerEvents, LiveServerToClientEvents, Record<string, never>, LiveSocketData>;

const BAD_REQUEST: SubscribeAck = { ok: false, error: 'bad_request' };
const AUTH_REFUSED: AuthenticateAck = { ok: false, error: 'unauthorized' };

/**
 * Socket.IO `/live` (contract §2): authenticates the handshake, turns subscribe/unsubscribe into calls
 * of LiveService, and is the destination of routed events (rooms per patient). Every handler answers
 * its acknowledgement even when the message is garbage; nothing a client sends can drop the connection.
 */
// CORS: CORS_ORIGINS, applied to every gateway by CorsIoAdapter (apps/api/src/security).
@WebSocketGateway({ namespace: LIVE_NAMESPACE })
export class LiveGateway
  implements
    OnGatewayInit<LiveNamespace>,
    OnGatewayConnection<LiveSocket>,
    OnGatewayDisconnect<LiveSocket>,
    OnModuleDestroy,
    LiveBroadcaster
{
  private readonly logger = new Logger(LiveGateway.name);
  private readonly recheckTimer: NodeJS.Timeout;
  private readonly sessionTimer: NodeJS.Timeout;
  private readonly stopRevocations: () => void;
  private readonly stopShareChanges: () => void;
  private sweeping = false;

  @WebSocketServer()
  private readonly namespace!: LiveNamespace;

  constructor(
    private readonly tokens: AccessTokenService,
    private readonly sessions: SessionService,
    private readonly live: LiveService,
    shareChanges: ShareChanges,
  ) {
    this.recheckTimer = setInterval(() => void this.revalidate(), ACCESS_RECHECK_MS);
    this.recheckTimer.unref();
    this.sessionTimer = setInterval(() => void this.sweepSessions(), SESSION_RECHECK_MS);
    this.sessionTimer.unref();
    this.stopRevocations = this.sessions.onRevoked((ids) => this.endSessions(new Set(ids)));
    // A share changed here: that caregiver's sockets follow at once (the sweep catches other instances' changes).
    this.stopShareChanges = shareChanges.onChanged((changes) => void this.reconcileShares(changes));
  }

  onModuleDestroy(): void {
    clearInterval(this.recheckTimer);
    clearInterval(this.sessionTimer);
    this.stopRevocations();
    this.stopShareChanges();
  }

  afterInit(namespace: LiveNamespace): void {
    namespace.use((socket, next) => {
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
    });
    this.live.attach(this);
  }

  handleConnection(socket: LiveSocket): void {
    this.live.socketConnected(socket.data.principal);
    this.armExpiry(socket);
    void socket.join(personRoom(socket.data.principal.userId));
  }

  /** The people with a socket on this instance (user ids). */
  connectedPeople(): string[] {
    const ids: string[] = [];
    for (const room of this.namespace.adapter.rooms.keys())
      if (room.startsWith(PERSON_ROOM_PREFIX)) ids.push(room.slice(PERSON_ROOM_PREFIX.length));
    return ids;
  }

  /**
   * One socket delivery of the escalation chain (contract §4.3): the alert to each socket of the
   * person on this instance, each with an acknowledgement callback. `onReceipt` runs for every
   * socket that acknowledges `{ ok: true }` (the first is the receipt; recording it is idempotent).
   */
  deliverToPerson(userId: string, alert: AlertResource, onReceipt: () => void): number {
    const ids = this.namespace.adapter.rooms.get(personRoom(userId)) ?? new Set<string>();
    let sent = 0;
    for (const id of ids) {
      const socket = this.namespace.sockets.get(id);
      if (!socket) continue;
      sent += 1;
      // Socket.IO's types do not carry an optional acknowledgement through timeout(): emit untyped.
      (socket as Socket).timeout(DELIVERY_ACK_MS).emit('alert', alert, (error: Error | null, reply?: { ok?: unknown }) => {
        if (!error && reply?.ok === true) onReceipt();
      });
    }
    return sent;
  }

  /**
   * `authenticate` `{ token }`: a renewed access token of the same user (the dashboard refreshes
   * before expiry), so the socket outlives the token that opened it without reconnecting and
   * losing events. The new token must be valid, of a live login, of the same user and role.
   */
  @SubscribeMessage('authenticate')
  async authenticate(@ConnectedSocket() socket: LiveSocket, @MessageBody() body: unknown): Promise<AuthenticateAck> {
    const token = typeof body === 'object' && body !== null ? (body as { token?: unknown }).token : undefined;
    if (typeof token !== 'string' || token === '') return { ok: false, error: 'bad_request' };
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

  /**
   * Closes this instance's sockets whose login is no longer live (revoked on another instance,
   * user disabled or re-roled there). A failed query keeps them until the next sweep: a revocation
   * needs the database too, so none can have happened that this sweep would miss for long.
   */
  async sweepSessions(): Promise<void> {
    if (this.sweeping) return;
    this.sweeping = true;
    try {
      const sockets = [...this.namespace.sockets.values()].filter((s) => s.data.principal !== undefined);
      if (sockets.length === 0) return;
      const live = await this.sessions.stillLive(sockets.map((s) => s.data.principal));
      // A socket re-authenticated during the query is judged by its new principal at the next sweep.
      for (const socket of sockets) if (!live.has(socket.data.principal)) this.end(socket, 'revoked');
      // Shares changed on another api instance: caregivers' subscriptions follow within this interval too.
      await this.reconcileShares();
    } catch (error) {
      this.logger.warn(`live session sweep failed (retried in ${SESSION_RECHECK_MS} ms): ${String(error)}`);
    } finally {
      this.sweeping = false;
    }
  }

  async handleDisconnect(socket: LiveSocket): Promise<void> {
    this.live.socketDisconnected();
    if (socket.data.expiry) clearTimeout(socket.data.expiry);
    const patients = socket.data.patients ?? new Set<string>();
    await Promise.all([...patients].map((patientId) => this.live.unsubscribe(patientId)));
    patients.clear();
  }

  @SubscribeMessage('subscribe')
  async subscribe(@ConnectedSocket() socket: LiveSocket, @MessageBody() body: unknown): Promise<SubscribeAck> {
    try {
      const message = parsePatientMessage(body);
      if (!message) return BAD_REQUEST;
      const { patientId } = message;
      if (socket.data.patients.has(patientId)) return { ok: true };
      const pending = socket.data.pending.get(patientId);
      if (pending) return await pending;
      const granting = this.grant(socket, patientId);
      socket.data.pending.set(patientId, granting);
      try {
        return await granting;
      } finally {
        socket.data.pending.delete(patientId);
      }
    } catch (error) {
      this.logger.error(`subscribe failed: ${String(error)}`);
      return BAD_REQUEST;
    }
  }

  private async grant(socket: LiveSocket, patientId: string): Promise<SubscribeAck> {
    const { principal } = socket.data;
    const grant = await this.live.subscribe({ principal, ip: socket.handshake.address }, patientId);
    if (grant === undefined) return { ok: false, error: 'not_found' };
    if (!socket.connected) {
      // Left while we were checking: give the watch back at once (disconnect only releases granted ones).
      await this.live.unsubscribe(patientId);
      return { ok: true };
    }
    socket.data.patients.add(patientId);
    const rooms = roomsOf(principal, patientId, grant);
    socket.data.rooms.set(patientId, rooms);
    await socket.join(rooms);
    return { ok: true };
  }

  /**
   * Brings caregivers' subscriptions on this instance in line with their shares (all of them, or
   * only those of `changes`): a revoked share drops the subscription, changed scopes swap the
   * rooms, so the socket receives only what is shared now. One query for all of them. A failed query
   * keeps the rooms until the next sweep (SESSION_RECHECK_MS), well within the 5 s of contract §4.2.
   */
  async reconcileShares(changes?: readonly ShareChange[]): Promise<void> {
    const wanted = changes && new Set(changes.map((c) => `${c.caregiverId}:${c.patientId}`));
    const subscriptions: { socket: LiveSocket; caregiverId: string; patientId: string }[] = [];
    for (const socket of this.namespace.sockets.values()) {
      const { principal, patients } = socket.data;
      if (principal?.role !== 'caregiver') continue;
      for (const patientId of patients ?? [])
        if (wanted === undefined || wanted.has(`${principal.userId}:${patientId}`))
          subscriptions.push({ socket, caregiverId: principal.userId, patientId });
    }
    if (subscriptions.length === 0) return;
    let scopes: Map<string, SharingScope[]>;
    try {
      scopes = await this.live.sharedScopes(subscriptions);
    } catch (error) {
      this.logger.warn(`caregiver share re-check failed (retried in ${SESSION_RECHECK_MS} ms): ${String(error)}`);
      return;
    }
    await Promise.all(
      subscriptions.map(async ({ socket, caregiverId, patientId }) => {
        // Unsubscribed, or re-authenticated as someone else, while we asked.
        if (!socket.data.patients.has(patientId) || socket.data.principal.userId !== caregiverId) return;
        const shared = scopes.get(`${caregiverId}:${patientId}`);
        if (shared === undefined) {
          socket.data.patients.delete(patientId);
          await this.leaveRooms(socket, patientId);
          await this.live.unsubscribe(patientId);
          return;
        }
        const before = socket.data.rooms.get(patientId) ?? [];
        const after = sharedRoomsOf(patientId, new Set(shared));
        socket.data.rooms.set(patientId, after);
        for (const room of before) if (!after.includes(room)) await socket.leave(room);
        const joining = after.filter((r) => !before.includes(r));
        if (joining.length > 0) await socket.join(joining);
      }),
    );
  }

  @SubscribeMessage('unsubscribe')
  async unsubscribe(@ConnectedSocket() socket: LiveSocket, @MessageBody() body: unknown): Promise<SubscribeAck> {
    try {
      const message = parsePatientMessage(body);
      if (!message) return BAD_REQUEST;
      // A subscribe still being checked settles first, or its grant would land after this answer.
      await socket.data.pending.get(message.patientId);
      // Unsubscribing from something never subscribed is harmless and reveals nothing: always ok.
      if (!socket.data.patients.delete(message.patientId)) return { ok: true };
      await this.leaveRooms(socket, message.patientId);
      await this.live.unsubscribe(message.patientId);
      return { ok: true };
    } catch (error) {
      this.logger.error(`unsubscribe failed: ${String(error)}`);
      return BAD_REQUEST;
    }
  }

  /**
   * Checks every subscription on this instance against the visibility rule again and drops those no
   * longer allowed (a clinician taken off a care team), so access ends within ACCESS_RECHECK_MS.
   */
  async revalidate(): Promise<void> {
    const verdicts = new Map<string, Promise<boolean>>();
    const work: Promise<void>[] = [];
    for (const socket of this.namespace.sockets.values()) {
      const { principal, patients } = socket.data;
      for (const patientId of patients ?? []) {
        const key = `${principal.userId}:${patientId}`;
        if (!verdicts.has(key)) {
          // A database hiccup keeps the subscription (it was granted; dropping every watcher's alerts would be worse) until the next check.
          const verdict = this.live.canWatch(principal, patientId).catch((error: unknown) => {
            this.logger.warn(`live access re-check failed: ${String(error)}`);
            return true;
          });
          verdicts.set(key, verdict);
        }
        work.push(
          verdicts.get(key)!.then(async (allowed) => {
            if (allowed || !socket.data.patients.delete(patientId)) return;
            await this.leaveRooms(socket, patientId);
            await this.live.unsubscribe(patientId);
          }),
        );
      }
    }
    await Promise.all(work);
  }

  /** The principal of a valid access token of a live login; throws otherwise. */
  private async authenticated(token: unknown): Promise<SessionPrincipal> {
    const principal = this.tokens.verify(typeof token === 'string' ? token : undefined);
    await this.sessions.assertActive(principal);
    return principal;
  }

  /** A socket lives no longer than the token it runs on, unless `authenticate` renews it. */
  private armExpiry(socket: LiveSocket): void {
    if (socket.data.expiry) clearTimeout(socket.data.expiry);
    socket.data.expiry = undefined;
    const { expiresAt } = socket.data;
    if (expiresAt === undefined) return;
    socket.data.expiry = setTimeout(
      () => this.end(socket, 'expired'),
      Math.min(MAX_TIMER_MS, Math.max(0, expiresAt - Date.now())),
    );
    socket.data.expiry.unref();
  }

  /** Closes the sockets of these logins on this instance (revoked here: at once). */
  private endSessions(sessionIds: ReadonlySet<string>): void {
    for (const socket of this.namespace.sockets.values())
      if (sessionIds.has(socket.data.principal?.sessionId)) this.end(socket, 'revoked');
  }

  /** Tells the client why (`unauthorized`), then closes the socket; Socket.IO delivers the event first. */
  private end(socket: LiveSocket, reason: LiveUnauthorizedEvent['reason']): void {
    if (!socket.connected) return;
    this.logger.debug(`closing socket of session ${socket.data.principal.sessionId}: ${reason}`);
    socket.emit('unauthorized', { reason });
    socket.disconnect(true);
  }

  private async leaveRooms(socket: LiveSocket, patientId: string): Promise<void> {
    const rooms = socket.data.rooms.get(patientId) ?? [watchersRoom(patientId), patientSelfRoom(patientId)];
    socket.data.rooms.delete(patientId);
    for (const room of rooms) await socket.leave(room);
  }

  toWatchers<E extends WatcherEvent>(
    patientId: string,
    event: E,
    ...args: Parameters<LiveServerToClientEvents[E]>
  ): void {
    const shared = sharedAudienceOf(patientId, event, args[0] as { metric?: string | null });
    // One emit to both rooms: Socket.IO sends once to a socket that is in both.
    this.namespace
      .to(shared === undefined ? watchersRoom(patientId) : [watchersRoom(patientId), shared])
      .emit(event, ...args);
  }

  toPatientSelf(patientId: string, ...args: Parameters<LiveServerToClientEvents['notification']>): void {
    const shared = sharedAudienceOf(patientId, 'notification', {});
    this.namespace
      .to([patientSelfRoom(patientId), ...(shared === undefined ? [] : [shared])])
      .emit('notification', ...args);
  }
}

/** The rooms a socket joins for a granted subscription: everything, or the caregiver's shared audiences. */
function roomsOf(principal: SessionPrincipal, patientId: string, grant: PatientGrant): string[] {
  if (grant.kind === 'shared') return sharedRoomsOf(patientId, grant.scopes);
  const rooms = [watchersRoom(patientId)];
  if (principal.role === 'patient' && principal.patientId === patientId) rooms.push(patientSelfRoom(patientId));
  return rooms;
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
