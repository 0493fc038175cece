import { randomUUID } from 'node:crypto';
import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { LANTERN_CONFIG, type LanternConfig } from '@lantern/config';
import { LeaseRepository, WebhookDeliveryRepository, type NewWebhookDelivery } from '@lantern/storage';
import { postWebhook } from './webhook.js';

/** Delays between attempts of a delivery the receiver did not take (network error, 5xx, 408, 429). */
export const WEBHOOK_RETRY_DELAYS_MS = [1000, 2000, 4000, 8000, 16_000, 32_000, 60_000, 120_000, 300_000, 300_000];
const LEASE = 'webhook-delivery';
const LEASE_TTL_MS = 15_000;
/** How often a process without the lease (or with nothing to send) looks again. */
const IDLE_POLL_MS = 1000;
const TIMEOUT_MS = 5000;
/** Deliveries waiting in memory for their insert (a database outage) beyond this are dropped, oldest first. */
const MAX_UNSTORED = 10_000;

/**
 * The durable webhook outbox (ALERT_WEBHOOK_URL): `enqueue` stores a delivery in
 * `webhook_deliveries`; one process at a time — whichever holds the `webhook-delivery` lease, the
 * ingest or the api — POSTs them signed, in order, each until the receiver takes it (2xx), retried
 * with backoff on network errors, 5xx, 408 and 429, and ended `failed` after the last retry or at
 * once on any other 4xx (the receiver refuses that body: retrying would hold every later delivery).
 * A restart loses nothing stored; a holder that dies is replaced when its lease runs out.
 */
@Injectable()
export class WebhookOutboxService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('WebhookOutbox');
  private readonly holder = `${process.pid}-${randomUUID().slice(0, 8)}`;
  private unstored: NewWebhookDelivery[] = [];
  private storing: Promise<void> | undefined;
  private running = false;
  private closed = false;
  private wake: (() => void) | undefined;
  delivered = 0;
  failed = 0;

  constructor(
    @Inject(LANTERN_CONFIG) private readonly config: LanternConfig,
    private readonly deliveries: WebhookDeliveryRepository,
    private readonly leases: LeaseRepository,
  ) {}

  get enabled(): boolean {
    return this.config.alertWebhookUrl !== undefined;
  }

  onApplicationBootstrap(): void {
    if (this.enabled) void this.run();
  }

  async onApplicationShutdown(): Promise<void> {
    this.closed = true;
    this.wake?.();
    await this.flush().catch(() => undefined);
    await this.leases.release(LEASE, this.holder).catch(() => undefined);
  }

  /** Queues one delivery (no-op without ALERT_WEBHOOK_URL); stored at once, retried while the database is down. */
  enqueue(event: string, payload: (id: string) => object): void {
    if (!this.enabled || this.closed) return;
    const id = randomUUID();
    if (this.unstored.length >= MAX_UNSTORED) {
      this.unstored.shift();
      this.logger.error('Webhook deliveries dropped: the database has refused them for too long');
    }
    this.unstored.push({ id, event, body: JSON.stringify(payload(id)) });
    void this.flush().catch(() => undefined);
  }

  /** Deliveries were stored by someone else (with their alerts): look for them now. */
  nudge(): void {
    this.wake?.();
  }

  /** Stores what `enqueue` took, in order; resolves once stored (tests, shutdown). */
  async flush(): Promise<void> {
    while (this.storing) await this.storing;
    if (this.unstored.length === 0) return;
    const batch = this.unstored;
    this.unstored = [];
    this.storing = this.deliveries.enqueue(batch).then(
      () => this.wake?.(),
      (error: unknown) => {
        this.unstored = [...batch, ...this.unstored];
        this.logger.warn(`Storing ${batch.length} webhook deliveries failed (retrying): ${(error as Error).message}`);
        setTimeout(() => void this.flush().catch(() => undefined), 1000).unref();
        throw error;
      },
    );
    try {
      await this.storing;
    } finally {
      this.storing = undefined;
    }
  }

  private async run(): Promise<void> {
    if (this.running) return;
    this.running = true;
    while (!this.closed) {
      let wait = IDLE_POLL_MS;
      try {
        if (await this.leases.tryAcquire(LEASE, this.holder, LEASE_TTL_MS)) wait = await this.deliverHead();
      } catch (error) {
        this.logger.warn(`Webhook outbox: ${(error as Error).message}`);
      }
      await this.sleep(wait);
    }
    this.running = false;
  }

  /** Sends the oldest pending delivery if due; returns how long to wait before the next look. */
  private async deliverHead(): Promise<number> {
    const { now, delivery } = await this.deliveries.head();
    if (!delivery) return IDLE_POLL_MS;
    if (delivery.nextAttemptAt > now) return Math.min(delivery.nextAttemptAt - now, LEASE_TTL_MS / 3);
    const failure: { reason: string; status?: number } = { reason: '' };
    const ok = await postWebhook(
      { url: this.config.alertWebhookUrl!, secret: this.config.alertWebhookSecret, timeoutMs: TIMEOUT_MS },
      delivery,
      (reason, status) => Object.assign(failure, { reason, status }),
    );
    const attempts = delivery.attempts + 1;
    if (ok) {
      await this.deliveries.markDelivered(delivery.id, attempts);
      this.delivered += 1;
      return 0;
    }
    const { reason, status } = failure;
    const permanent = status !== undefined && status >= 400 && status < 500 && status !== 408 && status !== 429;
    const retryIn = permanent ? undefined : WEBHOOK_RETRY_DELAYS_MS[attempts - 1];
    await this.deliveries.markAttemptFailed(delivery.id, attempts, reason, retryIn);
    if (retryIn === undefined) {
      this.failed += 1;
      this.logger.error(
        `Webhook delivery ${delivery.id} (${delivery.event}) failed for good after ${attempts} attempts: ${reason}`,
      );
      return 0;
    }
    if (attempts === 1 || attempts % 5 === 0)
      this.logger.warn(`Webhook ${reason} for ${delivery.id} (attempt ${attempts}, retrying in ${retryIn} ms)`);
    return Math.min(retryIn, LEASE_TTL_MS / 3);
  }

  private sleep(ms: number): Promise<void> {
    if (ms <= 0 || this.closed) return Promise.resolve();
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
