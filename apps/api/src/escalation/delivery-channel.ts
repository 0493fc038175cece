import type { AlertDeliveryResource, AlertResource } from '@lantern/domain';

/** A delivery the dispatcher hands to an outbound channel (push, e-mail, webhook). */
export interface PendingDelivery {
  readonly id: string;
  readonly alertId: string;
  readonly patientId: string;
  /** The patient's display name, for the message. */
  readonly patientName: string;
  readonly tier: number;
  readonly recipient: AlertDeliveryResource['recipient'];
  readonly channel: OutboundChannelName;
  /** push: the push_subscriptions id; email: the address; webhook: null. */
  readonly target: string | null;
  /** Attempts before this one. */
  readonly attempts: number;
  readonly alert: AlertResource;
  /** The token the recipient's client sends back with its receipt (POST /api/v1/deliveries/:id/receipt). */
  readonly receiptToken: string;
}

export type OutboundChannelName = 'push' | 'email' | 'webhook';

/**
 * What a send learned. `delivered`: the channel's receipt came with the send (SMTP acceptance,
 * webhook 2xx); false: handed over, the receipt comes later from the recipient's client (push).
 */
export interface SendResult {
  readonly delivered: boolean;
}

/** A failure that retrying cannot cure (push subscription gone 404/410, SMTP 5xx, webhook 4xx): ends the delivery failed. */
export class PermanentDeliveryError extends Error {}

/**
 * One outbound channel. `send` throws a PermanentDeliveryError for a failure retrying cannot cure;
 * any other error is retried with backoff by the dispatcher, then ends failed.
 */
export interface OutboundChannel {
  readonly channel: OutboundChannelName;
  /** False when not configured (no SMTP_URL, no ALERT_WEBHOOK_URL): the tier creates no such deliveries. */
  readonly enabled: boolean;
  send(delivery: PendingDelivery): Promise<SendResult>;
}

/** Nest token of the list of outbound channels. */
export const OUTBOUND_CHANNELS = Symbol('OUTBOUND_CHANNELS');
