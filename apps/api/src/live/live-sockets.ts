import { Injectable, Logger } from '@nestjs/common';
import type { Namespace, Socket } from 'socket.io';
import type { SessionPrincipal } from '@lantern/auth';
import type {
  LiveClientToServerEvents,
  LiveServerToClientEvents,
  LiveUnauthorizedEvent,
  SubscribeAck,
} from '@lantern/domain';
import { patientSelfRoom, watchersRoom } from './live-broadcaster.js';

export interface LiveSocketData {
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

export type LiveNamespace = Namespace<
  LiveClientToServerEvents,
  LiveServerToClientEvents,
  Record<string, never>,
  LiveSocketData
>;
export type LiveSocket = Socket<
  LiveClientToServerEvents,
  LiveServerToClientEvents,
  Record<string, never>,
  LiveSocketData
>;

/**
 * The logger context of everything `/live` logs. The gateway's helpers keep the gateway's name, so
 * the log lines read as they did when the gateway did all of it (operators filter on it).
 */
export const LIVE_LOG_CONTEXT = 'LiveGateway';

const PERSON_ROOM_PREFIX = 'user:';
/** Socket.IO room of every socket of one person (user id), joined at connection. */
const personRoom = (userId: string): string => `${PERSON_ROOM_PREFIX}${userId}`;

/**
 * This instance's sockets of `/live` and the rooms they are in: the gateway hands the namespace
 * over at init, and the helpers around it (authentication, subscriptions, broadcasting) reach the
 * sockets only through here. Owns the room bookkeeping that is not a routing rule: the person's
 * room joined at connection, the rooms left when a subscription ends, and closing a socket.
 */
@Injectable()
export class LiveSockets {
  private readonly logger = new Logger(LIVE_LOG_CONTEXT);
  private attached?: LiveNamespace;

  /** The gateway's namespace, once Socket.IO has created it. */
  attach(namespace: LiveNamespace): void {
    this.attached = namespace;
  }

  /** The namespace; throws before the gateway is initialised. */
  get namespace(): LiveNamespace {
    if (this.attached === undefined) throw new Error('the /live namespace is not initialised yet');
    return this.attached;
  }

  /** Every socket connected to this instance. */
  all(): IterableIterator<LiveSocket> {
    return this.namespace.sockets.values();
  }

  /** Joins the room of the socket's person, at connection. */
  joinPerson(socket: LiveSocket): void {
    void socket.join(personRoom(socket.data.principal.userId));
  }

  /** The people with a socket on this instance (user ids). */
  connectedPeople(): string[] {
    const ids: string[] = [];
    for (const room of this.namespace.adapter.rooms.keys())
      if (room.startsWith(PERSON_ROOM_PREFIX)) ids.push(room.slice(PERSON_ROOM_PREFIX.length));
    return ids;
  }

  /** The sockets of one person on this instance. */
  socketsOf(userId: string): LiveSocket[] {
    const ids = this.namespace.adapter.rooms.get(personRoom(userId)) ?? new Set<string>();
    const sockets: LiveSocket[] = [];
    for (const id of ids) {
      const socket = this.namespace.sockets.get(id);
      if (socket) sockets.push(socket);
    }
    return sockets;
  }

  /** Leaves the rooms joined for the patient's subscription. */
  async leaveRooms(socket: LiveSocket, patientId: string): Promise<void> {
    const rooms = socket.data.rooms.get(patientId) ?? [watchersRoom(patientId), patientSelfRoom(patientId)];
    socket.data.rooms.delete(patientId);
    for (const room of rooms) await socket.leave(room);
  }

  /** Tells the client why (`unauthorized`), then closes the socket; Socket.IO delivers the event first. */
  end(socket: LiveSocket, reason: LiveUnauthorizedEvent['reason']): void {
    if (!socket.connected) return;
    this.logger.debug(`closing socket of session ${socket.data.principal.sessionId}: ${reason}`);
    socket.emit('unauthorized', { reason });
    socket.disconnect(true);
  }
}
