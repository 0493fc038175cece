import type { AlertAlgorithm } from './alert-algorithms.js';
import { computeMetrics, outcomeOf, type AlertMetrics } from './alert-metrics.js';
import type { PatientGroup, PatientTrace } from './virtual-patient.js';

export type GroupKey = 'all' | PatientGroup;
export const GROUPS: readonly GroupKey[] = ['all', 'adult', 'child'];

/** One algorithm's metrics over the corpus, overall and per patient group. */
export interface AlgorithmResult {
  readonly name: string;
  readonly metrics: Readonly<Record<GroupKey, AlertMetrics>>;
}

/** Runs each algorithm over every trace and scores its alerts against the traces' true glucose. */
export function evaluate(corpus: readonly PatientTrace[], algorithms: readonly AlertAlgorithm[]): AlgorithmResult[] {
  return algorithms.map((algorithm) => {
    const outcomes = corpus.map((trace) => outcomeOf(trace, algorithm.run(trace)));
    const metrics = Object.fromEntries(
      GROUPS.map((g) => [g, computeMetrics(outcomes.filter((o) => g === 'all' || o.group === g))]),
    ) as Record<GroupKey, AlertMetrics>;
    return { name: algorithm.name, metrics };
  });
}
