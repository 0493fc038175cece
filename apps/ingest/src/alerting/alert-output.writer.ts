import { Inject, Injectable, Logger } from '@nestjs/common';
import { LANTERN_CONFIG, type LanternConfig } from '@lantern/config';
import type { PatientNotificationResource } from '@lantern/domain';
import { toAlertResource, type AlertRecord, type EngineOutput, type NotificationDraft } from '@lantern/alerting';
import { PatientEventPublisher, topicsFor } from '@lantern/messaging';
import { AlertRepository, isUniqueViolation } from '@lantern/storage';
import { IngestMqttConnection } from '../consumer/ingest-mqtt.connection.js';
import { AlertWebhookService } from './alert-webhook.service.js';

const RETRY_MS = [200, 500, 1000, 2000, 5000];
const MAX_BATCH = 200;

/** The §2 `notification` resource of a stored draft. */
export function toNotificationResource(n: NotificationDraft): PatientNotificationResource {
  return {
    id: n.id,
    patientId: n.patientId,
    kind: n.kind,
    severity: n.severity,
    title: n.title,
    body: n.body,
    createdAt: new Date(n.createdAt).toISOString(),
    ...(n.alertId === null ? {} : { alertId: n.alertId }),
  };
}

/**
 * Persists what the streaming core decided, then emits it — in order, each transition once: alert
 * events on `{root}/events/patients/{id}/alerts`, notifications on `…/notifications`, and the
 * webhook. Runs off the stream: the core only enqueues. A database outage delays emission (retried
 * with backoff, order kept) but never blocks evaluation.
 */
@Injectable()
export class AlertOutputWriter {
  private readonly logger = new Logger('AlertOutput');
  private readonly events: PatientEventPublisher;
  private queue: EngineOutput[] = [];
  private running = false;
  private idle: (() => void)[] = [];
  /** Called with the stored row when it differs from what the core holds (a clinician acted meanwhile). */
  onStoredDiffers: (stored: AlertRecord) => void = () => undefined;
  /** Called when an opened alert collided with an active one already stored (adopt that one). */
  onDuplicate: (alert: AlertRecord) => Promise<void> = () => Promise.resolve();
  persisted = 0;

  constructor(
    @Inject(LANTERN_CONFIG) config: LanternConfig,
    private readonly alerts: AlertRepository,
    private readonly webhook: AlertWebhookService,
    connection: IngestMqttConnection,
  ) {
    this.events = new PatientEventPublisher(connection, topicsFor(config.mqttTopicRoot));
  }

  get backlog(): number {
    return this.queue.length;
  }

  /** Queues one engine output (empty outputs cost nothing). */
  enqueue(output: EngineOutput): void {
    if (output.transitions.length === 0 && output.notifications.length === 0) return;
    this.queue.push(output);
    if (!this.running) void this.run();
  }

  /** Resolves once everything queued so far is persisted and emitted (tests, shutdown). */
  drained(): Promise<void> {
    if (!this.running && this.queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idle.push(resolve));
  }

  private async run(): Promise<void> {
    this.running = true;
    let failures = 0;
    while (this.queue.length > 0) {
      const batch = this.queue.slice(0, MAX_BATCH);
      try {
        await this.write(batch);
        this.queue.splice(0, batch.length);
        failures = 0;
      } catch (error) {
        if (isUniqueViolation(error)) {
          // One opened alert collides with an active one: write the batch's outputs one by one.
          await this.writeSeparately(batch);
          this.queue.splice(0, batch.length);
          continue;
        }
        const delay = RETRY_MS[Math.min(failures, RETRY_MS.length - 1)];
        failures += 1;
        if (failures === 1 || failures % 10 === 0)
          this.logger.warn(
            `Persisting alerts failed (attempt ${failures}, retrying in ${delay} ms): ${(error as Error).message}`,
          );
        await new Promise((resolve) => setTimeout(resolve, delay));
      }
    }
    this.running = false;
    for (const resolve of this.idle.splice(0)) resolve();
  }

  private async writeSeparately(batch: readonly EngineOutput[]): Promise<void> {
    for (const output of batch) {
      for (;;) {
        try {
          await this.write([output]);
          break;
        } catch (error) {
          if (!isUniqueViolation(error)) {
            await new Promise((resolve) => setTimeout(resolve, 1000));
            continue;
          }
          const opened = output.transitions.filter((t) => t.kind === 'opened').map((t) => t.alert);
          this.logger.error(
            `Alert collides with an active one already stored (${opened.map((a) => `${a.patientId}/${a.rule}`).join(', ')}); adopting the stored one`,
          );
          for (const alert of opened) await this.onDuplicate(alert);
          break;
        }
      }
    }
  }

  private async write(batch: readonly EngineOutput[]): Promise<void> {
    // The last state of each alert is what gets stored; every transition is still emitted.
    const latest = new Map<string, AlertRecord>();
    const notifications: NotificationDraft[] = [];
    for (const output of batch) {
      for (const t of output.transitions) latest.set(t.alert.id, t.alert);
      notifications.push(...output.notifications);
    }
    // One statement, so one round trip (atomic without a transaction).
    const stored = await this.alerts.saveObserved([...latest.values()], notifications);
    this.persisted += latest.size;
    const storedById = new Map(stored.map((s) => [s.id, s]));
    for (const output of batch) {
      for (const t of output.transitions) {
        let alert = t.alert;
        const row = storedById.get(alert.id);
        // The final transition of an alert reports the row as stored when a clinician changed it meanwhile.
        if (
          row &&
          latest.get(alert.id) === alert &&
          (row.state !== alert.state || row.acknowledgedAt !== alert.acknowledgedAt)
        ) {
          alert = row;
          this.onStoredDiffers(alert);
        }
        const resource = toAlertResource(alert);
        this.events.publish('alerts', alert.patientId, resource, (error) =>
          this.logger.warn(`Alert event not published: ${error.message}`),
        );
        this.webhook.send(t.kind, resource);
      }
      for (const n of output.notifications) {
        this.events.publish('notifications', n.patientId, toNotificationResource(n), (error) =>
          this.logger.warn(`Notification not published: ${error.message}`),
        );
      }
    }
  }
}
