import { io, type Socket } from 'socket.io-client';
import {
  LIVE_NAMESPACE,
  type LiveClientToServerEvents,
  type LiveServerToClientEvents,
  type SubscribeAck,
} from '@lantern/domain';

type LiveSocket = Socket<LiveServerToClientEvents, LiveClientToServerEvents>;
type Handlers = { [E in keyof LiveServerToClientEvents]: Set<LiveServerToClientEvents[E]> };
export type LiveStatus = 'connecting' | 'live' | 'offline';

/** How long a subscribe waits for the server's answer before it counts as lost with the connection. */
const SUBSCRIBE_TIMEOUT_MS = 10_000;

/**
 * The `/live` connection (contract §2): one socket per page, subscriptions kept by patient and
 * renewed after every reconnect, events fanned out to the views that listen. Events sent while
 * the socket was down are lost, so `onConnect` tells the views when to catch up over REST.
 */
export class LiveConnection {
  private readonly socket: LiveSocket;
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

  constructor(token: string, onUnauthorized: () => void) {
    this.socket = io(LIVE_NAMESPACE, { auth: { token }, transports: ['websocket', 'polling'] });
    this.socket.on('connect', () => {
      this.setStatus('live');
      // Catching up must start only once the renewed subscriptions hold, or an event between
      // the REST snapshot and the subscription would still be lost.
      void Promise.all([...this.watched].map((patientId) => this.sendSubscribe(patientId))).then(() => {
        if (!this.socket.connected) return;
        for (const listener of this.connectListeners) listener();
      });
    });
    this.socket.on('disconnect', () => this.setStatus('offline'));
    this.socket.on('connect_error', (err) => {
      this.setStatus('offline');
      if (err.message === 'unauthorized') onUnauthorized();
    });
    for (const event of Object.keys(this.handlers) as (keyof LiveServerToClientEvents)[]) {
      this.socket.on(event, ((payload: never) => {
        for (const handler of this.handlers[event]) {
          // One failing view must not stop the others from hearing the event.
          try {
            (handler as (p: never) => void)(payload);
          } catch (error) {
            console.warn('live handler failed', error);
          }
        }
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

  on<E extends keyof LiveServerToClientEvents>(event: E, handler: LiveServerToClientEvents[E]): () => void {
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
    this.socket.close();
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
