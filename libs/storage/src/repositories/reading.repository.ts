import { Inject, Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import type { Reading } from '@lantern/domain';
import { prepared, queryPrepared } from '../prepared-statements.js';
import { STORAGE_MODE, type StorageMode } from '../storage-mode.js';
import { ReadingPartitions, isMissingPartition } from '../maintenance/reading-partitions.js';
import { float8Array, textArray, timestamptzArray, uuidArray } from './binary-arrays.js';
import { LOG_ONCE_WITHIN, ORIGIN } from './reading-rollup.sql.js';

/**
 * Stores readings, the same interface over both storage modes (ReadingHistoryRepository reads
 * them). The hot insert is one statement with six array parameters whatever the batch size, so it
 * never nears PostgreSQL's 65,535 bind-parameter limit; on PostgreSQL it also logs the minutes it
 * touched for the rollups, in the same statement.
 */
@Injectable()
export class ReadingRepository {
  constructor(
    private readonly dataSource: DataSource,
    @Inject(STORAGE_MODE) readonly mode: StorageMode,
    private readonly partitions: ReadingPartitions,
  ) {}

  /**
   * Stores a batch idempotently on (device_id, metric, time): a reading already stored — or repeated
   * within the batch — is skipped, so the first value wins. Returns how many rows were new. The
   * unique key is that one on TimescaleDB and (patient_id, metric, time, device_id) on PostgreSQL
   * (migration 1766000002300), the same unless an operator moves the device to another patient
   * (docs/storage.md); hence no conflict target.
   */
  async insertBatch(readings: readonly Reading[]): Promise<number> {
    if (readings.length === 0) return 0;
    const params = toColumns(readings);
    if (this.mode === 'timescaledb') {
      const rows = await queryPrepared<{ n: number }>(this.dataSource, INSERT_HYPERTABLE, params);
      return rows[0].n;
    }
    await this.partitions.ensureFor(readings.map((r) => r.time));
    try {
      return await this.insertPartitioned(params);
    } catch (error) {
      if (!isMissingPartition(error)) throw error;
      // Another process dropped a partition we thought existed (retention): re-learn and retry once.
      this.partitions.forget();
      await this.partitions.ensureFor(readings.map((r) => r.time));
      return this.insertPartitioned(params);
    }
  }

  private async insertPartitioned(params: Buffer[]): Promise<number> {
    // The minutes touched by new rows go to the rollup invalidation log in the same statement; a
    // minute logged within LOG_ONCE_WITHIN is not logged again (reading-rollup.sql.ts says why that is safe).
    // The log's insert is the statement's last step: unread by the main query, it runs at the end.
    const rows = await queryPrepared<{ n: number }>(this.dataSource, INSERT_PARTITIONED, params);
    return rows[0].n;
  }
}

const INSERT_SQL = `
  INSERT INTO readings (device_id, metric, time, patient_id, value, received_at)
  SELECT * FROM unnest($1::uuid[], $2::text[], $3::timestamptz[], $4::uuid[], $5::float8[], $6::timestamptz[])
  ON CONFLICT DO NOTHING`;

// The hot insert of each mode, prepared (prepared-statements.ts): planned once per connection, not per batch.
const INSERT_HYPERTABLE = prepared(
  'insert_readings',
  `WITH ins AS (${INSERT_SQL} RETURNING 1) SELECT count(*)::int AS n FROM ins`,
);

const INSERT_PARTITIONED = prepared(
  'insert_readings_logged',
  `WITH ins AS (${INSERT_SQL} RETURNING patient_id, metric, time),
            touched AS (
              SELECT DISTINCT patient_id, metric, date_bin(INTERVAL '1 minute', time, ${ORIGIN}) AS bucket FROM ins
            ),
            pending AS (
              INSERT INTO readings_rollup_pending (patient_id, metric, bucket)
              SELECT t.patient_id, t.metric, t.bucket FROM touched t
               WHERE NOT EXISTS (SELECT 1 FROM readings_rollup_pending p
                                  WHERE p.patient_id = t.patient_id AND p.metric = t.metric AND p.bucket = t.bucket
                                    AND p.logged_at >= clock_timestamp() - ${LOG_ONCE_WITHIN})
            )
       SELECT count(*)::int AS n FROM ins`,
);

/** The six columns as binary array parameters (binary-arrays.ts: no per-reading strings on either side). */
function toColumns(readings: readonly Reading[]): Buffer[] {
  const n = readings.length;
  const device = new Array<string>(n);
  const metric = new Array<string>(n);
  const time = new Array<number>(n);
  const patient = new Array<string>(n);
  const value = new Array<number>(n);
  const received = new Array<number>(n);
  for (let i = 0; i < n; i++) {
    const r = readings[i];
    device[i] = r.deviceId;
    metric[i] = r.metric;
    time[i] = r.time;
    patient[i] = r.patientId;
    value[i] = r.value;
    received[i] = r.receivedAt;
  }
  return [
    uuidArray(device),
    textArray(metric),
    timestamptzArray(time),
    uuidArray(patient),
    float8Array(value),
    timestamptzArray(received),
  ];
}
