import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The time-series tables. Their shape depends on the server: with TimescaleDB a hypertable plus
 * continuous aggregates; without it a table partitioned by day plus rollup tables the application
 * keeps (see reading-rollup.service.ts). Both expose the same columns, so queries differ only where
 * they must. Policies (compression, retention, refresh) are not created here: their intervals are
 * configuration, applied at start by StorageMaintenanceService.
 */
export class ReadingsSchema1764000000100 implements MigrationInterface {
  name = 'ReadingsSchema1764000000100';

  async up(q: QueryRunner): Promise<void> {
    if (await enableTimescale(q)) await this.timescale(q);
    else await this.postgres(q);
  }

  private async timescale(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE readings (
        device_id    uuid NOT NULL,
        metric       text NOT NULL,
        time         timestamptz NOT NULL,
        patient_id   uuid NOT NULL,
        value        double precision NOT NULL,
        received_at  timestamptz NOT NULL,
        PRIMARY KEY (device_id, metric, time)
      )`);
    await q.query(
      `SELECT create_hypertable('readings', by_range('time', INTERVAL '1 day'), create_default_indexes => false)`,
    );
    await q.query(`CREATE INDEX readings_patient_metric_time_idx ON readings (patient_id, metric, time)`);
    await q.query(`
      ALTER TABLE readings SET (
        timescaledb.compress,
        timescaledb.compress_segmentby = 'patient_id, metric',
        timescaledb.compress_orderby = 'time, device_id'
      )`);
    // sum and count rather than avg, so coarser buckets combine exactly (avg = sum / count).
    // Real-time aggregation on: buckets not yet materialized are computed from raw rows at query time.
    await q.query(`
      CREATE MATERIALIZED VIEW readings_1m
      WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
      SELECT patient_id, metric, time_bucket(INTERVAL '1 minute', time) AS bucket,
             min(value) AS min, max(value) AS max, sum(value) AS sum, count(*) AS count
        FROM readings
       GROUP BY patient_id, metric, bucket
      WITH NO DATA`);
    await q.query(`
      CREATE MATERIALIZED VIEW readings_1h
      WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
      SELECT patient_id, metric, time_bucket(INTERVAL '1 hour', bucket) AS bucket,
             min(min) AS min, max(max) AS max, sum(sum) AS sum, sum(count)::bigint AS count
        FROM readings_1m
       GROUP BY patient_id, metric, time_bucket(INTERVAL '1 hour', bucket)
      WITH NO DATA`);
  }

  private async postgres(q: QueryRunner): Promise<void> {
    // Partitioned by day (UTC); partitions are created ahead by the maintenance job and on demand
    // by ReadingRepository.insertBatch for back-filled dates, and retention drops whole partitions.
    await q.query(`
      CREATE TABLE readings (
        device_id    uuid NOT NULL,
        metric       text NOT NULL,
        time         timestamptz NOT NULL,
        patient_id   uuid NOT NULL,
        value        double precision NOT NULL,
        received_at  timestamptz NOT NULL,
        PRIMARY KEY (device_id, metric, time)
      ) PARTITION BY RANGE (time)`);
    await q.query(`CREATE INDEX readings_patient_metric_time_idx ON readings (patient_id, metric, time)`);
    for (const table of ['readings_1m', 'readings_1h']) {
      await q.query(`
        CREATE TABLE ${table} (
          patient_id  uuid NOT NULL,
          metric      text NOT NULL,
          bucket      timestamptz NOT NULL,
          min         double precision NOT NULL,
          max         double precision NOT NULL,
          sum         double precision NOT NULL,
          count       bigint NOT NULL,
          PRIMARY KEY (patient_id, metric, bucket)
        )`);
      await q.query(`CREATE INDEX ${table}_bucket_idx ON ${table} (bucket)`);
    }
    // Invalidation log: every insert records the minutes it touched, in the same statement, so the
    // rollup job recomputes exactly those (late readings included) and queries know which rollup
    // rows are not yet current. No unique key on purpose: concurrent writers never wait on each other.
    await q.query(`
      CREATE TABLE readings_rollup_pending (
        patient_id  uuid NOT NULL,
        metric      text NOT NULL,
        bucket      timestamptz NOT NULL
      )`);
    await q.query(`CREATE INDEX readings_rollup_pending_idx ON readings_rollup_pending (patient_id, metric, bucket)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP MATERIALIZED VIEW IF EXISTS readings_1h`);
    await q.query(`DROP MATERIALIZED VIEW IF EXISTS readings_1m`);
    await q.query(`DROP TABLE IF EXISTS readings_rollup_pending, readings_1h, readings_1m, readings`);
  }
}

/** Creates the timescaledb extension when the server offers it and we may; true when it is installed afterwards. */
async function enableTimescale(q: QueryRunner): Promise<boolean> {
  const available = (await q.query(`SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb'`)) as unknown[];
  if (available.length > 0) {
    // A savepoint, because a refused CREATE EXTENSION (no permission, library not preloaded) would
    // otherwise abort the migration's transaction; plain PostgreSQL mode is the fallback.
    await q.query(`SAVEPOINT lantern_timescaledb`);
    try {
      await q.query(`CREATE EXTENSION IF NOT EXISTS timescaledb`);
      await q.query(`RELEASE SAVEPOINT lantern_timescaledb`);
    } catch {
      await q.query(`ROLLBACK TO SAVEPOINT lantern_timescaledb`);
    }
  }
  const installed = (await q.query(`SELECT 1 FROM pg_extension WHERE extname = 'timescaledb'`)) as unknown[];
  return installed.length > 0;
}
