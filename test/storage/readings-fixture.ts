import { randomUUID } from 'node:crypto';
import type { MetricKey, Reading } from '@lantern/domain';
import type { DataSource } from 'typeorm';
import type { BucketSize, MaintenanceSettings, ReadingBucket } from '@lantern/storage';

export const MINUTE = 60_000;
export const HOUR = 3_600_000;
export const DAY = 86_400_000;

/** The maintenance settings of every storage test: one definition, so that retention and rollup tests agree. */
export const MAINTENANCE_SETTINGS: MaintenanceSettings = {
  compressAfter: 7 * DAY,
  rawRetention: 90 * DAY,
  rollupRetention: 730 * DAY,
  rejectionRetention: 30 * DAY,
  partitionsAhead: 3,
  rollupIntervalMs: 60_000,
  ingestMaxBackfill: 30 * DAY,
};

export const BUCKET_WIDTH: Record<BucketSize, number> = {
  '1m': MINUTE,
  '5m': 5 * MINUTE,
  '15m': 15 * MINUTE,
  '1h': HOUR,
  '1d': DAY,
};

/** A small deterministic generator, so failures reproduce. */
export function seeded(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1_664_525 + 1_013_904_223) >>> 0;
    return s / 2 ** 32;
  };
}

export interface Patient {
  readonly patientId: string;
  readonly deviceId: string;
}

export function newPatient(): Patient {
  return { patientId: randomUUID(), deviceId: randomUUID() };
}

/** Readings of one metric every `stepMs` in [from, to), values from `value(i)`. */
export function series(
  p: Patient,
  metric: MetricKey,
  from: number,
  to: number,
  stepMs: number,
  value: (i: number) => number,
): Reading[] {
  const out: Reading[] = [];
  for (let t = from, i = 0; t < to; t += stepMs, i++) {
    out.push({ deviceId: p.deviceId, patientId: p.patientId, metric, time: t, value: value(i), receivedAt: t + 500 });
  }
  return out;
}

/** Buckets computed straight from raw readings, with the repository's range rule (bucket starts in [from, to)). */
export function bucketsOf(
  readings: readonly Reading[],
  metric: MetricKey,
  from: number,
  to: number,
  bucket: BucketSize,
): ReadingBucket[] {
  const width = BUCKET_WIDTH[bucket];
  const lo = Math.ceil(from / width) * width;
  const hi = Math.ceil(to / width) * width;
  const acc = new Map<number, { min: number; max: number; sum: number; count: number }>();
  for (const r of readings) {
    if (r.metric !== metric) continue;
    const ts = Math.floor(r.time / width) * width;
    if (ts < lo || ts >= hi) continue;
    const a = acc.get(ts);
    if (a) {
      a.min = Math.min(a.min, r.value);
      a.max = Math.max(a.max, r.value);
      a.sum += r.value;
      a.count++;
    } else acc.set(ts, { min: r.value, max: r.value, sum: r.value, count: 1 });
  }
  return [...acc.entries()]
    .sort(([a], [b]) => a - b)
    .map(([ts, a]) => ({ ts, min: a.min, max: a.max, avg: a.sum / a.count, count: a.count }));
}

/** Rounds avg so float summation order does not matter when comparing. */
export function rounded(buckets: readonly ReadingBucket[]): ReadingBucket[] {
  return buckets.map((b) => ({ ...b, avg: Math.round(b.avg * 1e9) / 1e9 }));
}

/**
 * Makes every entry of the rollup invalidation log look as if it had been logged an hour ago, so
 * that the next rollup run folds it in (a run takes only entries older than ROLLUP_SETTLE, 3 min).
 */
export async function ageRollupLog(dataSource: DataSource): Promise<void> {
  await dataSource.query(`UPDATE readings_rollup_pending SET logged_at = logged_at - INTERVAL '1 hour'`);
}
