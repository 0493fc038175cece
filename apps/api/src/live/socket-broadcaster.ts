import { Injectable } from '@nestjs/common';
import type { Socket } from 'socket.io';
import type { AlertResource, LiveServerToClientEvents } from '@lantern/domain';
import {
  patientSelfRoom,
  sharedAudienceOf,
  watchersRoom,
  type LiveBroadcaster,
  type WatcherEvent,
} from './live-broadcaster.js';
import { LiveSockets } from './live-sockets.js';

/** How long a socket has to acknowledge a delivery before it is emitted again. */
const DELIVERY_ACK_MS = 10_000;

/**
 * Sends to this instance's sockets: the routed broker events to the rooms of a patient's audiences
 * (the {@link LiveBroadcaster} the routing service emits through), and the escalation chain's
 * socket deliveries to each socket of one person, with the people connected here to choose them.
 */
@Injectable()
export class SocketBroadcaster implements LiveBroadcaster {
  constructor(private readonly sockets: LiveSockets) {}

  /** The people with a socket on this instance (user ids). */
  connectedPeople(): string[] {
    return this.sockets.connectedPeople();
  }

  /**
   * One socket delivery of the escalation chain (contract §4.3): the alert to each socket of the
   * person on this instance, each with an acknowledgement callback. `onReceipt` runs for every
   * socket that acknowledges `{ ok: true }` (the first is the receipt; recording it is idempotent).
   */
  deliverToPerson(userId: string, alert: AlertResource, onReceipt: () => void): number {
    let sent = 0;
    for (const socket of this.sockets.socketsOf(userId)) {
      sent += 1;
      // Socket.IO's types do not carry an optional acknowledgement through timeout(): emit untyped.
      (socket as Socket)
        .timeout(DELIVERY_ACK_MS)
        .emit('alert', alert, (error: Error | null, reply?: { ok?: unknown }) => {
          if (!error && reply?.ok === true) onReceipt();
        });
    }
    return sent;
  }

  toWatchers<E extends WatcherEvent>(
    patientId: string,
    event: E,
    ...args: Parameters<LiveServerToClientEvents[E]>
  ): void {
    const shared = sharedAudienceOf(patientId, event, args[0] as { metric?: string | null });
    // One emit to both rooms: Socket.IO sends once to a socket that is in both.
    this.sockets.namespace
      .to(shared === undefined ? watchersRoom(patientId) : [watchersRoom(patientId), shared])
      .emit(event, ...args);
  }

  toPatientSelf(patientId: string, ...args: Parameters<LiveServerToClientEvents['notification']>): void {
    const shared = sharedAudienceOf(patientId, 'notification', {});
    this.sockets.namespace
      .to([patientSelfRoom(patientId), ...(shared === undefined ? [] : [shared])])
      .emit('notification', ...args);
  }
}
