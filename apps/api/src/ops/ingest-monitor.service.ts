import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { LANTERN_CONFIG, type LanternConfig } from '@lantern/config';
import { WebhookOutboxService } from '@lantern/messaging';
import { IngestInstanceRepository, WebhookDeliveryRepository } from '@lantern/storage';
import { judgeIngest, type IngestVerdict } from './ingest-health.js';
import { registerOpsMetrics } from './ops.metrics.js';

/** How often the api judges the ingest on its own (for the log and the webhook); /health judges on every call. */
export const INGEST_MONITOR_MS = 5000;
/** Instances silent for longer than this are no longer listed (a client id retired without an orderly stop). */
const FORGET_AFTER_MS = 10 * 60_000;

/** The body POSTed to ALERT_WEBHOOK_URL when monitoring itself stops or recovers. */
export interface SystemAlertWebhookBody {
  readonly id: string;
  readonly event: 'system.monitoring_stalled' | 'system.monitoring_recovered';
  readonly sentAt: string;
  readonly ingest: { readonly status: IngestVerdict['status']; readonly problems: readonly string[] };
}

/**
 * Watches that monitoring works: judges the ingest instances' heartbeats (see judgeIngest) for
 * `/health`, and on every change between working and not working logs it and sends a system alert
 * to the webhook through the outbox (whose delivery the api takes over when the ingest is dead): a
 * stalled ingest cannot be trusted to say so itself.
 */
@Injectable()
export class IngestMonitorService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('IngestMonitor');
  private timer: NodeJS.Timeout | undefined;
  /** Status at the last periodic check (undefined before the first). */
  private lastStatus: IngestVerdict['status'] | undefined;
  private unregisterMetrics: () => void = () => undefined;

  constructor(
    @Inject(LANTERN_CONFIG) private readonly config: LanternConfig,
    private readonly instances: IngestInstanceRepository,
    private readonly outbox: WebhookOutboxService,
    private readonly deliveries: WebhookDeliveryRepository,
  ) {}

  onApplicationBootstrap(): void {
    this.unregisterMetrics = registerOpsMetrics({
      monitoringUp: () => (this.lastStatus === 'up' ? 1 : 0),
      undeliveredWebhooks: () => this.deliveries.countUndelivered(),
    });
    if (!this.config.healthRequireIngest) return;
    this.timer = setInterval(() => {
      this.watch().catch((error: unknown) => this.logger.debug(`Ingest check failed: ${(error as Error).message}`));
    }, INGEST_MONITOR_MS);
    this.timer.unref();
  }

  onApplicationShutdown(): void {
    this.unregisterMetrics();
    if (this.timer) clearInterval(this.timer);
  }

  /** The ingest's state now (throws when the database cannot be read). */
  async check(): Promise<IngestVerdict> {
    const stallAfter = this.config.ingestStallAfterMs;
    const { now, instances } = await this.instances.recent(Math.max(FORGET_AFTER_MS, 3 * stallAfter));
    return judgeIngest(now, instances, stallAfter);
  }

  /** One periodic check: a change of status is logged and sent to the webhook. Public for tests. */
  async watch(): Promise<IngestVerdict> {
    const verdict = await this.check();
    const working = verdict.status === 'up';
    const wasWorking = this.lastStatus === undefined ? true : this.lastStatus === 'up';
    this.lastStatus = verdict.status;
    if (working !== wasWorking) {
      if (working) this.logger.log('Monitoring recovered: the ingest is consuming again');
      else this.logger.error(`Monitoring stalled: ${verdict.problems.join('; ')}`);
      this.sendSystemAlert(working ? 'system.monitoring_recovered' : 'system.monitoring_stalled', verdict);
    }
    return verdict;
  }

  private sendSystemAlert(event: SystemAlertWebhookBody['event'], verdict: IngestVerdict): void {
    const sentAt = new Date().toISOString();
    this.outbox.enqueue(event, (id): SystemAlertWebhookBody => ({
      id,
      event,
      sentAt,
      ingest: { status: verdict.status, problems: verdict.problems },
    }));
  }
}
