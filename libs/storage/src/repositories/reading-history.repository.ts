import { Inject, Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { METRIC_KEYS, type MetricKey, type Reading } from '@lantern/domain';
import { STORAGE_MODE, type StorageMode } from '../storage-mode.js';
import { decodeCursor, encodeCursor } from './reading-cursor.js';
import { ORIGIN, PG_HOURS, PG_MINUTES } from './reading-rollup.sql.js';

export type BucketSize = '1m' | '5m' | '15m' | '1h' | '1d';

export const BUCKET_MS: Record<BucketSize, number> = {
  '1m': 60_000,
  '5m': 300_000,
  '15m': 900_000,
  '1h': 3_600_000,
  '1d': 86_400_000,
};

/** One time bucket of one metric: `ts` is the bucket's start (epoch ms). */
export interface ReadingBucket {
  readonly ts: number;
  readonly min: number;
  readonly max: number;
  readonly avg: number;
  readonly count: number;
}

export interface LatestReading {
  readonly metric: MetricKey;
  readonly value: number;
  /** Event time (measured, from the device), epoch ms. */
  readonly time: number;
  /** Wall time the ingest received it, epoch ms. */
  readonly receivedAt: number;
  readonly deviceId: string;
}

/** Counts of glucose readings (mg/dL) against the standard CGM thresholds. */
export interface GlucoseCounts {
  readonly below54: number;
  readonly below70: number;
  readonly inRange70To180: number;
  readonly above180: number;
  readonly above250: number;
}

export interface MetricStats {
  readonly metric: MetricKey;
  readonly count: number;
  readonly min: number;
  readonly max: number;
  readonly mean: number;
  /** Sample standard deviation; null with fewer than two readings. */
  readonly stddev: number | null;
  readonly first: number;
  readonly last: number;
  /** Present for glucose only. */
  readonly glucose?: GlucoseCounts;
}

export interface RawQuery {
  readonly metric?: MetricKey;
  /** Only these metrics (a caregiver's shared ones); every metric when absent. */
  readonly metrics?: readonly MetricKey[];
  /** Inclusive, epoch ms. */
  readonly from: number;
  /** Exclusive, epoch ms. */
  readonly to: number;
  /** At most {@link MAX_RAW_LIMIT}. */
  readonly limit?: number;
  /** `nextCursor` of the previous page. */
  readonly cursor?: string;
}

export interface RawPage {
  readonly readings: Reading[];
  /** Present when more readings follow; pass it back as `cursor`. */
  readonly nextCursor?: string;
}

export interface BucketedQuery {
  readonly metric: MetricKey;
  /** Buckets whose start lies in [from, to) are returned; each covers its whole interval. Epoch ms. */
  readonly from: number;
  readonly to: number;
  readonly bucket: BucketSize;
}

export const MAX_RAW_LIMIT = 10_000;

interface RawRow {
  device_id: string;
  patient_id: string;
  metric: MetricKey;
  value: number;
  time: Date;
  received_at: Date;
}
interface BucketRow {
  ts: Date;
  min: number;
  max: number;
  avg: number;
  count: number;
}

/**
 * A patient's reading history, the same interface over both storage modes: raw readings a page at
 * a time, min/max/avg/count per bucket from the rollups, the latest value of each metric and
 * per-metric statistics. All SQL is written out here (the rollup sources in reading-rollup.sql.ts).
 */
@Injectable()
export class ReadingHistoryRepository {
  constructor(
    private readonly dataSource: DataSource,
    @Inject(STORAGE_MODE) private readonly mode: StorageMode,
  ) {}

  /** Raw readings of a patient, time ascending, one page at a time. */
  async raw(patientId: string, query: RawQuery): Promise<RawPage> {
    const limit = query.limit ?? MAX_RAW_LIMIT;
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_RAW_LIMIT) {
      throw new RangeError(`limit must be an integer between 1 and ${MAX_RAW_LIMIT}`);
    }
    const after = query.cursor === undefined ? undefined : decodeCursor(query.cursor);
    const rows: RawRow[] = await this.dataSource.query(
      `SELECT device_id, patient_id, metric, value, time, received_at
         FROM readings
        WHERE patient_id = $1
          AND ($2::text IS NULL OR metric = $2)
          AND time >= $3 AND time < $4
          AND ($5::timestamptz IS NULL OR (time, metric, device_id) > ($5, $6::text, $7::uuid))
          AND ($9::text[] IS NULL OR metric = ANY ($9))
        ORDER BY time, metric, device_id
        LIMIT $8`,
      [
        patientId,
        query.metric ?? null,
        new Date(query.from),
        new Date(query.to),
        after ? new Date(after.time) : null,
        after?.metric ?? null,
        after?.deviceId ?? null,
        limit + 1,
        query.metrics === undefined ? null : [...query.metrics],
      ],
    );
    const page = rows.slice(0, limit).map(toReading);
    const last = page[page.length - 1];
    return rows.length > limit && last
      ? { readings: page, nextCursor: encodeCursor({ time: last.time, metric: last.metric, deviceId: last.deviceId }) }
      : { readings: page };
  }

  /**
   * min/max/avg/count per bucket from the rollups (5m and 15m from 1m, 1d from 1h), including the
   * newest readings not yet rolled up: real-time aggregates on TimescaleDB; on PostgreSQL the
   * minutes still in the invalidation log are computed from raw rows instead of their rollup rows.
   */
  async bucketed(patientId: string, query: BucketedQuery): Promise<ReadingBucket[]> {
    const width = BUCKET_MS[query.bucket];
    if (width === undefined) throw new RangeError(`Unknown bucket size ${String(query.bucket)}`);
    // Align the range to whole buckets so the source rows are exactly those of the returned buckets.
    const lo = new Date(Math.ceil(query.from / width) * width);
    const hi = new Date(Math.ceil(query.to / width) * width);
    if (lo >= hi) return [];
    const hourly = width >= 3_600_000;
    const source =
      this.mode === 'timescaledb'
        ? `SELECT bucket, min, max, sum, count FROM ${hourly ? 'readings_1h' : 'readings_1m'}
            WHERE patient_id = $1 AND metric = $2 AND bucket >= $3 AND bucket < $4`
        : hourly
          ? PG_HOURS
          : PG_MINUTES;
    const rows: BucketRow[] = await this.dataSource.query(
      `WITH src AS (${source})
       SELECT date_bin($5::interval, bucket, ${ORIGIN}) AS ts,
              min(min) AS min, max(max) AS max, sum(sum) / sum(count) AS avg, sum(count)::int AS count
         FROM src
        GROUP BY 1
        ORDER BY 1`,
      [patientId, query.metric, lo, hi, `${width / 1000} seconds`],
    );
    return rows.map((r) => ({ ts: r.ts.getTime(), min: r.min, max: r.max, avg: Number(r.avg), count: r.count }));
  }

  /** The latest reading of every metric the patient has (of `metrics` only, when given), with its time and device. */
  async latest(patientId: string, metrics: readonly MetricKey[] = METRIC_KEYS): Promise<LatestReading[]> {
    // One index probe per catalog metric, rather than DISTINCT ON over the patient's whole history.
    const rows: { metric: MetricKey; value: number; time: Date; received_at: Date; device_id: string }[] =
      await this.dataSource.query(
        `SELECT l.metric, l.value, l.time, l.received_at, l.device_id
         FROM unnest($2::text[]) AS m(metric)
         CROSS JOIN LATERAL (
           SELECT metric, value, time, received_at, device_id
             FROM readings
            WHERE patient_id = $1 AND metric = m.metric
            ORDER BY time DESC
            LIMIT 1
         ) l
        ORDER BY l.metric`,
        [patientId, [...metrics]],
      );
    return rows.map((r) => ({
      metric: r.metric,
      value: r.value,
      time: r.time.getTime(),
      receivedAt: r.received_at.getTime(),
      deviceId: r.device_id,
    }));
  }

  /** Per-metric statistics of a patient's raw readings in [from, to), computed in SQL. */
  async statsByMetric(patientId: string, from: number, to: number): Promise<MetricStats[]> {
    const rows: {
      metric: MetricKey;
      count: number;
      min: number;
      max: number;
      mean: number;
      stddev: number | null;
      first: Date;
      last: Date;
      below54: number;
      below70: number;
      in_range: number;
      above180: number;
      above250: number;
    }[] = await this.dataSource.query(
      `SELECT metric, count(*)::int AS count, min(value) AS min, max(value) AS max, avg(value) AS mean,
              stddev_samp(value) AS stddev, min(time) AS first, max(time) AS last,
              count(*) FILTER (WHERE value < 54)::int AS below54,
              count(*) FILTER (WHERE value < 70)::int AS below70,
              count(*) FILTER (WHERE value >= 70 AND value <= 180)::int AS in_range,
              count(*) FILTER (WHERE value > 180)::int AS above180,
              count(*) FILTER (WHERE value > 250)::int AS above250
         FROM readings
        WHERE patient_id = $1 AND time >= $2 AND time < $3
        GROUP BY metric
        ORDER BY metric`,
      [patientId, new Date(from), new Date(to)],
    );
    return rows.map((r) => ({
      metric: r.metric,
      count: r.count,
      min: r.min,
      max: r.max,
      mean: r.mean,
      stddev: r.stddev,
      first: r.first.getTime(),
      last: r.last.getTime(),
      ...(r.metric === 'glucose'
        ? {
            glucose: {
              below54: r.below54,
              below70: r.below70,
              inRange70To180: r.in_range,
              above180: r.above180,
              above250: r.above250,
            },
          }
        : {}),
    }));
  }
}

function toReading(r: RawRow): Reading {
  return {
    deviceId: r.device_id,
    patientId: r.patient_id,
    metric: r.metric,
    value: r.value,
    time: r.time.getTime(),
    receivedAt: r.received_at.getTime(),
  };
}
