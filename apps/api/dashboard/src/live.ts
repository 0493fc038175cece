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

/**
 * The `/live` connection (contract §2): one socket per page, subscriptions kept by patient and
 * renewed after every reconnect, events fanned out to the views that listen.
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
  status: LiveStatus = 'connecting';

  constructor(token: string, onUnauthorized: () => void) {
    this.socket = io(LIVE_NAMESPACE, { auth: { token }, transports: ['websocket', 'polling'] });
    this.socket.on('connect', () => {
      this.setStatus('live');
      for (const patientId of this.watched) void this.sendSubscribe(patientId);
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

  onStatus(listener: (status: LiveStatus) => void): () => void {
    this.statusListeners.add(listener);
    listener(this.status);
    return () => this.statusListeners.delete(listener);
  }

  close(): void {
    this.socket.close();
  }

  private sendSubscribe(patientId: string): Promise<SubscribeAck> {
    return new Promise((resolve) => this.socket.emit('subscribe', { patientId }, resolve));
  }

  private setStatus(status: LiveStatus): void {
    this.status = status;
    for (const listener of this.statusListeners) listener(status);
  }
}
