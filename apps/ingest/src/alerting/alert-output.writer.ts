import { Inject, Injectable, Logger } from '@nestjs/common';
import { LANTERN_CONFIG, type LanternConfig } from '@lantern/config';
import { quietHoursEnd, toNotificationResource, type AlertResource } from '@lantern/domain';
import {
  findRule,
  toAlertResource,
  type AlertRecord,
  type AlertTransition,
  type EngineOutput,
} from '@lantern/alerting';
import { PatientEventPublisher, topicsFor } from '@lantern/messaging';
import {
  AlertTransitionRepository,
  PatientSettingsRepository,
  classifyDatabaseError,
  databaseErrorMessage,
  type AlertWebhookDelivery,
  type AlertWrite,
  type NewNotification,
} from '@lantern/storage';
import { IngestMqttConnection } from '../consumer/ingest-mqtt.connection.js';
import { IngestMetrics } from '../metrics/ingest-metrics.js';
import type { MessageHold } from '../pipeline/reading.stream.js';
import { AlertWebhookService } from './alert-webhook.service.js';

const RETRY_MS = [200, 500, 1000, 2000, 5000];
const MAX_BATCH = 200;
/** Rounds of reconciling one batch with rows changed meanwhile; more means rows change faster than we write (a bug). */
const MAX_RECONCILE_ROUNDS = 5;
const NOTHING: EngineOutput = Object.freeze({ transitions: Object.freeze([]), notifications: Object.freeze([]) });

/**
 * Persists what the streaming core decided, then emits it — in order, each transition once: alert
 * events on `{root}/events/patients/{id}/alerts`, notifications on `…/notifications`, and the
 * webhook. Runs off the stream: the core only enqueues, with the message the input came in, which
 * stays unacknowledged until its output is stored (at least once: a crash before that brings the
 * message back). Storage is idempotent (AlertTransitionRepository.saveTransitions): what is already stored —
 * a redelivered input evaluated again — is neither stored nor emitted twice, and a row changed
 * meanwhile (a clinician's command) is reconciled by the core (AlertEngine.reconcile) and written
 * again. A database outage delays emission (retried with backoff, order kept) but never blocks
 * evaluation. An output the database refuses for its data (SQLSTATE class 22, 23, 54) would fail
 * the same way forever: the batch is split until it stands alone, and only it is skipped (logged
 * as an error and counted; its message is still acknowledged, so one bad output never jams acks).
 */
@Injectable()
export class AlertOutputWriter {
  private readonly logger = new Logger('AlertOutput');
  private readonly events: PatientEventPublisher;
  private queue: EngineOutput[] = [];
  /** The message each queued output holds (same index), undefined for sweeps and other timers. */
  private holds: (MessageHold | undefined)[] = [];
  private running = false;
  private idle: (() => void)[] = [];
  /**
   * Set by StreamingCore to the engine's reconcile: given what was decided and the row as
   * stored, adopts the row and returns what is still to store.
   */
  reconcile: (observed: AlertRecord, stored: AlertRecord) => EngineOutput = () => NOTHING;
  /** Alert rows written (inserted or updated). */
  persisted = 0;
  /** Alert writes that met a row already stored or changed meanwhile, and were reconciled. */
  reconciled = 0;
  /** Outputs skipped because the database refused them. */
  refused = 0;
  private failingSince: number | undefined;
  private failingAttempts = 0;
  /** Set once the broker connection has been up: before, an event published would be dropped. */
  private wasConnected = false;
  private closing = false;

  constructor(
    @Inject(LANTERN_CONFIG) config: LanternConfig,
    private readonly alerts: AlertTransitionRepository,
    private readonly settings: PatientSettingsRepository,
    private readonly webhook: AlertWebhookService,
    private readonly connection: IngestMqttConnection,
    private readonly metrics: IngestMetrics,
  ) {
    this.events = new PatientEventPublisher(connection, topicsFor(config.mqttTopicRoot));
  }

  get backlog(): number {
    return this.queue.length;
  }

  /** Set while a write keeps failing and is being retried (epoch ms of the first failure, attempts so far). */
  get retrying(): { since: number; attempts: number } | undefined {
    return this.failingSince === undefined ? undefined : { since: this.failingSince, attempts: this.failingAttempts };
  }

  /**
   * Queues one engine output; `message` (the input's) is held until the output is stored, or
   * skipped as refused. Empty outputs — nearly every reading's — cost nothing and hold nothing.
   */
  enqueue(output: EngineOutput, message?: MessageHold): void {
    if (output.transitions.length === 0 && output.notifications.length === 0) return;
    message?.hold();
    this.queue.push(output);
    this.holds.push(message);
    if (!this.running) void this.run();
  }

  /** Shutting down: stop waiting for a first broker connection (what is queued is still stored). */
  close(): void {
    this.closing = true;
  }

  /** Resolves once everything queued so far is persisted and emitted (tests, shutdown). */
  drained(): Promise<void> {
    if (!this.running && this.queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idle.push(resolve));
  }

  private async run(): Promise<void> {
    this.running = true;
    // What the start-up rebuild made good is queued before the broker connection exists: its events
    // would be dropped. Later outages need no wait: the client queues what is published meanwhile.
    while (!this.wasConnected && !this.connection.publishing && !this.closing)
      await new Promise((resolve) => setTimeout(resolve, 50));
    this.wasConnected = true;
    while (this.queue.length > 0) {
      const batch = this.queue.slice(0, MAX_BATCH);
      await this.persist(batch, 0);
      this.queue.splice(0, batch.length);
      for (const message of this.holds.splice(0, batch.length)) message?.release();
    }
    this.running = false;
    for (const resolve of this.idle.splice(0)) resolve();
  }

  /**
   * Writes the outputs in order; never throws. Transient failures are retried with backoff; a batch
   * the database refuses is split in halves until the refused output stands alone.
   */
  private async persist(batch: readonly EngineOutput[], round: number): Promise<void> {
    let reconcile: EngineOutput[];
    for (;;) {
      try {
        reconcile = await this.write(batch);
        this.recovered();
        break;
      } catch (error) {
        if (classifyDatabaseError(error) === 'transient') {
          await this.failed(error);
          continue;
        }
        this.recovered();
        if (batch.length > 1) {
          const half = Math.ceil(batch.length / 2);
          await this.persist(batch.slice(0, half), round);
          await this.persist(batch.slice(half), round);
        } else this.skip(batch[0], error);
        return;
      }
    }
    if (reconcile.length === 0) return;
    if (round >= MAX_RECONCILE_ROUNDS) {
      this.logger.error(
        `Alert rows kept changing while reconciled ${round} times; left as stored: ${reconcile
          .flatMap((o) => o.transitions.map((t) => `${t.kind} ${t.alert.id}`))
          .join(', ')}`,
      );
      return;
    }
    await this.persist(reconcile, round + 1);
  }

  private skip(output: EngineOutput, error: unknown): void {
    this.refused += 1;
    this.metrics.storageRefused.inc({ writer: 'alerts' });
    const what = [
      ...output.transitions.map((t) => `${t.kind} ${t.alert.patientId}/${t.alert.rule} (${t.alert.id})`),
      ...output.notifications.map((n) => `notification ${n.id}`),
    ].join(', ');
    this.logger.error(
      `The database refused an alert output, skipped (not stored, not emitted): ${what}: ${databaseErrorMessage(error)}`,
    );
  }

  private async failed(error: unknown): Promise<void> {
    const delay = RETRY_MS[Math.min(this.failingAttempts, RETRY_MS.length - 1)];
    this.failingAttempts += 1;
    this.failingSince ??= Date.now();
    if (this.failingAttempts === 1 || this.failingAttempts % 10 === 0)
      this.logger.warn(
        `Persisting alerts failed (attempt ${this.failingAttempts}, retrying in ${delay} ms): ${(error as Error).message}`,
      );
    await new Promise((resolve) => setTimeout(resolve, delay));
  }

  private recovered(): void {
    this.failingSince = undefined;
    this.failingAttempts = 0;
  }

  /**
   * Sets `deliverAt` on the messages created inside their patient's quiet window (one query, only
   * when there are `info` messages, the only ones that can be held); whether one is low-priority
   * enough to be held is the storing statement's decision (insertNotificationsSql).
   */
  private async addQuietHours(notifications: NewNotification[]): Promise<void> {
    // Only an `info` message can be held (insertNotificationsSql): an alert that matters is not
    // delayed by a round trip for quiet hours it cannot be subject to.
    const holdable = notifications.filter((n) => n.severity === 'info');
    if (holdable.length === 0) return;
    const quiet = await this.settings.quietHoursOf(holdable.map((n) => n.patientId));
    if (quiet.size === 0) return;
    for (const [i, n] of notifications.entries()) {
      const window = n.severity === 'info' ? quiet.get(n.patientId) : undefined;
      const end = window && quietHoursEnd(window, n.createdAt);
      if (end !== undefined) notifications[i] = { ...n, deliverAt: end };
    }
  }

  /**
   * One round trip for the batch (and one before it for the quiet hours of the patients it has
   * messages for), then emits what it stored, in order; a message held for quiet hours is stored but
   * not emitted (QuietHoursReleaseService publishes it when the window is over). Returns the outputs of
   * reconciling the alerts whose write did not apply (already stored, or changed meanwhile), to
   * write next; their own transitions are not emitted (the row as stored already said it).
   */
  private async write(batch: readonly EngineOutput[]): Promise<EngineOutput[]> {
    // The last state of each alert is what gets stored; every transition of it is still emitted.
    const writes = new Map<string, { alert: AlertRecord; opened: boolean; expectedAcknowledgedAt: number | null }>();
    for (const output of batch) {
      for (const t of output.transitions) {
        const write = writes.get(t.alert.id);
        if (write !== undefined) write.alert = t.alert;
        else
          writes.set(t.alert.id, {
            alert: t.alert,
            opened: t.kind === 'opened',
            // Every transition but an acknowledgement keeps acknowledgedAt: the row must still have it.
            expectedAcknowledgedAt: t.kind === 'acknowledged' ? null : t.alert.acknowledgedAt,
          });
      }
    }
    const notifications: NewNotification[] = [];
    for (const output of batch) {
      for (const n of output.notifications)
        notifications.push(n.alertId !== null && writes.get(n.alertId)?.opened ? { ...n, dependsOn: n.alertId } : n);
    }
    await this.addQuietHours(notifications);
    const list: AlertWrite[] = [...writes.values()];
    // Built before the write and stored in its statement (only for the alerts whose write applies).
    const resources = new Map<AlertTransition, AlertResource>();
    const deliveries: AlertWebhookDelivery[] = [];
    for (const output of batch) {
      for (const t of output.transitions) {
        const resource = toAlertResource(t.alert);
        resources.set(t, resource);
        const delivery = this.webhook.delivery(t.kind, resource);
        if (delivery) deliveries.push(delivery);
      }
    }
    const { applied, notified, threads } = await this.alerts.saveTransitions(list, notifications, deliveries);
    if (deliveries.length > 0) this.webhook.nudge();
    this.persisted += applied.size;
    for (const output of batch) {
      for (const t of output.transitions) {
        if (!applied.has(t.alert.id)) continue;
        this.events.publish('alerts', t.alert.patientId, resources.get(t)!, (error) =>
          this.logger.warn(`Alert event not published: ${error.message}`),
        );
        if (t.kind === 'opened' && t.alert.evaluatedAt !== null)
          this.metrics.alertOutputSeconds.observe((Date.now() - t.alert.evaluatedAt) / 1000);
      }
      for (const n of output.notifications) {
        if (!notified.has(n.id)) continue;
        this.events.publish('notifications', n.patientId, toNotificationResource(n, threads.get(n.id)), (error) =>
          this.logger.warn(`Notification not published: ${error.message}`),
        );
      }
    }
    const missed = list.filter((w) => !applied.has(w.alert.id)).map((w) => w.alert);
    if (missed.length === 0) return [];
    const stored = await this.alerts.findForReconcile(
      missed.map((a) => ({
        id: a.id,
        patientId: a.patientId,
        rule: a.rule,
        deviceId: findRule(a.rule)?.scope === 'device' ? a.deviceId : null,
      })),
    );
    const again: EngineOutput[] = [];
    for (const alert of missed) {
      const row = stored.get(alert.id);
      if (row === undefined) {
        // Not stored and nothing to adopt (its row went away): nothing can be done but say so.
        this.logger.error(`Alert ${alert.id} (${alert.patientId}/${alert.rule}) not stored: no row to update or adopt`);
        continue;
      }
      this.reconciled += 1;
      const output = this.reconcile(alert, row);
      if (output.transitions.length > 0 || output.notifications.length > 0) again.push(output);
    }
    return again;
  }
}
