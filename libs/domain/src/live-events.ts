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

/** Answer to `authenticate`: the socket now runs on the new access token, or keeps its old one. */
export type AuthenticateAck = { ok: true } | { ok: false; error: 'unauthorized' | 'bad_request' };

/**
 * `unauthorized` event, sent just before the server closes the socket: its login was revoked
 * (logout, password change, disable, role change — sign in again), or its access token expired
 * without being renewed by `authenticate` (refresh, then reconnect).
 */
export interface LiveUnauthorizedEvent {
  reason: 'revoked' | 'expired';
}

/**
 * The receipt a client sends for an `alert` or `notification` (contract §4.3): the socket channel's
 * `deliveredAt`. The server passes it only when it tracks a delivery, so a client checks
 * `typeof ack === 'function'` before calling it.
 */
export type LiveReceipt = (reply: { ok: true }) => void;

/** Server → client events on the `/live` namespace (contract §2); shared by server, simulator, dashboard, tests. */
export interface LiveServerToClientEvents {
  reading: (event: LiveReadingEvent) => void;
  alert: (event: AlertResource, ack?: LiveReceipt) => void;
  device: (event: LiveDeviceEvent) => void;
  notification: (event: PatientNotificationResource, ack?: LiveReceipt) => void;
  unauthorized: (event: LiveUnauthorizedEvent) => void;
}

/** Client → server events on `/live`, each with an acknowledgement. */
export interface LiveClientToServerEvents {
  subscribe: (message: { patientId: string }, ack: (answer: SubscribeAck) => void) => void;
  unsubscribe: (message: { patientId: string }, ack: (answer: SubscribeAck) => void) => void;
  /** Hands the socket a renewed access token of the same user before the old one expires. */
  authenticate: (message: { token: string }, ack: (answer: AuthenticateAck) => void) => void;
}

export const LIVE_NAMESPACE = '/live';
