import { Inject, Injectable } from '@nestjs/common';
import { LANTERN_CONFIG, type LanternConfig } from '@lantern/config';
import { postWebhook } from '@lantern/messaging';
import {
  PermanentDeliveryError,
  type OutboundChannel,
  type PendingDelivery,
  type SendResult,
} from '../delivery-channel.js';

const TIMEOUT_MS = 5000;

/** The body of the chain's webhook tier: the alert, the tier, and the delivery id receivers deduplicate by. */
export interface EscalationWebhookBody {
  readonly id: string;
  readonly event: 'alert.escalation';
  readonly tier: number;
  readonly sentAt: string;
  readonly alert: PendingDelivery['alert'];
}

/**
 * The chain's webhook tier, to ALERT_WEBHOOK_URL, signed like every other webhook of Lantern
 * (libs/messaging postWebhook). The receiver's 2xx is the receipt. A 4xx other than 408/429 is a
 * refusal retrying cannot cure.
 */
@Injectable()
export class WebhookChannel implements OutboundChannel {
  readonly channel = 'webhook';

  constructor(@Inject(LANTERN_CONFIG) private readonly config: LanternConfig) {}

  get enabled(): boolean {
    return this.config.alertWebhookUrl !== undefined;
  }

  async send(delivery: PendingDelivery): Promise<SendResult> {
    const body: EscalationWebhookBody = {
      id: delivery.id,
      event: 'alert.escalation',
      tier: delivery.tier,
      sentAt: new Date().toISOString(),
      alert: delivery.alert,
    };
    let failure: { reason: string; status?: number } | undefined;
    const ok = await postWebhook(
      { url: this.config.alertWebhookUrl!, secret: this.config.alertWebhookSecret, timeoutMs: TIMEOUT_MS },
      { id: delivery.id, event: body.event, body: JSON.stringify(body) },
      (reason, status) => (failure = { reason, status }),
    );
    if (ok) return { delivered: true };
    const status = failure?.status;
    const reason = `webhook ${failure?.reason ?? 'failed'}`;
    if (status !== undefined && status >= 400 && status < 500 && status !== 408 && status !== 429)
      throw new PermanentDeliveryError(reason);
    throw new Error(reason);
  }
}
