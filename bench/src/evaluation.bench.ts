import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { MetricKey, Reading } from '@lantern/domain';
import { AlertEngine } from '@lantern/alerting';

export interface EvaluationBenchOptions {
  /** Patients, each with a CGM, a pulse oximeter and a wearable patch. */
  readonly patients?: number;
  /** Readings evaluated in the measured rounds together (after an equal warm-up). */
  readonly readings?: number;
}

export interface EvaluationBenchResult {
  readonly patients: number;
  readonly readings: number;
  /** The median round's cost: a round disturbed by other work on the machine moves the spread, not this. */
  readonly nsPerReading: number;
  /** Cheapest and dearest round. */
  readonly nsPerReadingRange: readonly [number, number];
  readonly rounds: number;
  readonly readingsPerSecond: number;
  readonly transitions: number;
}

/** Timed rounds, each over its own share of the readings. */
const ROUNDS = 5;

const execFileAsync = promisify(execFile);

/** Fresh processes the full bench measures the core in, one after another (measureCoreInProcesses). */
export const CORE_PROCESSES = 5;

export interface CoreProcessesResult extends Omit<EvaluationBenchResult, 'transitions'> {
  /** Each process's median round, cheapest first (one per process measured). */
  readonly perProcess: readonly number[];
}

const STREAMS: readonly {
  suffix: 'cgm' | 'ox' | 'patch';
  metric: MetricKey;
  base: number;
  swing: number;
  everyMs: number;
}[] = [
  { suffix: 'cgm', metric: 'glucose', base: 120, swing: 80, everyMs: 300_000 },
  { suffix: 'ox', metric: 'spo2', base: 95, swing: 5, everyMs: 1000 },
  { suffix: 'ox', metric: 'heart_rate', base: 80, swing: 50, everyMs: 1000 },
  { suffix: 'patch', metric: 'respiratory_rate', base: 16, swing: 12, everyMs: 60_000 },
  { suffix: 'patch', metric: 'body_temperature', base: 37.2, swing: 1.4, everyMs: 60_000 },
];

/**
 * Measures the streaming core's cost per reading with the full default rule set: readings are
 * prebuilt (so only evaluation is timed), round-robin over patients and their streams, with values
 * swinging across thresholds so alerts open, update and clear along the way. Reports the median of
 * five timed rounds: on a machine shared with a database and brokers, one round caught by their
 * background work (a checkpoint, autovacuum) moved a single timed run by a third.
 */
export function benchmarkEvaluation(options: EvaluationBenchOptions = {}): EvaluationBenchResult {
  const patients = options.patients ?? 1000;
  const count = options.readings ?? 1_000_000;
  let id = 0;
  const engine = new AlertEngine({ newId: () => `a${++id}` });
  const deviceTypes = { cgm: 'cgm', ox: 'pulse_oximeter', patch: 'wearable_patch' } as const;
  for (let p = 0; p < patients; p++) {
    for (const [suffix, type] of Object.entries(deviceTypes))
      engine.registerDevice({ deviceId: `p${p}-${suffix}`, patientId: `p${p}`, type });
  }
  const t0 = Date.UTC(2026, 10, 22);
  // Ids shared per device, as the ingest holds them once per device and message.
  const ids = Array.from({ length: patients }, (_, p) => ({
    patient: `p${p}`,
    cgm: `p${p}-cgm`,
    ox: `p${p}-ox`,
    patch: `p${p}-patch`,
  }));
  const make = (offset: number, length: number): Reading[] => {
    const readings = new Array<Reading>(length);
    for (let i = 0; i < length; i++) {
      const n = i + offset;
      const p = n % patients;
      const round = Math.floor(n / patients);
      const stream = STREAMS[round % STREAMS.length];
      const step = Math.floor(round / STREAMS.length);
      const time = t0 + step * stream.everyMs;
      const value = stream.base + stream.swing * Math.sin(step / 40 + p);
      readings[i] = {
        deviceId: ids[p][stream.suffix],
        patientId: ids[p].patient,
        metric: stream.metric,
        value,
        time,
        receivedAt: time + 500,
      };
    }
    return readings;
  };
  let transitions = 0;
  const run = (readings: Reading[], from = 0, to = readings.length): number => {
    const start = process.hrtime.bigint();
    for (let i = from; i < to; i++) {
      const reading = readings[i];
      transitions += engine.onReading(reading, reading.receivedAt).transitions.length;
    }
    return Number(process.hrtime.bigint() - start);
  };
  run(make(0, count)); // warm-up: JIT and the engine's per-stream state
  transitions = 0;
  // Built at once, before any round: readings made just before a round were still in the young
  // generation, and the scavenges that copied them fell inside the timed loop (a 2× spread).
  const perRound = Math.ceil(count / ROUNDS);
  const measured = make(count, perRound * ROUNDS);
  const nsPerReading: number[] = [];
  for (let r = 0; r < ROUNDS; r++) nsPerReading.push(run(measured, r * perRound, (r + 1) * perRound) / perRound);
  nsPerReading.sort((a, b) => a - b);
  const median = nsPerReading[Math.floor(ROUNDS / 2)];
  return {
    patients,
    readings: perRound * ROUNDS,
    nsPerReading: median,
    nsPerReadingRange: [nsPerReading[0], nsPerReading[ROUNDS - 1]],
    rounds: ROUNDS,
    readingsPerSecond: Math.round(1e9 / median),
    transitions,
  };
}

/**
 * benchmarkEvaluation in `processes` fresh Node processes, one after another (`entry`: the built
 * evaluation.process.js), and the median of their medians; the range spans every round of every
 * process. Fresh processes, and before the other phases: at the end of a full run, in the harness's
 * own process, the same code once measured 797 ns where fresh processes measured 220–365 (the heap,
 * the compiled code and the machine's backlog of writes are then the run's, not the core's). Several,
 * because fresh processes on this machine fall into two groups, about 250 and about 340 ns, which no
 * number of rounds inside one process evens out (docs/performance.md, "Streaming core").
 */
export async function measureCoreInProcesses(
  entry: string,
  options: { patients: number; readings: number; processes: number },
): Promise<CoreProcessesResult> {
  const results: EvaluationBenchResult[] = [];
  for (let i = 0; i < options.processes; i++) {
    const { stdout } = await execFileAsync(process.execPath, [
      entry,
      String(options.patients),
      String(options.readings),
    ]);
    results.push(JSON.parse(stdout) as EvaluationBenchResult);
  }
  results.sort((a, b) => a.nsPerReading - b.nsPerReading);
  const median = results[Math.floor(results.length / 2)];
  return {
    patients: median.patients,
    readings: median.readings,
    nsPerReading: median.nsPerReading,
    nsPerReadingRange: [
      Math.min(...results.map((r) => r.nsPerReadingRange[0])),
      Math.max(...results.map((r) => r.nsPerReadingRange[1])),
    ],
    rounds: median.rounds,
    readingsPerSecond: median.readingsPerSecond,
    perProcess: results.map((r) => r.nsPerReading),
  };
}
