import type { AlertPriority } from '@lantern/domain';
import { careHeadline } from '../alert-words.js';
import type { PendingDelivery } from '../delivery-channel.js';

/**
 * What the service worker receives (encrypted end to end: the push service sees none of it). Words
 * for the notification, and what it needs to send its receipt to POST {@link receiptUrl}.
 */
export interface PushPayload {
  readonly deliveryId: string;
  readonly receiptToken: string;
  readonly receiptUrl: string;
  readonly title: string;
  readonly body: string;
  readonly alertId: string;
  readonly patientId: string;
  readonly priority: AlertPriority;
}

/** The patient's own words for an alert: its notification (spec/alerting.md §5), when the alert opened one. */
export interface PatientText {
  readonly title: string;
  readonly body: string;
}

/** Push services take about 4 KB of encrypted payload; the words are cut well before that. */
const MAX_TITLE = 120;
const MAX_BODY = 600;

const cut = (text: string, max: number): string => (text.length <= max ? text : `${text.slice(0, max - 1)}…`);

/**
 * The payload of one push delivery. The patient reads the notification Lantern already wrote for
 * them (the same words as in their view, never a second text); without one, a plain pointer to the
 * app. Caregivers and clinicians read the patient's name and the alert's message — rule, value,
 * threshold — exactly what their board or shared view shows, nothing more.
 */
export function pushPayload(delivery: PendingDelivery, patientText: PatientText | undefined): PushPayload {
  const { alert } = delivery;
  const words =
    delivery.recipient.role === 'patient'
      ? (patientText ?? {
          title: 'Lantern has an alert for you',
          body: 'Open Lantern to see it. Your care team has been told.',
        })
      : { title: careHeadline(alert, delivery.patientName), body: alert.message };
  return {
    deliveryId: delivery.id,
    receiptToken: delivery.receiptToken,
    receiptUrl: `/api/v1/deliveries/${delivery.id}/receipt`,
    title: cut(words.title, MAX_TITLE),
    body: cut(words.body, MAX_BODY),
    alertId: alert.id,
    patientId: alert.patientId,
    priority: alert.priority,
  };
}

/**
 * How long a push service keeps a message for an unreachable browser (RFC 8030 TTL) and how hard it
 * wakes the device (Urgency). A high alert wakes at once and is worth showing for an hour — past that
 * the chain has long moved on to other people; lower ones may wait for the device's next wake-up.
 */
export function pushDeliveryOptions(priority: AlertPriority): { ttlSec: number; urgency: 'high' | 'normal' | 'low' } {
  switch (priority) {
    case 'high':
      return { ttlSec: 3600, urgency: 'high' };
    case 'medium':
      return { ttlSec: 4 * 3600, urgency: 'normal' };
    case 'low':
      return { ttlSec: 12 * 3600, urgency: 'low' };
  }
}
