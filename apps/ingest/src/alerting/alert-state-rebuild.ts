import { Injectable, Logger, type OnModuleInit } from '@nestjs/common';
import { MAX_WINDOW_SAMPLES, type AlertRecord, type HistoryNeed } from '@lantern/alerting';
import { AlertRepository, DeviceStatusRepository } from '@lantern/storage';
import { AlertOutputWriter } from './alert-output.writer.js';
import { groupByPatient } from './group-by-patient.js';
import { RuleOverrideSync } from './rule-override-sync.js';
import { StreamingCore } from './streaming-core.js';

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

/**
 * The streaming core's start: before the ingest consumes, it rebuilds the engine's state from the
 * database, in this order — devices registered, rule overrides applied, active alerts restored, then
 * the recent readings the windowed and delayed rules need read back and replayed (see
 * AlertEngine.rebuild) — so that a restart neither re-opens nor forgets an alert and no rule is
 * blind. What the replay finds missing in the database goes to the AlertOutputWriter like any output.
 */
@Injectable()
export class AlertStateRebuild implements OnModuleInit {
  private readonly logger = new Logger('AlertStreaming');
  /** The start-up rebuild, once done. */
  rebuilt: RebuildReport | undefined;

  constructor(
    private readonly devices: DeviceStatusRepository,
    private readonly alerts: AlertRepository,
    private readonly core: StreamingCore,
    private readonly rules: RuleOverrideSync,
    private readonly writer: AlertOutputWriter,
  ) {}

  /**
   * Rebuilds the state before the broker connection starts delivering (IngestService, at bootstrap:
   * Nest completes every module's onModuleInit before any onApplicationBootstrap).
   */
  async onModuleInit(): Promise<void> {
    const started = Date.now();
    const [devices, overrides, active] = await Promise.all([
      this.devices.loadAll(),
      this.rules.readAll(),
      this.alerts.findActive(),
    ]);
    this.core.registerStored(devices);
    const now = Date.now();
    this.rules.applyAtStart(overrides, now);
    this.core.engine.restore(active);
    this.rebuilt = await this.rebuild(active.length, now, started);
    this.logger.log(
      `Streaming core ready in ${this.rebuilt.ms} ms: ${this.core.devices} devices, ${overrides.size} patients with overrides, ` +
        `${active.length} active alerts restored, ${this.rebuilt.readings} readings of ${this.rebuilt.streams} streams read back ` +
        `(${this.rebuilt.readMs} ms reading them), ` +
        `${this.rebuilt.madeGood} transitions the database was missing made good`,
    );
  }

  /**
   * Reads back what the windowed and delayed rules need — per stream the readings of its rules'
   * span behind its newest one, a few thousand streams per statement — and the latest resolved alert
   * of each (patient, rule), and replays them through the engine (AlertEngine.rebuild). What the
   * replay finds missing in the database is queued for the writer like any output.
   */
  private async rebuild(activeAlerts: number, now: number, started: number): Promise<RebuildReport> {
    const { engine } = this.core;
    const needs = engine.historyNeeded();
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
      const output = engine.rebuild(history, theirs, now);
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
    if (rest.length > 0) this.writer.enqueue(engine.rebuild([], rest, now));
    return { streams: needs.length, readings, activeAlerts, madeGood, ms: Date.now() - started, readMs };
  }
}
