import type { PatientGroup, PatientTrace } from './virtual-patient.js';

const MIN_MS = 60_000;

/**
 * How close a corpus's readings are to the true (blood) glucose at the same minute, as CGM
 * accuracy studies report it against a laboratory reference: MARD, the share within 15/15 and
 * 20/20 (within 15 or 20 mg/dL below 100 mg/dL, within 15 or 20 % above), and in the
 * hypoglycaemic range (true < 70) the mean absolute difference and the share within 15 mg/dL — the
 * FDA's iCGM special controls (21 CFR 862.1355) ask for more than 85 % there.
 */
export interface SensorAccuracy {
  readonly group: PatientGroup | 'all';
  readonly pairs: number;
  readonly mard: number;
  readonly within15: number;
  readonly within20: number;
  readonly lowPairs: number;
  readonly lowMeanAbsMgdl: number;
  readonly lowWithin15Mgdl: number;
  /** Readings below 54 while the true glucose was at or above 70. */
  readonly falseBelow54: number;
}

export function sensorAccuracy(traces: readonly PatientTrace[], group: PatientGroup | 'all'): SensorAccuracy {
  let pairs = 0;
  let relative = 0;
  let w15 = 0;
  let w20 = 0;
  let lowPairs = 0;
  let lowAbs = 0;
  let low15 = 0;
  let falseBelow54 = 0;
  for (const t of traces) {
    if (group !== 'all' && t.group !== group) continue;
    for (let i = 0; i < t.readingTimes.length; i++) {
      const truth = t.trueGlucose[Math.round((t.readingTimes[i] - t.start) / MIN_MS)];
      const reading = t.readingValues[i];
      const error = Math.abs(reading - truth);
      pairs++;
      relative += error / truth;
      if (error <= (truth < 100 ? 15 : 0.15 * truth)) w15++;
      if (error <= (truth < 100 ? 20 : 0.2 * truth)) w20++;
      if (truth < 70) {
        lowPairs++;
        lowAbs += error;
        if (error <= 15) low15++;
      }
      if (reading < 54 && truth >= 70) falseBelow54++;
    }
  }
  const share = (n: number, of: number): number => (of === 0 ? NaN : n / of);
  return {
    group,
    pairs,
    mard: share(relative, pairs),
    within15: share(w15, pairs),
    within20: share(w20, pairs),
    lowPairs,
    lowMeanAbsMgdl: share(lowAbs, lowPairs),
    lowWithin15Mgdl: share(low15, lowPairs),
    falseBelow54,
  };
}

export const ACCURACY_HEADER = [
  'patients',
  'pairs',
  'MARD',
  'within 15/15',
  'within 20/20',
  'pairs true < 70',
  'mean abs. error < 70',
  'within 15 mg/dL < 70 (iCGM: > 85 %)',
  'reads < 54 while true ≥ 70',
];

export function accuracyRow(a: SensorAccuracy): string[] {
  const pct = (x: number): string => (Number.isNaN(x) ? '–' : `${(x * 100).toFixed(1)} %`);
  return [
    a.group,
    String(a.pairs),
    pct(a.mard),
    pct(a.within15),
    pct(a.within20),
    String(a.lowPairs),
    Number.isNaN(a.lowMeanAbsMgdl) ? '–' : `${a.lowMeanAbsMgdl.toFixed(1)} mg/dL`,
    pct(a.lowWithin15Mgdl),
    String(a.falseBelow54),
  ];
}
