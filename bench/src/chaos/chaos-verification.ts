import type pg from 'pg';
import type { SeededDevice } from '../infra/bench-database.js';
import { percentile } from '../infra/processes.js';
import type { ChaosLoad } from './chaos-load.js';
import type { ChaosReport, FaultFigures } from './chaos-report.js';
import type { EventsObserver } from './events-observer.js';
import type { FaultRun } from './fault-scenarios.js';
import { TICKS } from './chaos-load.js';
import { URGENT_LOW, type ScenarioReading } from './scenario-patients.js';

/** What a chaos run sent and saw, to be checked against the database. */
export interface ChaosEvidence {
  readonly pool: pg.Pool;
  readonly loadSeeded: readonly SeededDevice[];
  readonly scenarioSeeded: readonly SeededDevice[];
  readonly load: ChaosLoad;
  readonly loadSeconds: number;
  readonly readingsAcked: number;
  readonly rate: number;
  readonly scenario: readonly ScenarioReading[];
  readonly observer: EventsObserver;
  readonly runs: readonly FaultRun[];
  /** Times the ingest exited on its own over the run. */
  readonly restarts: () => number;
  readonly log: (line: string) => void;
}

/**
 * The chaos run's verification (docs/reliability.md, "Chaos"): every PUBACKed load reading looked for
 * in `readings` (lost or stored twice, per phase), every scenario alert in `alerts` and on the events
 * topic, notifications duplicated in the table or on the topic; the figures per fault and of the load.
 */
export async function verifyChaos(e: ChaosEvidence): Promise<{ faults: FaultFigures[]; load: ChaosReport['load'] }> {
  const { pool, loadSeeded, scenarioSeeded, load, scenario, observer, runs, log } = e;
  const { acked, base, metrics } = load;
  log('verifying against the database');
  const stored = new Map<string, number>(); // `${device index} ${metric} ${tick}` → rows
  let unexpectedRows = 0;
  let totalRows = 0;
  const indexOf = new Map(loadSeeded.map((d, i) => [d.deviceId, i]));
  const { rows } = await pool.query<{ device_id: string; metric: string; t: string; n: string }>(
    `SELECT device_id, metric, (extract(epoch FROM time) * 1000)::bigint AS t, count(*) AS n
         FROM readings WHERE device_id = ANY($1::uuid[]) GROUP BY 1, 2, 3`,
    [loadSeeded.map((d) => d.deviceId)],
  );
  for (const r of rows) {
    const key = `${indexOf.get(r.device_id)} ${r.metric} ${(Number(r.t) - base) / 1000}`;
    stored.set(key, Number(r.n));
    totalRows += Number(r.n);
  }
  const perPhase = new Map<number, { acked: number; lost: number; dup: number }>();
  const lostExamples = new Map<number, string[]>();
  const seen = new Set<string>();
  for (const m of acked) {
    const p = perPhase.get(m.phase) ?? { acked: 0, lost: 0, dup: 0 };
    perPhase.set(m.phase, p);
    for (let k = 0; k < TICKS; k++)
      for (const metric of metrics) {
        const key = `${m.device} ${metric} ${m.tick + k}`;
        p.acked++;
        seen.add(key);
        const n = stored.get(key) ?? 0;
        if (n === 0) {
          p.lost++;
          const examples = lostExamples.get(m.phase) ?? [];
          lostExamples.set(m.phase, examples);
          if (examples.length < 3) examples.push(`${loadSeeded[m.device].deviceId} seq ${m.tick} ${metric}`);
        }
        if (n > 1) p.dup += n - 1;
      }
  }
  // Rows of readings never acknowledged (publishes that failed, or cut short by the stop) are not losses.
  for (const key of stored.keys()) if (!seen.has(key)) unexpectedRows++;
  const { rows: alertRows } = await pool.query<{ patient_id: string; rule: string; n: string }>(
    `SELECT patient_id::text, rule, count(*) AS n FROM alerts WHERE patient_id = ANY($1::uuid[]) GROUP BY 1, 2`,
    [scenarioSeeded.map((d) => d.patientId)],
  );
  const alertsStored = new Map(alertRows.map((r) => [`${r.patient_id} ${r.rule}`, Number(r.n)]));
  const { rows: notifRows } = await pool.query<{ patient_id: string; alert_id: string; kind: string; n: string }>(
    `SELECT patient_id::text, alert_id::text, kind, count(*) AS n FROM patient_notifications
        WHERE alert_id IS NOT NULL GROUP BY 1, 2, 3 HAVING count(*) > 1`,
  );
  const { rows: alertIds } = await pool.query<{ id: string; patient_id: string }>(
    `SELECT id::text, patient_id::text FROM alerts`,
  );
  const patientOfAlert = new Map(alertIds.map((r) => [r.id, r.patient_id]));
  const phaseOfPatient = new Map(scenario.map((s) => [s.patientId, s.phase]));
  const dupNotifications = new Map<number, number>();
  const addDup = (patientId: string | undefined, n: number) => {
    const p = (patientId === undefined ? undefined : phaseOfPatient.get(patientId)) ?? 0;
    dupNotifications.set(p, (dupNotifications.get(p) ?? 0) + n);
  };
  for (const r of notifRows) addDup(r.patient_id, Number(r.n) - 1);
  for (const [key, ids] of observer.notificationEvents)
    if (ids.size > 1) addDup(patientOfAlert.get(key.split(' ')[0]), ids.size - 1);
  if (observer.notificationRedeliveries > 0)
    log(
      `notification events delivered again by the broker (same id, deduplicated by receivers): ${observer.notificationRedeliveries}`,
    );

  const faults: FaultFigures[] = runs.map((run, i) => {
    const p = perPhase.get(i + 1) ?? { acked: 0, lost: 0, dup: 0 };
    const expected = scenario.filter((s) => s.phase === i + 1);
    const notes = [...run.notes];
    if (p.lost > 0) notes.push(`not stored, e.g. ${(lostExamples.get(i + 1) ?? []).join('; ')}`);
    const unacked = expected.filter((s) => !s.acknowledged).length;
    if (unacked > 0) notes.push(`${unacked} scenario readings never PUBACKed to their device`);
    const delays: number[] = [];
    let notStored = 0;
    let notRaised = 0;
    for (const s of expected) {
      const key = `${s.patientId} ${URGENT_LOW}`;
      if (!alertsStored.has(key)) notStored++;
      if ((alertsStored.get(key) ?? 0) > 1) notes.push(`${key}: ${alertsStored.get(key)} alert rows`);
      const at = observer.alertEvents.get(key);
      if (at === undefined) notRaised++;
      else delays.push(at - s.publishedAt);
    }
    if (run.recover.length > 1)
      notes.push(
        `recovery over ${run.recover.length} restarts: median ${Math.round(percentile(run.recover, 50))} ms, worst ${Math.round(Math.max(...run.recover))} ms`,
      );
    return {
      fault: run.fault,
      action: run.action,
      readingsAcknowledged: p.acked,
      readingsLost: p.lost,
      readingsDuplicated: p.dup,
      scenarioAlertsExpected: expected.length,
      scenarioAlertsNotStored: notStored,
      scenarioAlertsNotRaised: notRaised,
      notificationsDuplicated: dupNotifications.get(i + 1) ?? 0,
      recoverMs: run.recover.length ? Math.max(...run.recover) : NaN,
      healthMs: run.health.length ? Math.max(...run.health) : NaN,
      worstAlertDelayMs: delays.length ? Math.max(...delays) : NaN,
      notes,
    };
  });
  const restarts = e.restarts();
  if (restarts > 0) log(`the ingest exited on its own ${restarts} times (restarted as a supervisor would)`);
  // The api fault is judged by /health; the others by the ingest storing again.
  const judged = faults.map((f) => (f.fault === 'api-kill' ? { ...f, recoverMs: f.healthMs } : f));
  const warm = perPhase.get(0) ?? { acked: 0, lost: 0, dup: 0 };
  if (warm.lost + warm.dup + (dupNotifications.get(0) ?? 0) > 0)
    judged.push({
      fault: 'outside faults',
      action: 'warm-up load',
      readingsAcknowledged: warm.acked,
      readingsLost: warm.lost,
      readingsDuplicated: warm.dup,
      scenarioAlertsExpected: 0,
      scenarioAlertsNotStored: 0,
      scenarioAlertsNotRaised: 0,
      notificationsDuplicated: dupNotifications.get(0) ?? 0,
      recoverMs: 0,
      healthMs: NaN,
      worstAlertDelayMs: NaN,
      notes: [],
    });
  const { rows: rejected } = await pool.query<{ reason: string; n: string }>(
    `SELECT reason, count(*) AS n FROM ingest_rejections WHERE device_id = ANY($1::text[]) GROUP BY 1`,
    [[...loadSeeded, ...scenarioSeeded].map((d) => d.deviceId)],
  );
  if (rejected.length > 0)
    log(`dead letters of the run's devices: ${rejected.map((r) => `${r.reason} ${r.n}`).join(', ')}`);
  return {
    faults: judged,
    load: {
      readingsPerSecTarget: e.rate,
      readingsPerSecAchieved: Math.round((load.sent * load.readingsPerMessage) / e.loadSeconds),
      messagesAcknowledged: acked.length,
      publishFailures: load.publishFailures,
      readingsAcknowledged: e.readingsAcked,
      readingsStored: totalRows,
      unexpectedRows,
    },
  };
}
