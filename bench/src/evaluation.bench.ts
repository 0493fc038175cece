import type { MetricKey, Reading } from '@lantern/domain';
import { AlertEngine } from '@lantern/alerting';

export interface EvaluationBenchOptions {
  /** Patients, each with a CGM, a pulse oximeter and a wearable patch. */
  readonly patients?: number;
  /** Readings evaluated in the measured run (after an equal warm-up). */
  readonly readings?: number;
}

export interface EvaluationBenchResult {
  readonly patients: number;
  readonly readings: number;
  readonly nsPerReading: number;
  readonly readingsPerSecond: number;
  readonly transitions: number;
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
 * swinging across thresholds so alerts open, update and clear along the way.
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
  const make = (offset: number): Reading[] => {
    const readings = new Array<Reading>(count);
    for (let i = 0; i < count; i++) {
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
  const run = (readings: Reading[]): number => {
    const start = process.hrtime.bigint();
    for (let i = 0; i < readings.length; i++) {
      const reading = readings[i];
      transitions += engine.onReading(reading, reading.receivedAt).transitions.length;
    }
    return Number(process.hrtime.bigint() - start);
  };
  run(make(0)); // warm-up: JIT and the engine's per-stream state
  transitions = 0;
  const ns = run(make(count));
  return {
    patients,
    readings: count,
    nsPerReading: ns / count,
    readingsPerSecond: Math.round((count / ns) * 1e9),
    transitions,
  };
}
