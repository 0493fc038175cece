import { Inject, Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import type { Reading } from '@lantern/domain';
import { STORAGE_MODE, type StorageMode } from '../storage-mode.js';
import { ReadingPartitions, isMissingPartition } from '../maintenance/reading-partitions.js';
import { ORIGIN } from './reading-rollup.sql.js';

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
   * within the batch — is skipped, so the first value wins. Returns how many rows were new.
   */
  async insertBatch(readings: readonly Reading[]): Promise<number> {
    if (readings.length === 0) return 0;
    const params = toColumns(readings);
    if (this.mode === 'timescaledb') {
      const rows: { n: number }[] = await this.dataSource.query(
        `WITH ins AS (${INSERT_SQL} RETURNING 1) SELECT count(*)::int AS n FROM ins`,
        params,
      );
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

  private async insertPartitioned(params: unknown[]): Promise<number> {
    // The minutes touched by new rows go to the rollup invalidation log in the same statement.
    const rows: { n: number }[] = await this.dataSource.query(
      `WITH ins AS (${INSERT_SQL} RETURNING patient_id, metric, time),
            pending AS (
              INSERT INTO readings_rollup_pending (patient_id, metric, bucket)
              SELECT DISTINCT patient_id, metric, date_bin(INTERVAL '1 minute', time, ${ORIGIN}) FROM ins
            )
       SELECT count(*)::int AS n FROM ins`,
      params,
    );
    return rows[0].n;
  }
}

const INSERT_SQL = `
  INSERT INTO readings (device_id, metric, time, patient_id, value, received_at)
  SELECT * FROM unnest($1::uuid[], $2::text[], $3::timestamptz[], $4::uuid[], $5::float8[], $6::timestamptz[])
  ON CONFLICT (device_id, metric, time) DO NOTHING`;

function toColumns(readings: readonly Reading[]): unknown[] {
  const n = readings.length;
  const device = new Array<string>(n);
  const metric = new Array<string>(n);
  const time = new Array<string>(n);
  const patient = new Array<string>(n);
  const value = new Array<number>(n);
  const received = new Array<string>(n);
  for (let i = 0; i < n; i++) {
    const r = readings[i];
    device[i] = r.deviceId;
    metric[i] = r.metric;
    time[i] = new Date(r.time).toISOString();
    patient[i] = r.patientId;
    value[i] = r.value;
    received[i] = new Date(r.receivedAt).toISOString();
  }
  return [device, metric, time, patient, value, received];
}
