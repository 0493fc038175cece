import { BadRequestError } from '@lantern/domain';
import type { BucketSize } from '@lantern/storage';

const DAY_MS = 86_400_000;

/**
 * The longest period one bucketed request may cover, per bucket size: about 10,000 buckets at
 * most (7 days of minutes), each read from the rollups. The dashboard's ranges (6 h of 1m, 24 h of
 * 5m, 7 d of 1h, 90 d of 1d) are well inside.
 */
export const MAX_BUCKETED_SPAN_MS: Record<BucketSize, number> = {
  '1m': 7 * DAY_MS,
  '5m': 31 * DAY_MS,
  '15m': 92 * DAY_MS,
  '1h': 366 * DAY_MS,
  '1d': 3660 * DAY_MS,
};

/**
 * Raw readings of one metric: each page is an index range read from its cursor on (2 ms for a
 * 1,000-reading page of 31 days of 1 Hz data, measured), so the bound only keeps one walk sane.
 */
export const MAX_RAW_SPAN_MS = 31 * DAY_MS;
/**
 * Raw readings of every metric: each page sorts all of the patient's readings in the period by
 * time (per page, for a 1 Hz pulse oximeter: 0.2 s for one day, 0.5 s for 7, 1.7 s for 31, measured).
 */
export const MAX_RAW_ALL_METRICS_SPAN_MS = 7 * DAY_MS;
/** The summary aggregates every raw reading of the period: 1.3 s for 14 days of a 1 Hz oximeter, 2.5 s for 31 (measured). */
export const MAX_SUMMARY_SPAN_MS = 31 * DAY_MS;

/** "7 days", "36 hours". */
export function spanText(ms: number): string {
  const [n, unit] = ms % DAY_MS === 0 ? [ms / DAY_MS, 'day'] : [Math.round(ms / 3_600_000), 'hour'];
  return `${n} ${unit}${n === 1 ? '' : 's'}`;
}

/** Throws a 400 naming the limit when [from, to) is longer than the request may cover. */
export function assertSpan(from: number, to: number, maxMs: number, what: string, hint: string): void {
  if (to - from <= maxMs) return;
  throw new BadRequestError(
    `${what} covers at most ${spanText(maxMs)} per request; from–to spans ${spanText(Math.ceil((to - from) / DAY_MS) * DAY_MS)}: ${hint}`,
  );
}
