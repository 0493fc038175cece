import { Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { toAlertResource } from '@lantern/alerting';
import { AlertDeliveryRepository } from '@lantern/storage';
import { SocketBroadcaster } from '../live/socket-broadcaster.js';
import { deliveryOutcomes } from './escalation.metrics.js';

const POLL_MS = 500;
/** A delivery not acknowledged is emitted again after this (a socket that reconnected, a lost packet). */
const RETRY_MS = 5000;

/**
 * The chain's socket channel, in each api instance: emits the pending socket deliveries of the
 * people connected here to their sockets (SocketBroadcaster.deliverToPerson), and records the first
 * client acknowledgement as the delivery's receipt. A person not connected anywhere keeps the
 * delivery pending until they connect or it expires (EscalationChainService); a client that
 * receives but does not acknowledge gets it again every few seconds until then.
 */
@Injectable()
export class SocketDeliveries implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('SocketDeliveries');
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  private failing = false;
  private readonly outcomes = deliveryOutcomes();

  constructor(
    private readonly deliveries: AlertDeliveryRepository,
    private readonly broadcaster: SocketBroadcaster,
  ) {}

  onApplicationBootstrap(): void {
    this.timer = setInterval(() => void this.flush(), POLL_MS);
    this.timer.unref();
  }

  onApplicationShutdown(): void {
    clearInterval(this.timer);
  }

  /** Deliveries were stored: emit now rather than at the next poll. */
  nudge(): void {
    void this.flush();
  }

  async flush(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      const due = await this.deliveries.claimSocket(this.broadcaster.connectedPeople(), RETRY_MS);
      for (const delivery of due)
        this.broadcaster.deliverToPerson(delivery.recipientId, toAlertResource(delivery.alert), () => {
          void this.deliveries.receipt(delivery.id, 'delivered').then(
            () => this.outcomes.inc({ channel: 'socket', outcome: 'delivered' }),
            (error: unknown) =>
              this.logger.warn(`Receipt of delivery ${delivery.id} not stored: ${(error as Error).message}`),
          );
        });
      this.failing = false;
    } catch (error) {
      if (!this.failing) this.logger.error(`Socket deliveries cannot be read: ${(error as Error).message}`);
      this.failing = true;
    } finally {
      this.running = false;
    }
  }
}
