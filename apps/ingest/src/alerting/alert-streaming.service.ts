import {
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
  type OnModuleInit,
} from '@nestjs/common';
import { LANTERN_CONFIG, type LanternConfig } from '@lantern/config';
import { ALERT_PRIORITIES, type DeviceStatus, type Reading } from '@lantern/domain';
import {
  AlertEngine,
  MAX_WINDOW_SAMPLES,
  toAlertResource,
  type AlertRecord,
  type AlertTransitionKind,
  type EngineOutput,
  type HistoryNeed,
} from '@lantern/alerting';
import {
  AlertRepository,
  AlertRuleOverrideRepository,
  DeviceStatusRepository,
  idFromCause,
  type IngestDevice,
  type StoredRuleOverride,
} from '@lantern/storage';
import { IngestMetrics } from '../metrics/ingest-metrics.js';
import { DeviceRegistryService } from '../pipeline/device-registry.service.js';
import { ReadingStream, type MessageHold } from '../pipeline/reading.stream.js';
import { AlertOutputWriter } from './alert-output.writer.js';
import { AlertWebhookService } from './alert-webhook.service.js';

/**
 * Period of the full re-read of rule overrides: a lost `rules-changed` message (QoS 1 on a clean
 * session) is made good within this time.
 */
export const RULES_RESYNC_MS = 30_000;

/**
 * How long before the start a stream's newest reading may lie and still be read back: a crash that
 * long ago (or an ingest down that long) still has the alerts its last readings caused made good.
 * Older streams matter to no window or delay any more (each rule's span is added on top).
 */
export const REBUILD_HORIZON_MS = 24 * 3_600_000;
/** Streams read back per statement: bounds the rows held at once (a 1 Hz oximeter's minute is 120 of them). */
const REBUILD_STREAMS_PER_QUERY = 2000;

/** What the start-up rebuild read and decided (logged, and for tests and the bench). */
export interface RebuildReport {
  readonly streams: number;
  readonly readings: number;
  readonly activeAlerts: number;
  /** Transitions the database was missing (a crash between a reading's commit and its alert's), stored now. */
  readonly madeGood: number;
  /** Whole rebuild, from the first query; of which reading back the readings. */
  readonly ms: number;
  readonly readMs: number;
}

/** A stable fingerprint of one patient's overrides ('' for none): equal sets compare equal. */
function overridesFingerprint(overrides: readonly StoredRuleOverride[]): string {
  if (overrides.length === 0) return '';
  const sorted = [...overrides].sort((a, b) => (a.ruleKey < b.ruleKey ? -1 : a.ruleKey > b.ruleKey ? 1 : 0));
  return JSON.stringify(sorted.map((o) => [o.ruleKey, o.enabled, o.params, o.updatedAt]));
}

/** Overrides (or alerts) grouped by patient, in their order. */
function groupByPatient<T extends { readonly patientId: string }>(items: readonly T[]): Map<string, T[]> {
  const byPatient = new Map<string, T[]>();
  for (const o of items) {
    const list = byPatient.get(o.patientId);
    if (list) list.push(o);
    else byPatient.set(o.patientId, [o]);
  }
  return byPatient;
}

/**
 * The streaming core's shell in the ingest role: holds the AlertEngine, feeds it every validated
 * reading and status as they are decoded (before their batch commits), drives signal loss and
 * escalation from one periodic sweep, and hands every decision to the AlertOutputWriter with the
 * message it came from, which stays unacknowledged until the decision is stored (at least once).
 * Before consuming it rebuilds its state from the database — rule overrides, active alerts, and
 * the recent readings its windowed and delayed rules need (see AlertEngine.rebuild) — so a restart
 * neither re-opens nor forgets an alert and no rule is blind. The api announces rule and alert
 * changes on internal topics (InternalEventsListener).
 */
@Injectable()
export class AlertStreamingService implements OnModuleInit, OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('AlertStreaming');
  readonly engine = new AlertEngine({ newId: idFromCause });
  private readonly registered = new Set<string>();
  private sweepTimer: NodeJS.Timeout | undefined;
  private rulesTimer: NodeJS.Timeout | undefined;
  /** Fingerprint of the overrides applied per patient (absent: none). */
  private readonly ruleFingerprints = new Map<string, string>();
  /** Orders override reads: a read started before another one's result was applied must not undo it. */
  private ruleReads = 0;
  private readonly ruleReadApplied = new Map<string, number>();
  /** Readings evaluated (their evaluation time goes to /metrics). */
  evaluated = 0;
  /** The start-up rebuild, once done. */
  rebuilt: RebuildReport | undefined;

  constructor(
    @Inject(LANTERN_CONFIG) private readonly config: LanternConfig,
    private readonly stream: ReadingStream,
    private readonly registry: DeviceRegistryService,
    private readonly devices: DeviceStatusRepository,
    private readonly alerts: AlertRepository,
    private readonly overrides: AlertRuleOverrideRepository,
    private readonly writer: AlertOutputWriter,
    private readonly webhook: AlertWebhookService,
    private readonly metrics: IngestMetrics,
  ) {
    writer.reconcile = (observed, stored) => this.engine.reconcile(observed, stored, Date.now());
  }

  /** Rebuilds state and subscribes before the broker connection starts delivering (IngestService, bootstrap). */
  async onModuleInit(): Promise<void> {
    const started = Date.now();
    const [devices, overrides, active] = await Promise.all([
      this.devices.loadAll(),
      this.overrides.listAll(),
      this.alerts.findActive(),
    ]);
    for (const d of devices) {
      if (d.decommissioned) continue;
      this.engine.registerDevice({
        deviceId: d.id,
        patientId: d.patientId,
        type: d.type,
        lastHeardAt: d.lastSeenAt ?? null,
      });
      this.registered.add(d.id);
    }
    const byPatient = groupByPatient(overrides);
    const now = Date.now();
    for (const [patientId, list] of byPatient) this.applyOverrides(patientId, list, 0, now);
    this.engine.restore(active);
    this.rebuilt = await this.rebuild(active.length, now, started);
    this.logger.log(
      `Streaming core ready in ${this.rebuilt.ms} ms: ${this.registered.size} devices, ${byPatient.size} patients with overrides, ` +
        `${active.length} active alerts restored, ${this.rebuilt.readings} readings of ${this.rebuilt.streams} streams read back ` +
        `(${this.rebuilt.readMs} ms reading them), ` +
        `${this.rebuilt.madeGood} transitions the database was missing made good`,
    );
    this.metrics.onScrape(() => this.sampleActiveAlerts());
    // Every device reload (at start, then every DEVICE_REFRESH_MS) settles decommissioned and reassigned devices.
    this.registry.onReload((devices) => this.syncDevices(devices));
    this.stream.onReading((reading, message) => this.onReading(reading, message));
    this.stream.onStatus((status, message) => this.onStatus(status, message));
  }

  /**
   * Reads back what the windowed and delayed rules need — per stream the readings of its rules'
   * span behind its newest one, a few thousand streams per statement — and the latest resolved alert
   * of each (patient, rule), and replays them through the engine (AlertEngine.rebuild). What the
   * replay finds missing in the database is queued for the writer like any output.
   */
  private async rebuild(activeAlerts: number, now: number, started: number): Promise<RebuildReport> {
    const needs = this.engine.historyNeeded();
    const longest = needs.reduce((max, n) => Math.max(max, n.spanMs), 0);
    const horizon = now - REBUILD_HORIZON_MS;
    const resolved = groupByPatient(await this.alerts.findRecentlyResolved(horizon - longest));
    // Whole patients per statement: their devices' streams are merged in time by one rebuild call.
    needs.sort((a, b) => (a.patientId < b.patientId ? -1 : a.patientId > b.patientId ? 1 : 0));
    let readings = 0;
    let madeGood = 0;
    let readMs = 0;
    const replay = async (chunk: readonly HistoryNeed[]): Promise<void> => {
      const readFrom = Date.now();
      const history = await this.alerts.recentReadings(chunk, horizon, MAX_WINDOW_SAMPLES);
      readMs += Date.now() - readFrom;
      const patients = new Set(chunk.map((n) => n.patientId));
      const theirs: AlertRecord[] = [];
      for (const patientId of patients) {
        theirs.push(...(resolved.get(patientId) ?? []));
        resolved.delete(patientId);
      }
      for (const h of history) readings += h.times.length;
      const output = this.engine.rebuild(history, theirs, now);
      madeGood += output.transitions.length + output.notifications.length;
      this.writer.enqueue(output);
    };
    let from = 0;
    while (from < needs.length) {
      let to = Math.min(from + REBUILD_STREAMS_PER_QUERY, needs.length);
      while (to < needs.length && needs[to].patientId === needs[to - 1].patientId) to += 1;
      await replay(needs.slice(from, to));
      from = to;
    }
    // Patients with no stream read back still learn how far the database reflects their rules.
    const rest = [...resolved.values()].flat();
    if (rest.length > 0) this.writer.enqueue(this.engine.rebuild([], rest, now));
    return { streams: needs.length, readings, activeAlerts, madeGood, ms: Date.now() - started, readMs };
  }

  onApplicationBootstrap(): void {
    this.sweepTimer = setInterval(() => this.sweep(Date.now()), this.config.signalLossSweepMs);
    this.sweepTimer.unref();
    this.rulesTimer = setInterval(() => {
      this.resyncRules().catch((error: unknown) =>
        this.logger.warn(`Re-reading rule overrides failed: ${(error as Error).message}`),
      );
    }, RULES_RESYNC_MS);
    this.rulesTimer.unref();
  }

  async onApplicationShutdown(): Promise<void> {
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    if (this.rulesTimer) clearInterval(this.rulesTimer);
    this.writer.close();
    await this.writer.drained();
  }

  /**
   * Evaluates one reading; never throws into the stream. `message` (the one it came in) stays
   * unacknowledged until the alert transitions the reading caused are stored.
   */
  onReading(reading: Reading, message?: MessageHold): void {
    try {
      if (!this.registered.has(reading.deviceId)) this.register(reading.deviceId);
      const start = process.hrtime.bigint();
      const output = this.engine.onReading(reading, Date.now());
      this.metrics.alertEvaluationSeconds.observe(Number(process.hrtime.bigint() - start) / 1e9);
      this.evaluated += 1;
      this.writer.enqueue(output, message);
    } catch (error) {
      this.logger.error(
        `Evaluating a reading of ${reading.deviceId} failed: ${(error as Error).stack ?? String(error)}`,
      );
    }
  }

  /** Evaluates one status (battery rules, sign of life); its message is held as a reading's is. */
  onStatus(status: DeviceStatus, message?: MessageHold): void {
    try {
      if (!this.registered.has(status.deviceId)) this.register(status.deviceId);
      this.writer.enqueue(this.engine.onStatus(status, Date.now()), message);
    } catch (error) {
      this.logger.error(`Evaluating a status of ${status.deviceId} failed: ${(error as Error).stack ?? String(error)}`);
    }
  }

  /** The periodic sweep: signal loss and escalation. Public for tests, which pass their own clock. */
  sweep(now: number): EngineOutput {
    try {
      const output = this.engine.sweep(now);
      this.writer.enqueue(output);
      return output;
    } catch (error) {
      this.logger.error(`Sweep failed: ${(error as Error).stack ?? String(error)}`);
      return { transitions: [], notifications: [] };
    }
  }

  /**
   * Brings the engine in step with the device registry after each of its reloads: a decommissioned
   * device is forgotten and its signal-loss and battery alerts are resolved by the system; a device
   * now another patient's starts afresh for them (see AlertEngine.syncDevices). Never throws.
   */
  syncDevices(devices: readonly IngestDevice[], now = Date.now()): EngineOutput {
    try {
      const output = this.engine.syncDevices(
        devices.map((d) => ({
          deviceId: d.id,
          patientId: d.patientId,
          type: d.type,
          decommissioned: d.decommissioned,
        })),
        now,
      );
      for (const d of devices) if (d.decommissioned) this.registered.delete(d.id);
      if (output.transitions.length > 0)
        this.logger.log(
          `Devices synced: ${output.transitions.length} device alerts resolved (decommissioned or reassigned)`,
        );
      this.writer.enqueue(output);
      return output;
    } catch (error) {
      this.logger.error(`Syncing devices failed: ${(error as Error).stack ?? String(error)}`);
      return { transitions: [], notifications: [] };
    }
  }

  /** Sets the active-alerts gauge from the engine's state (before each /metrics scrape). */
  private sampleActiveAlerts(): void {
    const counts = this.engine.activeAlertCounts();
    for (const priority of ALERT_PRIORITIES) {
      for (const state of ['open', 'acknowledged'] as const)
        this.metrics.activeAlerts.set({ priority, state }, counts[priority][state]);
    }
  }

  /** Reloads one patient's overrides (after `{root}/internal/rules-changed`). */
  async reloadRules(patientId: string): Promise<void> {
    const read = ++this.ruleReads;
    const list = await this.overrides.listForPatient(patientId);
    this.applyOverrides(patientId, list, read, Date.now());
  }

  /**
   * Re-reads every override (one query) and applies those of the patients whose set changed since
   * it was last applied, so a lost `rules-changed` message is made good without re-applying (and
   * re-emitting) anything else. Runs every RULES_RESYNC_MS; public for tests. Returns how many
   * patients were re-applied.
   */
  async resyncRules(now?: number): Promise<number> {
    const read = ++this.ruleReads;
    const byPatient = groupByPatient(await this.overrides.listAll());
    const at = now ?? Date.now();
    let applied = 0;
    for (const patientId of new Set([...this.ruleFingerprints.keys(), ...byPatient.keys()])) {
      if (this.applyOverrides(patientId, byPatient.get(patientId) ?? [], read, at)) applied += 1;
    }
    if (applied > 0) this.logger.log(`Rule overrides re-read: ${applied} patients' overrides changed and applied`);
    return applied;
  }

  /**
   * Applies one patient's overrides as read by read number `read`, unless they are those already
   * applied or a later read was applied meanwhile. Returns whether they were applied.
   */
  private applyOverrides(patientId: string, list: readonly StoredRuleOverride[], read: number, now: number): boolean {
    if ((this.ruleReadApplied.get(patientId) ?? -1) > read) return false;
    const fingerprint = overridesFingerprint(list);
    if (fingerprint === (this.ruleFingerprints.get(patientId) ?? '')) return false;
    try {
      this.writer.enqueue(this.engine.setOverrides(patientId, list, now));
    } catch (error) {
      this.logger.error(`Applying the overrides of ${patientId} failed: ${(error as Error).stack ?? String(error)}`);
      return false;
    }
    if (fingerprint === '') this.ruleFingerprints.delete(patientId);
    else this.ruleFingerprints.set(patientId, fingerprint);
    this.ruleReadApplied.set(patientId, read);
    return true;
  }

  /**
   * Adopts a clinician's acknowledgement or resolution (after `{root}/internal/alert-changed`) and
   * sends its transitions to the webhook, which only the ingest role delivers.
   */
  async reloadAlert(alertId: string, kinds: readonly AlertTransitionKind[] = []): Promise<void> {
    const stored = await this.alerts.findById(alertId);
    if (!stored) return;
    this.engine.applyExternal(stored);
    for (const kind of kinds) this.webhook.send(kind, toAlertResource(stored));
  }

  /** A device provisioned since start: its type comes from the ingest's device registry. */
  private register(deviceId: string): void {
    const lookup = this.registry.peek(deviceId);
    if (lookup?.kind !== 'known') return;
    const d = lookup.device;
    this.engine.registerDevice({ deviceId, patientId: d.patientId, type: d.type, lastHeardAt: d.lastSeenAt ?? null });
    this.registered.add(deviceId);
  }
}
