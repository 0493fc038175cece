import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { toAlertResource } from '@lantern/alerting';
import { AlertDeliveryRepository, type ClaimedDelivery } from '@lantern/storage';
import {
  OUTBOUND_CHANNELS,
  PermanentDeliveryError,
  type OutboundChannel,
  type PendingDelivery,
} from './delivery-channel.js';
import { DeliveryReceipts } from './delivery-receipts.js';
import { deliveryOutcomes } from './escalation.metrics.js';

/** Waits before each retry of a delivery whose channel failed for now (the last one ends it failed). */
export const DELIVERY_RETRY_MS = [1000, 5000, 15_000, 30_000, 60_000, 120_000];
const POLL_MS = 500;
const BATCH = 20;
/** A dispatcher that claimed deliveries and died leaves them to another after this. */
const CLAIM_MS = 60_000;
/** One send may take no longer (the channels have shorter timeouts of their own). */
const SEND_TIMEOUT_MS = 30_000;

/**
 * Sends the chain's outbound deliveries — push, e-mail, webhook — through their channels: claims
 * due rows (one dispatcher per row, across api instances), sends them concurrently, and records each
 * outcome: delivered when the channel's receipt came with the send (SMTP acceptance, webhook 2xx),
 * handed over when the receipt comes later from the recipient's device (push), retried with backoff
 * when the channel failed for now, failed when it cannot succeed or the retries ran out. A failure
 * is recorded on the delivery (`failedAt`, `error`), where the timeline, metrics and the chain see
 * it: a tier none of whose deliveries got through lets the next tier start at once.
 */
@Injectable()
export class DeliveryDispatcher implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('Deliveries');
  private closed = false;
  private loop: Promise<void> | undefined;
  private wake: (() => void) | undefined;
  private readonly outcomes = deliveryOutcomes();

  constructor(
    private readonly deliveries: AlertDeliveryRepository,
    @Inject(OUTBOUND_CHANNELS) private readonly channels: readonly OutboundChannel[],
    private readonly receipts: DeliveryReceipts,
  ) {}

  onApplicationBootstrap(): void {
    this.loop = this.run();
  }

  async onApplicationShutdown(): Promise<void> {
    this.closed = true;
    this.wake?.();
    await this.loop;
  }

  /** Deliveries were stored: look now rather than at the next poll. */
  nudge(): void {
    this.wake?.();
  }

  private async run(): Promise<void> {
    const enabled = this.channels.filter((c) => c.enabled);
    if (enabled.length === 0) return;
    const byName = new Map(enabled.map((c) => [c.channel, c]));
    let failing = false;
    while (!this.closed) {
      let claimed: ClaimedDelivery[] = [];
      try {
        claimed = await this.deliveries.claimOutbound([...byName.keys()], BATCH, CLAIM_MS);
        if (failing) this.logger.log('Deliveries resumed');
        failing = false;
        await Promise.all(claimed.map((d) => this.deliver(byName.get(d.channel as OutboundChannel['channel'])!, d)));
      } catch (error) {
        if (!failing) this.logger.error(`Deliveries cannot be claimed: ${(error as Error).message}`);
        failing = true;
      }
      if (claimed.length < BATCH) await this.sleep(POLL_MS);
    }
  }

  private async deliver(channel: OutboundChannel, claimed: ClaimedDelivery): Promise<void> {
    const delivery: PendingDelivery = {
      id: claimed.id,
      alertId: claimed.alert.id,
      patientId: claimed.alert.patientId,
      patientName: claimed.patientName,
      tier: claimed.tier,
      recipient: {
        ...(claimed.recipientId === null ? {} : { id: claimed.recipientId }),
        role: claimed.recipientRole,
        ...(claimed.recipientName === null ? {} : { name: claimed.recipientName }),
      },
      channel: channel.channel,
      target: claimed.target,
      attempts: claimed.attempts,
      alert: toAlertResource(claimed.alert),
      receiptToken: this.receipts.token(claimed.id),
    };
    let outcome: Parameters<AlertDeliveryRepository['recordAttempt']>[1];
    try {
      const result = await withTimeout(channel.send(delivery), SEND_TIMEOUT_MS);
      outcome = result.delivered ? { kind: 'delivered' } : { kind: 'handed-over' };
    } catch (error) {
      const message = (error as Error).message;
      const retry = DELIVERY_RETRY_MS[claimed.attempts];
      outcome =
        error instanceof PermanentDeliveryError || retry === undefined
          ? { kind: 'failed', error: message }
          : { kind: 'retry', at: Date.now() + retry, error: message };
      const to = `${channel.channel} delivery ${claimed.id} (alert ${claimed.alert.id}, ${claimed.recipientRole})`;
      if (outcome.kind === 'failed') this.logger.error(`${to} failed: ${message}`);
      else this.logger.warn(`${to} failed, retrying in ${retry} ms: ${message}`);
    }
    this.outcomes.inc({ channel: channel.channel, outcome: outcome.kind });
    // The claim runs out if this fails: the delivery is tried again, never lost.
    await this.deliveries
      .recordAttempt(claimed.id, outcome)
      .catch((error: unknown) =>
        this.logger.warn(`Outcome of delivery ${claimed.id} not stored: ${(error as Error).message}`),
      );
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }
}

function withTimeout<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}
