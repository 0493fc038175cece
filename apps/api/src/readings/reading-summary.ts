import { DEVICE_TYPES, expectedIntervalFor, METRICS, type DeviceTypeKey, type MetricKey } from '@lantern/domain';
import type { MetricStats } from '@lantern/storage';

/** A device as far as coverage cares: what it measures and while it was in service. */
export interface CoverageDevice {
  readonly type: DeviceTypeKey;
  readonly createdAt: number;
  readonly decommissionedAt?: number;
}

/** Standard CGM figures (international consensus on time in ranges, Battelino et al. 2019). */
export interface GlucoseFigures {
  /** Percent of readings in 70–180 mg/dL inclusive. */
  readonly timeInRange: number;
  /** Percent below 70 mg/dL (includes those below 54). */
  readonly timeBelow70: number;
  readonly timeBelow54: number;
  /** Percent above 180 mg/dL (includes those above 250). */
  readonly timeAbove180: number;
  readonly timeAbove250: number;
  /** Mean glucose, mg/dL. */
  readonly meanGlucose: number;
  /** Glucose management indicator, percent: 3.31 + 0.02392 × mean mg/dL. */
  readonly gmi: number;
  /** Coefficient of variation, percent: sample SD / mean × 100; null with fewer than two readings. */
  readonly cv: number | null;
}

export interface MetricSummary {
  readonly metric: MetricKey;
  readonly unit: string;
  readonly count: number;
  readonly mean: number | null;
  readonly min: number | null;
  readonly max: number | null;
  /** Readings the patient's devices should have sent in the period (null when none measures the metric). */
  readonly expectedCount: number | null;
  /** count / expectedCount, capped at 1; null when nothing was expected. */
  readonly coverage: number | null;
  readonly glucose?: GlucoseFigures;
}

/** Expected readings of one metric in [from, to): the window each device was in service, at the fastest expected interval. */
export function expectedReadings(
  metric: MetricKey,
  devices: readonly CoverageDevice[],
  from: number,
  to: number,
): number | null {
  const measuring = devices.filter((d) => (DEVICE_TYPES[d.type].metrics as readonly MetricKey[]).includes(metric));
  if (measuring.length === 0) return null;
  // The pace is set by the devices in service during the period: a long-gone oximeter does not raise expectations.
  const inService = measuring.filter((d) => d.createdAt < to && (d.decommissionedAt ?? Infinity) > from);
  const intervalSec = expectedIntervalFor(
    metric,
    inService.map((d) => d.type),
  );
  if (intervalSec === undefined) return 0;
  // The union of the measuring devices' service windows clipped to the period: a device added mid-period
  // is not blamed for the days before it existed, nor a decommissioned one for the days after.
  const spans = measuring
    .map((d) => [Math.max(from, d.createdAt), Math.min(to, d.decommissionedAt ?? Infinity)] as const)
    .filter(([a, b]) => b > a)
    .sort((x, y) => x[0] - y[0]);
  let covered = 0;
  let cursor = -Infinity;
  for (const [a, b] of spans) {
    const start = Math.max(a, cursor);
    if (b > start) covered += b - start;
    cursor = Math.max(cursor, b);
  }
  return Math.floor(covered / (intervalSec * 1000));
}

/** CGM figures from the repository's glucose counts. */
export function glucoseFigures(stats: MetricStats): GlucoseFigures | undefined {
  const g = stats.glucose;
  if (!g || stats.count === 0) return undefined;
  const pct = (n: number): number => (n / stats.count) * 100;
  return {
    timeInRange: pct(g.inRange70To180),
    timeBelow70: pct(g.below70),
    timeBelow54: pct(g.below54),
    timeAbove180: pct(g.above180),
    timeAbove250: pct(g.above250),
    meanGlucose: stats.mean,
    gmi: 3.31 + 0.02392 * stats.mean,
    cv: stats.stddev === null || stats.mean === 0 ? null : (stats.stddev / stats.mean) * 100,
  };
}

/**
 * A patient's period summary: every metric with readings, plus every metric a device of theirs should
 * have reported (count 0, coverage 0), in catalog order. `to` should already be clipped to now.
 */
export function summarizeReadings(
  stats: readonly MetricStats[],
  devices: readonly CoverageDevice[],
  from: number,
  to: number,
): MetricSummary[] {
  const byMetric = new Map(stats.map((s) => [s.metric, s]));
  const expectedMetrics = new Set(devices.flatMap((d) => DEVICE_TYPES[d.type].metrics as readonly MetricKey[]));
  const metrics = (Object.keys(METRICS) as MetricKey[]).filter((m) => byMetric.has(m) || expectedMetrics.has(m));
  return metrics.map((metric) => {
    const s = byMetric.get(metric);
    const expectedCount = expectedReadings(metric, devices, from, to);
    const count = s?.count ?? 0;
    const coverage = expectedCount === null || expectedCount === 0 ? null : Math.min(1, count / expectedCount);
    const glucose = s ? glucoseFigures(s) : undefined;
    return {
      metric,
      unit: METRICS[metric].unit,
      count,
      mean: s?.mean ?? null,
      min: s?.min ?? null,
      max: s?.max ?? null,
      expectedCount,
      coverage,
      ...(glucose ? { glucose } : {}),
    };
  });
}
