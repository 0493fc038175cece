import type { AlertResource, PatientNotificationResource } from './alert.js';
import type { MetricKey } from './metric-catalog.js';

/** `reading` event: a live value in canonical unit. */
export interface LiveReadingEvent {
  patientId: string;
  deviceId: string;
  metric: MetricKey;
  value: number;
  unit: string;
  ts: string;
}

/** `device` event: status change of a device. */
export interface LiveDeviceEvent {
  patientId: string;
  deviceId: string;
  online: boolean;
  battery: number | null;
  lastSeenAt: string | null;
}

export type SubscribeAck = { ok: true } | { ok: false; error: 'not_found' | 'bad_request' };

/** Server → client events on the `/live` namespace (contract §2); shared by server, simulator, dashboard, tests. */
export interface LiveServerToClientEvents {
  reading: (event: LiveReadingEvent) => void;
  alert: (event: AlertResource) => void;
  device: (event: LiveDeviceEvent) => void;
  notification: (event: PatientNotificationResource) => void;
}

/** Client → server events on `/live`, each with an acknowledgement. */
export interface LiveClientToServerEvents {
  subscribe: (message: { patientId: string }, ack: (answer: SubscribeAck) => void) => void;
  unsubscribe: (message: { patientId: string }, ack: (answer: SubscribeAck) => void) => void;
}

export const LIVE_NAMESPACE = '/live';
