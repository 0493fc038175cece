import { Inject, Injectable } from '@nestjs/common';
import webpush, { type RequestDetails } from 'web-push';
import { PatientNotificationRepository, PushSubscriptionRepository } from '@lantern/storage';
import {
  PermanentDeliveryError,
  type OutboundChannel,
  type PendingDelivery,
  type SendResult,
} from '../delivery-channel.js';
import { pushDeliveryOptions, pushPayload } from './push-message.js';
import { VAPID_KEYS, type VapidKeys } from './vapid-keys.js';

const TIMEOUT_MS = 10_000;

/**
 * The push channel: one delivery per push subscription (`target` = push_subscriptions.id). web-push
 * signs (VAPID, RFC 8292) and encrypts (aes128gcm, RFC 8291); the request itself is sent here with
 * fetch, with a timeout. The push service's 201 only says it took the message: the receipt is the
 * service worker's POST to /deliveries/:id/receipt, so a send is never `delivered`.
 *
 * 404/410: the browser unsubscribed or the subscription expired — the delivery fails for good and
 * the subscription is marked failed, so no tier sends to it again. 429, 5xx, timeouts and network
 * errors are retried by the dispatcher; another 4xx (a payload or key the service refuses) would
 * be refused again, so it ends the delivery too.
 */
@Injectable()
export class WebPushChannel implements OutboundChannel {
  readonly channel = 'push';
  /** Always on: the VAPID pair is generated when not configured. Whether anyone subscribed is per recipient. */
  readonly enabled = true;

  constructor(
    private readonly subscriptions: PushSubscriptionRepository,
    private readonly notifications: PatientNotificationRepository,
    @Inject(VAPID_KEYS) private readonly vapid: VapidKeys,
  ) {}

  async send(delivery: PendingDelivery): Promise<SendResult> {
    if (delivery.target === null) throw new PermanentDeliveryError('push delivery without a subscription');
    const subscription = await this.subscriptions.findById(delivery.target);
    if (!subscription) throw new PermanentDeliveryError('push subscription removed');
    if (subscription.failedAt !== null) throw new PermanentDeliveryError('push subscription expired');

    const patientText =
      delivery.recipient.role === 'patient'
        ? await this.notifications.firstForAlert(delivery.patientId, delivery.alertId)
        : undefined;
    const payload = pushPayload(delivery, patientText);
    const { ttlSec, urgency } = pushDeliveryOptions(delivery.alert.priority);
    let request: RequestDetails;
    try {
      request = webpush.generateRequestDetails(
        { endpoint: subscription.endpoint, keys: { p256dh: subscription.p256dh, auth: subscription.auth } },
        JSON.stringify(payload),
        { vapidDetails: this.vapid, TTL: ttlSec, urgency },
      );
    } catch (error) {
      // Keys checked at registration cannot fail here; stored ones that do never will succeed.
      throw new PermanentDeliveryError(`push message could not be encrypted: ${(error as Error).message}`);
    }

    let status: number;
    try {
      const response = await fetch(request.endpoint, {
        method: request.method,
        headers: Object.fromEntries(
          Object.entries(request.headers)
            .filter(([name]) => name.toLowerCase() !== 'content-length')
            .map(([name, value]) => [name, String(value)]),
        ),
        body: request.body,
        redirect: 'manual',
        signal: AbortSignal.timeout(TIMEOUT_MS),
      });
      status = response.status;
      await response.body?.cancel();
    } catch (error) {
      throw new Error(`push service unreachable: ${(error as Error).message}`);
    }

    if (status >= 200 && status < 300) {
      await this.subscriptions.markOk(subscription.id);
      return { delivered: false };
    }
    if (status === 404 || status === 410) {
      await this.subscriptions.markFailed(subscription.id);
      throw new PermanentDeliveryError(`push service answered ${status}: the subscription is gone`);
    }
    if (status === 429 || status >= 500) throw new Error(`push service answered ${status}`);
    throw new PermanentDeliveryError(`push service refused the message (${status})`);
  }
}
