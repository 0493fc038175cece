import type { LiveServerToClientEvents } from '@lantern/domain';

/** Events every watcher of a patient receives. */
export type WatcherEvent = Exclude<keyof LiveServerToClientEvents, 'notification'>;

/**
 * Where routed events go: implemented by the gateway with Socket.IO rooms, so the routing service
 * never touches sockets and the gateway holds no routing rule.
 */
export interface LiveBroadcaster {
  /** To every socket on this instance that subscribed to the patient. */
  toWatchers<E extends WatcherEvent>(
    patientId: string,
    event: E,
    ...args: Parameters<LiveServerToClientEvents[E]>
  ): void;
  /** Only to the patient's own sockets (role patient, same patient) that subscribed to themselves. */
  toPatientSelf(patientId: string, ...args: Parameters<LiveServerToClientEvents['notification']>): void;
}

/** Socket.IO room of a patient's watchers. */
export const watchersRoom = (patientId: string): string => `patient:${patientId}`;

/** Socket.IO room of a patient's own sockets. */
export const patientSelfRoom = (patientId: string): string => `self:${patientId}`;
