import { io, type Socket } from 'socket.io-client';
import {
  LIVE_NAMESPACE,
  type LiveClientToServerEvents,
  type LiveReceipt,
  type LiveServerToClientEvents,
  type SubscribeAck,
} from '@lantern/domain';

type LiveSocket = Socket<LiveServerToClientEvents, LiveClientToServerEvents>;
/**
 * The events views listen to, payload only: `unauthorized` is the connection's own business, and so
 * are the receipts of `alert` and `notification`, sent once per event whatever the views do.
 */
type ViewEvents = {
  [E in Exclude<keyof LiveServerToClientEvents, 'unauthorized'>]: (
    event: Parameters<LiveServerToClientEvents[E]>[0],
  ) => void;
};
/** Events the server may ask a receipt for (contract §4.3). */
const RECEIPTED: ReadonlySet<string> = new Set(['alert', 'notification'] satisfies (keyof ViewEvents)[]);
type Handlers = { [E in keyof ViewEvents]: Set<ViewEvents[E]> };
export type LiveStatus = 'connecting' | 'live' | 'offline';

/** How the connection keeps its access token valid, and says when the login is over. */
export interface LiveAuth {
  /** A renewed access token; null when the login is over; rejects when the server cannot be reached. */
  renew(): Promise<string | null>;
  /** The login was revoked or refused: back to sign-in. */
  revoked(): void;
}

/** How long a subscribe waits for the server's answer before it counts as lost with the connection. */
const SUBSCRIBE_TIMEOUT_MS = 10_000;
/** Retry interval of a token renewal that failed for want of a network. */
const RENEW_RETRY_MS = 5_000;

/**
 * The `/live` connection (contract §2): one socket per page, subscriptions kept by patient and
 * renewed after every reconnect, events fanned out to the views that listen. Events sent while
 * the socket was down are lost, so `onConnect` tells the views when to catch up over REST.
 *
 * Its access token: every renewed token is handed to the open socket (`authenticate`), so the
 * socket outlives the token that opened it; reconnects present the newest. When the server closes
 * the socket as `revoked`, or refuses a handshake with a freshly renewed token, the login is over.
 */
export class LiveConnection {
  private readonly socket: LiveSocket;
  private token: string;
  private closed = false;
  private recovering = false;
  /** The last handshake was refused and a renewed token has been tried since. */
  private refusedOnce = false;
  private readonly watched = new Set<string>();
  private readonly handlers: Handlers = {
    reading: new Set(),
    alert: new Set(),
    device: new Set(),
    notification: new Set(),
  };
  private readonly statusListeners = new Set<(status: LiveStatus) => void>();
  private readonly connectListeners = new Set<() => void>();
  status: LiveStatus = 'connecting';

  constructor(
    token: string,
    private readonly auth: LiveAuth,
  ) {
    this.token = token;
    // A function, so that every reconnect presents the newest token.
    this.socket = io(LIVE_NAMESPACE, {
      auth: (cb) => cb({ token: this.token }),
      transports: ['websocket', 'polling'],
    });
    this.socket.on('connect', () => {
      this.refusedOnce = false;
      this.setStatus('live');
      // Catching up must start only once the renewed subscriptions hold, or an event between
      // the REST snapshot and the subscription would still be lost.
      void Promise.all([...this.watched].map((patientId) => this.sendSubscribe(patientId))).then(() => {
        if (!this.socket.connected) return;
        for (const listener of this.connectListeners) listener();
      });
    });
    this.socket.on('disconnect', (reason) => {
      this.setStatus('offline');
      // The server closed us on purpose (token expired, login revoked): Socket.IO will not reconnect by itself.
      if (reason === 'io server disconnect') void this.recover();
    });
    this.socket.on('connect_error', (err) => {
      this.setStatus('offline');
      if (err.message !== 'unauthorized') return;
      // Nor after a refused handshake. Once with a renewed token (it may have lapsed while the laptop slept); twice is final.
      if (this.refusedOnce) this.auth.revoked();
      else {
        this.refusedOnce = true;
        void this.recover();
      }
    });
    this.socket.on('unauthorized', ({ reason }) => {
      if (reason === 'revoked') this.auth.revoked();
      // 'expired': the disconnect that follows renews the token and reconnects.
    });
    for (const event of Object.keys(this.handlers) as (keyof ViewEvents)[]) {
      this.socket.on(event, ((payload: never, ack?: unknown) => {
        for (const handler of this.handlers[event]) {
          // One failing view must not stop the others from hearing the event.
          try {
            (handler as (p: never) => void)(payload);
          } catch (error) {
            console.warn('live handler failed', error);
          }
        }
        // The receipt says the event reached this page (the socket channel's deliveredAt), after the
        // views had it: the store merged it, the alarm sounded, the list shows it.
        if (RECEIPTED.has(event) && typeof ack === 'function') (ack as LiveReceipt)({ ok: true });
      }) as never);
    }
  }

  /** Watches a patient; resolves with the server's answer (or `offline` before the first connect). */
  subscribe(patientId: string): Promise<SubscribeAck | 'offline'> {
    this.watched.add(patientId);
    return this.socket.connected ? this.sendSubscribe(patientId) : Promise.resolve('offline');
  }

  unsubscribe(patientId: string): void {
    if (!this.watched.delete(patientId) || !this.socket.connected) return;
    this.socket.emit('unsubscribe', { patientId }, () => undefined);
  }

  /** Stops watching everything but `keep`. */
  retain(keep: Iterable<string>): void {
    const set = new Set(keep);
    for (const id of [...this.watched]) if (!set.has(id)) this.unsubscribe(id);
  }

  on<E extends keyof ViewEvents>(event: E, handler: ViewEvents[E]): () => void {
    this.handlers[event].add(handler);
    return () => this.handlers[event].delete(handler);
  }

  /** Called after every connect (the first one too), once the watched patients are subscribed again. */
  onConnect(listener: () => void): () => void {
    this.connectListeners.add(listener);
    return () => this.connectListeners.delete(listener);
  }

  onStatus(listener: (status: LiveStatus) => void): () => void {
    this.statusListeners.add(listener);
    listener(this.status);
    return () => this.statusListeners.delete(listener);
  }

  close(): void {
    this.closed = true;
    this.socket.close();
  }

  /** A renewed access token: used by every reconnect, and handed to the open socket at once. */
  setToken(token: string): void {
    this.token = token;
    if (!this.socket.connected) return;
    // A refusal needs no action here: the socket then ends at its old token's expiry and `recover` decides.
    this.socket.timeout(SUBSCRIBE_TIMEOUT_MS).emit('authenticate', { token }, (err: Error | null, ack) => {
      if (!err && !ack.ok) console.warn('live: renewed token refused', ack.error);
    });
  }

  /** Renews the token and reconnects; the login is over when no token can be had. */
  private async recover(): Promise<void> {
    if (this.recovering || this.closed) return;
    this.recovering = true;
    try {
      const token = await this.auth.renew();
      if (this.closed) return;
      if (token === null) return this.auth.revoked();
      this.token = token;
      this.socket.connect();
    } catch {
      // The server is unreachable: try again shortly (Socket.IO's own reconnection is off after a server close).
      window.setTimeout(() => void this.recover(), RENEW_RETRY_MS);
    } finally {
      this.recovering = false;
    }
  }

  /** `offline` when the connection drops before the answer (acks are never answered across a reconnect). */
  private sendSubscribe(patientId: string): Promise<SubscribeAck | 'offline'> {
    return new Promise((resolve) =>
      this.socket
        .timeout(SUBSCRIBE_TIMEOUT_MS)
        .emit('subscribe', { patientId }, (err: Error | null, ack: SubscribeAck) => resolve(err ? 'offline' : ack)),
    );
  }

  private setStatus(status: LiveStatus): void {
    this.status = status;
    for (const listener of this.statusListeners) listener(status);
  }
}
