import {
  SIGNAL_GROUPS,
  signalGroupOf,
  type LiveServerToClientEvents,
  type SharingScope,
  type SignalGroup,
} from '@lantern/domain';

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
  /** Only to the patient's own sockets (role patient, same patient) that subscribed to themselves, and caregivers shown notifications. */
  toPatientSelf(patientId: string, ...args: Parameters<LiveServerToClientEvents['notification']>): void;
}

/** Socket.IO room of a patient's watchers who see everything (admin, care team, the patient). */
export const watchersRoom = (patientId: string): string => `patient:${patientId}`;

/** Socket.IO room of a patient's own sockets. */
export const patientSelfRoom = (patientId: string): string => `self:${patientId}`;

/**
 * Rooms of caregivers' sockets, one per audience of an event (contract §4.2): a reading of a signal
 * group, an alert about a signal group (or about no metric), a device, a notification. A caregiver's
 * socket joins the rooms its scopes see ({@link sharedRoomsOf}); an event goes to the room of its
 * audience ({@link sharedAudienceOf}) besides the full watchers' room. What may be seen is decided
 * by libs/domain (sharesMetric, sharesAlert); these two functions only encode it as room names, and
 * live-broadcaster.spec.ts checks that both say the same.
 */
const sharedRoom = (patientId: string, audience: string): string => `shared:${patientId}:${audience}`;

/** The rooms a caregiver's socket watching the patient with these scopes joins. */
export function sharedRoomsOf(patientId: string, scopes: ReadonlySet<SharingScope>): string[] {
  const groups = [...scopes].filter((s): s is SignalGroup => s in SIGNAL_GROUPS);
  const audiences: string[] = [...groups];
  if (scopes.has('alerts')) audiences.push('alerts', ...groups.map((g) => `alerts:${g}`));
  if (scopes.has('devices')) audiences.push('devices');
  if (scopes.has('notifications')) audiences.push('notifications');
  return audiences.map((a) => sharedRoom(patientId, a));
}

/** The caregivers' room an event about the patient goes to; undefined when no caregiver may see it. */
export function sharedAudienceOf(
  patientId: string,
  event: keyof LiveServerToClientEvents,
  payload: { readonly metric?: string | null },
): string | undefined {
  switch (event) {
    case 'reading': {
      const group = payload.metric == null ? undefined : signalGroupOf(payload.metric);
      return group === undefined ? undefined : sharedRoom(patientId, group);
    }
    case 'alert': {
      if (payload.metric == null) return sharedRoom(patientId, 'alerts');
      const group = signalGroupOf(payload.metric);
      return group === undefined ? undefined : sharedRoom(patientId, `alerts:${group}`);
    }
    case 'device':
      return sharedRoom(patientId, 'devices');
    case 'notification':
      return sharedRoom(patientId, 'notifications');
    case 'unauthorized':
      return undefined;
  }
}
