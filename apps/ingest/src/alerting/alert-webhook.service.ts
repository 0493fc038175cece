import { randomUUID } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import type { AlertResource } from '@lantern/domain';
import type { AlertTransitionKind } from '@lantern/alerting';
import { WebhookOutboxService } from '@lantern/messaging';
import type { AlertWebhookDelivery } from '@lantern/storage';

/** The body POSTed to ALERT_WEBHOOK_URL for each alert transition. */
export interface AlertWebhookBody {
  readonly id: string;
  readonly event: `alert.${AlertTransitionKind}`;
  readonly sentAt: string;
  readonly alert: AlertResource;
}

/**
 * Alert transitions for ALERT_WEBHOOK_URL, through the durable outbox (WebhookOutboxService):
 * stored, then POSTed signed and in order, retried with backoff, each ending delivered or failed
 * where an admin can see it (`GET /api/v1/webhook-deliveries`). Receivers deduplicate by the `id`
 * field / `X-Lantern-Delivery` header (at least once).
 */
@Injectable()
export class AlertWebhookService {
  constructor(private readonly outbox: WebhookOutboxService) {}

  get enabled(): boolean {
    return this.outbox.enabled;
  }

  /**
   * The outbox row of one transition, for the alert writer to store in the same statement as the
   * alert (undefined without ALERT_WEBHOOK_URL). `nudge` once it is stored.
   */
  delivery(kind: AlertTransitionKind, alert: AlertResource, now = Date.now()): AlertWebhookDelivery | undefined {
    if (!this.outbox.enabled) return undefined;
    const id = randomUUID();
    const event = `alert.${kind}` as const;
    const body: AlertWebhookBody = { id, event, sentAt: new Date(now).toISOString(), alert };
    return { id, event, body: JSON.stringify(body), alertId: alert.id };
  }

  /** Deliveries were stored with their alerts: deliver them now rather than at the next poll. */
  nudge(): void {
    this.outbox.nudge();
  }

  /** Queues one transition for delivery (no-op without ALERT_WEBHOOK_URL). */
  send(kind: AlertTransitionKind, alert: AlertResource, now = Date.now()): void {
    const event = `alert.${kind}` as const;
    this.outbox.enqueue(event, (id): AlertWebhookBody => ({ id, event, sentAt: new Date(now).toISOString(), alert }));
  }
}
