import { createHmac, randomUUID } from 'node:crypto';
import { Inject, Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import { LANTERN_CONFIG, type LanternConfig } from '@lantern/config';
import type { AlertResource } from '@lantern/domain';
import type { AlertTransitionKind } from '@lantern/alerting';

/** Delays between delivery attempts; after the last one the delivery is dropped and logged. */
export const WEBHOOK_RETRY_DELAYS_MS = [1000, 2000, 4000, 8000, 16_000, 32_000];
/** Deliveries waiting beyond this are dropped (oldest first) rather than growing memory without bound. */
const MAX_QUEUED = 10_000;
const TIMEOUT_MS = 5000;

/** The body POSTed to ALERT_WEBHOOK_URL for each alert transition. */
export interface AlertWebhookBody {
  readonly id: string;
  readonly event: `alert.${AlertTransitionKind}`;
  readonly sentAt: string;
  readonly alert: AlertResource;
}

/** `X-Lantern-Signature` value: `sha256=` + hex HMAC-SHA256 of the raw body with ALERT_WEBHOOK_SECRET. */
export function webhookSignature(secret: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

interface Delivery {
  readonly body: string;
  readonly id: string;
  readonly event: string;
  attempt: number;
}

/**
 * POSTs alert transitions to ALERT_WEBHOOK_URL, signed, in order, retried with backoff. Never blocks
 * the stream: deliveries are queued in memory and sent by one background loop (at-least-once while
 * the process lives; receivers deduplicate by the `id` field / `X-Lantern-Delivery` header).
 */
@Injectable()
export class AlertWebhookService implements OnApplicationShutdown {
  private readonly logger = new Logger('AlertWebhook');
  private readonly queue: Delivery[] = [];
  private running = false;
  private closed = false;
  private wake: (() => void) | undefined;
  delivered = 0;
  dropped = 0;

  constructor(@Inject(LANTERN_CONFIG) private readonly config: LanternConfig) {}

  get enabled(): boolean {
    return this.config.alertWebhookUrl !== undefined;
  }

  /** Queues one transition for delivery (no-op without ALERT_WEBHOOK_URL). */
  send(kind: AlertTransitionKind, alert: AlertResource, now = Date.now()): void {
    if (!this.enabled || this.closed) return;
    const payload: AlertWebhookBody = {
      id: randomUUID(),
      event: `alert.${kind}`,
      sentAt: new Date(now).toISOString(),
      alert,
    };
    if (this.queue.length >= MAX_QUEUED) {
      this.queue.shift();
      this.dropped += 1;
    }
    this.queue.push({ body: JSON.stringify(payload), id: payload.id, event: payload.event, attempt: 0 });
    if (!this.running) void this.run();
  }

  onApplicationShutdown(): void {
    this.closed = true;
    this.wake?.();
  }

  private async run(): Promise<void> {
    this.running = true;
    try {
      while (this.queue.length > 0 && !this.closed) {
        const delivery = this.queue[0];
        if (await this.post(delivery)) {
          this.queue.shift();
          this.delivered += 1;
          continue;
        }
        delivery.attempt += 1;
        if (delivery.attempt > WEBHOOK_RETRY_DELAYS_MS.length) {
          this.queue.shift();
          this.dropped += 1;
          this.logger.error(
            `Webhook delivery ${delivery.id} (${delivery.event}) dropped after ${delivery.attempt} attempts`,
          );
          continue;
        }
        await this.sleep(WEBHOOK_RETRY_DELAYS_MS[delivery.attempt - 1]);
      }
    } finally {
      this.running = false;
    }
  }

  private async post(delivery: Delivery): Promise<boolean> {
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      'x-lantern-event': delivery.event,
      'x-lantern-delivery': delivery.id,
    };
    if (this.config.alertWebhookSecret)
      headers['x-lantern-signature'] = webhookSignature(this.config.alertWebhookSecret, delivery.body);
    try {
      const response = await fetch(this.config.alertWebhookUrl!, {
        method: 'POST',
        headers,
        body: delivery.body,
        signal: AbortSignal.timeout(TIMEOUT_MS),
      });
      await response.arrayBuffer().catch(() => undefined);
      if (response.ok) return true;
      this.logger.warn(`Webhook answered ${response.status} for ${delivery.id} (attempt ${delivery.attempt + 1})`);
      return false;
    } catch (error) {
      this.logger.warn(
        `Webhook unreachable for ${delivery.id} (attempt ${delivery.attempt + 1}): ${(error as Error).message}`,
      );
      return false;
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      timer.unref();
      this.wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }
}
