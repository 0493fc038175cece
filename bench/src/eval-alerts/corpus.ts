import type { SensorModelName } from './cgm-sensor.js';
import { simulatePatient, type PatientGroup, type PatientTrace } from './virtual-patient.js';

/** What the corpus is made of: the same options and seed make the same corpus on every machine. */
export interface CorpusOptions {
  readonly seed: number;
  readonly adults: number;
  readonly children: number;
  readonly days: number;
  /** Minutes between sensor readings. */
  readonly intervalMin: number;
  /** Epoch ms of the first day's midnight. */
  readonly start: number;
  /** The sensor generation (cgm-sensor.ts). */
  readonly sensor: SensorModelName;
}

export const DEFAULT_CORPUS: CorpusOptions = {
  seed: 19,
  adults: 20,
  children: 20,
  days: 7,
  intervalMin: 5,
  start: Date.UTC(2026, 0, 5),
  sensor: 'modern',
};

/** The labelled traces, adults first; patient ids `adult-01`, `child-01`, … */
export function buildCorpus(o: CorpusOptions): PatientTrace[] {
  const traces: PatientTrace[] = [];
  const make = (group: PatientGroup, count: number): void => {
    for (let i = 1; i <= count; i++) {
      const id = `${group}-${String(i).padStart(2, '0')}`;
      traces.push(
        simulatePatient({
          id,
          group,
          seed: o.seed,
          days: o.days,
          start: o.start,
          intervalMin: o.intervalMin,
          sensor: o.sensor,
        }),
      );
    }
  };
  make('adult', o.adults);
  make('child', o.children);
  return traces;
}
