import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { LANTERN_CONFIG, type LanternConfig } from '@lantern/config';
import { toNotificationResource } from '@lantern/domain';
import { PatientEventPublisher, topicsFor } from '@lantern/messaging';
import { PatientNotificationRepository, databaseErrorMessage } from '@lantern/storage';
import { IngestMqttConnection } from '../consumer/ingest-mqtt.connection.js';

/** Held messages claimed per statement; a tick claims again while a claim comes back full. */
const CLAIM_BATCH = 500;

/**
 * Publishes the patient messages held for quiet hours once their window is over (docs/alerting.md,
 * "Quiet hours"): every QUIET_HOURS_RELEASE_MS, one statement claims the due ones
 * (PatientNotificationRepository.releaseDue: each is claimed by exactly one ingest, however many
 * run) and each is published on `…/notifications` as the writer publishes a fresh one — unless a
 * later message of its thread exists, which the patient already has or gets in the same tick. A
 * database outage skips ticks (logged once, and once when it is over); the rows wait, nothing is
 * lost. While the broker connection is down nothing is claimed: a claimed message's event must
 * not be dropped.
 */
@Injectable()
export class QuietHoursReleaseService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('QuietHours');
  private readonly events: PatientEventPublisher;
  private timer: NodeJS.Timeout | undefined;
  private ticking: Promise<void> | undefined;
  private failingSince: number | undefined;
  /** Held messages published so far (tests, logs). */
  released = 0;

  constructor(
    @Inject(LANTERN_CONFIG) private readonly config: LanternConfig,
    private readonly notifications: PatientNotificationRepository,
    private readonly connection: IngestMqttConnection,
  ) {
    this.events = new PatientEventPublisher(connection, topicsFor(config.mqttTopicRoot));
  }

  onApplicationBootstrap(): void {
    this.timer = setInterval(() => {
      this.ticking ??= this.tick().finally(() => (this.ticking = undefined));
    }, this.config.quietHoursReleaseMs);
    this.timer.unref();
  }

  async onApplicationShutdown(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.ticking;
  }

  /** Set while claiming fails (epoch ms of the first failure): the rows wait in the database. */
  get failing(): number | undefined {
    return this.failingSince;
  }

  /** Claims and publishes what is due; never throws. Public for tests. */
  async tick(): Promise<void> {
    if (!this.connection.publishing) return;
    try {
      for (;;) {
        const due = await this.notifications.releaseDue(CLAIM_BATCH);
        for (const n of due) {
          if (n.superseded) continue;
          this.events.publish('notifications', n.patientId, toNotificationResource(n, n.threadId), (error) =>
            this.logger.warn(`Held notification ${n.id} not published: ${error.message}`),
          );
          this.released += 1;
        }
        if (due.length < CLAIM_BATCH) break;
      }
      if (this.failingSince !== undefined) this.logger.log('Releasing held notifications works again');
      this.failingSince = undefined;
    } catch (error) {
      if (this.failingSince === undefined)
        this.logger.warn(
          `Releasing held notifications failed, retried every ${this.config.quietHoursReleaseMs} ms: ${databaseErrorMessage(error)}`,
        );
      this.failingSince ??= Date.now();
    }
  }
}
