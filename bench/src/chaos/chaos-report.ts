/** One fault's figures (docs/reliability.md, "Chaos"). */
export interface FaultFigures {
  readonly fault: string;
  /** What was done, e.g. "20 × kill -9, restarted at once". */
  readonly action: string;
  /** Readings PUBACKed to devices while this fault ran (from its start to the next fault's). */
  readonly readingsAcknowledged: number;
  readonly readingsLost: number;
  readonly readingsDuplicated: number;
  readonly scenarioAlertsExpected: number;
  /** Expected (patient, rule) with no row in `alerts`. */
  readonly scenarioAlertsNotStored: number;
  /** Expected (patient, rule) whose alert event never came on the events topic. */
  readonly scenarioAlertsNotRaised: number;
  /** Same (alert, kind) twice in patient_notifications or on the notifications topic. */
  readonly notificationsDuplicated: number;
  /** Fault end → first reading stored again by the ingest (worst over repetitions), ms. */
  readonly recoverMs: number;
  /** Fault end → api /health 200, ms (NaN when not measured). */
  readonly healthMs: number;
  /** Worst scenario reading publish → its alert event, ms. */
  readonly worstAlertDelayMs: number;
  readonly notes: readonly string[];
}

export interface ChaosReport {
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly settings: Record<string, string | number>;
  readonly machine: Record<string, string | number>;
  readonly load: {
    readonly readingsPerSecTarget: number;
    readonly readingsPerSecAchieved: number;
    readonly messagesAcknowledged: number;
    readonly publishFailures: number;
    readonly readingsAcknowledged: number;
    readonly readingsStored: number;
    readonly unexpectedRows: number;
  };
  readonly faults: readonly FaultFigures[];
  readonly drainSeconds: number;
  readonly invariants: readonly { name: string; ok: boolean; detail: string }[];
  readonly ok: boolean;
}

/** The invariants of the issue: nothing lost, nothing twice, no scenario alert missed. */
export function chaosInvariants(
  faults: readonly FaultFigures[],
  load: ChaosReport['load'],
): { name: string; ok: boolean; detail: string }[] {
  const sum = (f: (x: FaultFigures) => number) => faults.reduce((s, x) => s + f(x), 0);
  const lost = sum((f) => f.readingsLost);
  const dup = sum((f) => f.readingsDuplicated);
  const notStored = sum((f) => f.scenarioAlertsNotStored);
  const notRaised = sum((f) => f.scenarioAlertsNotRaised);
  const notif = sum((f) => f.notificationsDuplicated);
  const unrecovered = faults.filter((f) => !Number.isFinite(f.recoverMs)).map((f) => f.fault);
  return [
    { name: 'readings lost', ok: lost === 0, detail: `${lost} of ${load.readingsAcknowledged} acknowledged` },
    { name: 'readings duplicated', ok: dup === 0, detail: String(dup) },
    { name: 'scenario alerts not stored', ok: notStored === 0, detail: String(notStored) },
    { name: 'scenario alerts not raised (event)', ok: notRaised === 0, detail: String(notRaised) },
    { name: 'notifications duplicated', ok: notif === 0, detail: String(notif) },
    { name: 'recovered after every fault', ok: unrecovered.length === 0, detail: unrecovered.join(', ') || 'all' },
  ];
}

const ms = (v: number) => (Number.isFinite(v) ? `${Math.round(v).toLocaleString('en-US')} ms` : '—');

/** Markdown table of the figures, one row per fault (what docs/reliability.md shows). */
export function renderChaosTable(report: ChaosReport): string {
  const head =
    '| fault | action | readings acked | lost | duplicated | scenario alerts (missed stored/raised) | notifications duplicated | time to recover (ingest / health) | worst alert delay |';
  const rows = report.faults.map(
    (f) =>
      `| ${f.fault} | ${f.action} | ${f.readingsAcknowledged.toLocaleString('en-US')} | ${f.readingsLost} | ${f.readingsDuplicated} | ${f.scenarioAlertsExpected} (${f.scenarioAlertsNotStored}/${f.scenarioAlertsNotRaised}) | ${f.notificationsDuplicated} | ${ms(f.recoverMs)} / ${ms(f.healthMs)} | ${ms(f.worstAlertDelayMs)} |`,
  );
  const l = report.load;
  const lines = [
    head,
    '| --- | --- | ---: | ---: | ---: | --- | ---: | --- | ---: |',
    ...rows,
    '',
    `load: ${l.readingsPerSecAchieved} readings/s achieved (target ${l.readingsPerSecTarget}), ${l.readingsAcknowledged} readings acknowledged, ${l.readingsStored} stored, ${l.publishFailures} publishes failed (not acknowledged: not counted), ${l.unexpectedRows} unexpected rows; drain ${report.drainSeconds} s`,
    ...report.faults.flatMap((f) => f.notes.map((n) => `${f.fault}: ${n}`)),
    '',
    ...report.invariants.map((i) => `${i.ok ? '✓' : '✗'} ${i.name}: ${i.detail}`),
    report.ok ? 'PASSED' : 'FAILED',
  ];
  return lines.join('\n');
}
