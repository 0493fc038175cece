import { io, type Socket } from 'socket.io-client';
import type { LiveClientToServerEvents, LiveServerToClientEvents } from '@lantern/domain';

export type LiveClient = Socket<LiveServerToClientEvents, LiveClientToServerEvents>;

/** Connects to `/live`; resolves when connected, rejects with the server's connect error. */
export async function connectLive(url: string, token: unknown): Promise<LiveClient> {
  const socket: LiveClient = io(`${url}/live`, {
    auth: token === undefined ? {} : { token },
    transports: ['websocket'],
    reconnection: false,
    forceNew: true,
  });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', () => resolve());
    socket.once('connect_error', (error) => {
      socket.close();
      reject(error);
    });
  });
  return socket;
}

/** Sends `subscribe`/`unsubscribe` (or anything else) and resolves with the acknowledgement. */
export function ask(socket: LiveClient, event: 'subscribe' | 'unsubscribe', body: unknown): Promise<unknown> {
  return (
    socket.timeout(5000) as unknown as { emitWithAck(event: string, body: unknown): Promise<unknown> }
  ).emitWithAck(event, body);
}

/** Collects every server event a socket receives, by name. */
export function record(socket: LiveClient): Record<keyof LiveServerToClientEvents, unknown[]> {
  const seen: Record<keyof LiveServerToClientEvents, unknown[]> = {
    reading: [],
    alert: [],
    device: [],
    notification: [],
    unauthorized: [],
  };
  socket.on('reading', (e) => seen.reading.push(e));
  socket.on('alert', (e) => seen.alert.push(e));
  socket.on('device', (e) => seen.device.push(e));
  socket.on('notification', (e) => seen.notification.push(e));
  socket.on('unauthorized', (e) => seen.unauthorized.push(e));
  return seen;
}
