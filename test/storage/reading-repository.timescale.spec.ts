import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { DataSource } from 'typeorm';
import type { Reading } from '@lantern/domain';
import {
  ReadingHistoryRepository,
  ReadingPartitions,
  ReadingRepository,
  ReadingRollupService,
  StorageMaintenanceService,
  createDataSource,
  detectStorageMode,
  runMigrations,
  type BucketSize,
} from '@lantern/storage';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { startTimescale, type TimescaleServer } from '../support/timescale.js';
import {
  DAY,
  HOUR,
  MINUTE,
  bucketsOf,
  newPatient,
  rounded,
  seeded,
  series,
  MAINTENANCE_SETTINGS,
} from './readings-fixture.js';

const settings = MAINTENANCE_SETTINGS;
const SIZES: BucketSize[] = ['1m', '5m', '15m', '1h', '1d'];

/** The TimescaleDB path, for real: PGlite with TimescaleDB 2.23 over the wire protocol, next to the PostgreSQL path. */
describe('ReadingRepository on TimescaleDB (hypertable, continuous aggregates, policies)', () => {
  let server: TimescaleServer;
  let ts: DataSource;
  let tsReadings: ReadingRepository;
  let tsHistory: ReadingHistoryRepository;
  let pg: TestDatabase;
  let pgReadings: ReadingRepository;
  let pgHistory: ReadingHistoryRepository;
  let pgRollup: ReadingRollupService;

  const now = Date.now();
  const patient = newPatient();
  const rnd = seeded(3);
  const from = now - 2 * DAY - 7 * MINUTE;
  const recent: Reading[] = [
    ...series(patient, 'glucose', from, now, 60_000, () => 50 + Math.round(rnd() * 2500) / 10),
    ...series(patient, 'heart_rate', now - 6 * HOUR, now, 15_000, () => 45 + Math.round(rnd() * 900) / 10),
  ];

  const jobs = async (): Promise<
    { job_id: number; proc_name: string; relation: string; config: Record<string, string> }[]
  > =>
    ts.query(`
      SELECT j.job_id, j.proc_name, coalesce(ca.view_name, j.hypertable_name)::text AS relation, j.config
        FROM timescaledb_information.jobs j
        LEFT JOIN timescaledb_information.continuous_aggregates ca ON ca.materialization_hypertable_name = j.hypertable_name
       WHERE j.hypertable_name IS NOT NULL
       ORDER BY relation, j.proc_name`);
  const runJob = async (proc: string, relation: string): Promise<void> => {
    const job = (await jobs()).find((j) => j.proc_name === proc && j.relation === relation);
    if (!job) throw new Error(`no ${proc} job on ${relation}`);
    await ts.query(`CALL run_job(${Number(job.job_id)})`);
  };
  const bothBucketed = async (metric: Reading['metric'], f: number, t: number, bucket: BucketSize) => [
    rounded(await tsHistory.bucketed(patient.patientId, { metric, from: f, to: t, bucket })),
    rounded(await pgHistory.bucketed(patient.patientId, { metric, from: f, to: t, bucket })),
  ];

  beforeAll(async () => {
    server = await startTimescale();
    pg = await createTestDatabase();
    // PGlite serves one connection at a time.
    ts = createDataSource({ url: server.url, poolSize: 1 });
    await ts.initialize();
    await runMigrations(ts);
    tsReadings = new ReadingRepository(ts, await detectStorageMode(ts), new ReadingPartitions(ts));
    tsHistory = new ReadingHistoryRepository(ts, tsReadings.mode);
    const partitions = new ReadingPartitions(pg.dataSource);
    pgReadings = new ReadingRepository(pg.dataSource, 'postgres', partitions);
    pgHistory = new ReadingHistoryRepository(pg.dataSource, 'postgres');
    pgRollup = new ReadingRollupService(pg.dataSource);
    await new StorageMaintenanceService(
      ts,
      'timescaledb',
      settings,
      new ReadingRollupService(ts),
      new ReadingPartitions(ts),
    ).applyTimescalePolicies();
  });
  afterAll(async () => {
    await ts?.destroy();
    await server?.stop();
    await pg?.drop();
  });

  it('migrates to a hypertable with 1-day chunks, compression settings and two continuous aggregates', async () => {
    expect(tsReadings.mode).toBe('timescaledb');
    const [dim] = await ts.query<{ seconds: number }[]>(
      `SELECT extract(epoch FROM time_interval)::int AS seconds FROM timescaledb_information.dimensions WHERE hypertable_name = 'readings'`,
    );
    expect(dim.seconds).toBe(86_400);
    const compression: {
      attname: string;
      segmentby_column_index: number | null;
      orderby_column_index: number | null;
    }[] = await ts.query(
      `SELECT attname, segmentby_column_index, orderby_column_index FROM timescaledb_information.compression_settings
        WHERE hypertable_name = 'readings' ORDER BY coalesce(segmentby_column_index, 100), orderby_column_index`,
    );
    expect(compression.filter((c) => c.segmentby_column_index !== null).map((c) => c.attname)).toEqual([
      'patient_id',
      'metric',
    ]);
    expect(compression.find((c) => c.orderby_column_index === 1)?.attname).toBe('time');
    const aggregates: { view_name: string; materialized_only: boolean }[] = await ts.query(
      `SELECT view_name::text, materialized_only FROM timescaledb_information.continuous_aggregates ORDER BY 1`,
    );
    expect(aggregates).toEqual([
      { view_name: 'readings_1h', materialized_only: false },
      { view_name: 'readings_1m', materialized_only: false },
    ]);
  });

  it('has compression, retention and refresh policies built from the configuration', async () => {
    const list = (await jobs()).map((j) => [j.relation, j.proc_name]);
    expect(list).toEqual([
      ['readings', 'policy_compression'],
      ['readings', 'policy_retention'],
      ['readings_1h', 'policy_refresh_continuous_aggregate'],
      ['readings_1h', 'policy_retention'],
      ['readings_1m', 'policy_refresh_continuous_aggregate'],
      ['readings_1m', 'policy_retention'],
    ]);
    const intervalOf = async (relation: string, proc: string, key: string): Promise<number> => {
      const job = (await jobs()).find((j) => j.relation === relation && j.proc_name === proc)!;
      const [row] = await ts.query<{ seconds: number }[]>(`SELECT extract(epoch FROM $1::interval)::int AS seconds`, [
        job.config[key],
      ]);
      return row.seconds * 1000;
    };
    expect(await intervalOf('readings', 'policy_compression', 'compress_after')).toBe(settings.compressAfter);
    expect(await intervalOf('readings', 'policy_retention', 'drop_after')).toBe(settings.rawRetention);
    expect(await intervalOf('readings_1m', 'policy_retention', 'drop_after')).toBe(settings.rollupRetention);
    expect(await intervalOf('readings_1h', 'policy_retention', 'drop_after')).toBe(settings.rollupRetention);
    expect(await intervalOf('readings_1m', 'policy_refresh_continuous_aggregate', 'end_offset')).toBe(MINUTE);
    // Applying again (every start) replaces rather than duplicates.
    await new StorageMaintenanceService(
      ts,
      'timescaledb',
      settings,
      new ReadingRollupService(ts),
      new ReadingPartitions(ts),
    ).applyTimescalePolicies();
    expect(await jobs()).toHaveLength(6);
  });

  it('returns the same bucketed numbers as the PostgreSQL path, before and after the aggregates refresh', async () => {
    expect(await tsReadings.insertBatch(recent)).toBe(recent.length);
    expect(await pgReadings.insertBatch(recent)).toBe(recent.length);
    await pgRollup.run();
    // Real-time aggregation only: nothing materialized yet.
    for (const bucket of SIZES) {
      const [onTimescale, onPostgres] = await bothBucketed('glucose', from, now + 1, bucket);
      expect(onTimescale).toEqual(onPostgres);
      expect(onTimescale).toEqual(rounded(bucketsOf(recent, 'glucose', from, now + 1, bucket)));
    }
    await runJob('policy_refresh_continuous_aggregate', 'readings_1m');
    await runJob('policy_refresh_continuous_aggregate', 'readings_1h');
    // The refresh really materialized rows (the queries below read them, plus real-time rows).
    const [{ table }] = await ts.query<{ table: string }[]>(
      `SELECT format('%I.%I', materialization_hypertable_schema, materialization_hypertable_name) AS table
         FROM timescaledb_information.continuous_aggregates WHERE view_name = 'readings_1m'`,
    );
    const [materialized] = await ts.query<{ n: number }[]>(`SELECT count(*)::int AS n FROM ${table}`);
    expect(materialized.n).toBeGreaterThan(0);
    // The newest minute arrives after the refresh: real-time aggregation covers it.
    const newest = series(
      patient,
      'heart_rate',
      now + 1_000,
      now + 40_000,
      3_000,
      () => 70 + Math.round(rnd() * 100) / 10,
    );
    await tsReadings.insertBatch(newest);
    await pgReadings.insertBatch(newest);
    const all = [...recent, ...newest];
    for (const metric of ['glucose', 'heart_rate'] as const) {
      for (const bucket of SIZES) {
        const [onTimescale, onPostgres] = await bothBucketed(metric, from, now + MINUTE, bucket);
        expect(onTimescale).toEqual(onPostgres);
        expect(onTimescale).toEqual(rounded(bucketsOf(all, metric, from, now + MINUTE, bucket)));
      }
    }
    // The other queries answer alike too.
    expect(await tsHistory.latest(patient.patientId)).toEqual(await pgHistory.latest(patient.patientId));
    const stats = async (repo: ReadingHistoryRepository) =>
      (await repo.statsByMetric(patient.patientId, from, now + MINUTE)).map((s) => ({
        ...s,
        mean: s.mean.toFixed(9),
        stddev: s.stddev?.toFixed(9),
      }));
    expect(await stats(tsHistory)).toEqual(await stats(pgHistory));
    const page = { from, to: now + MINUTE, limit: 500 };
    expect(await tsHistory.raw(patient.patientId, page)).toEqual(await pgHistory.raw(patient.patientId, page));
  });

  it('compresses old chunks and keeps inserts into them idempotent', async () => {
    const p = newPatient();
    const old = Math.floor((now - 10 * DAY) / DAY) * DAY + 3 * HOUR;
    const batch = series(p, 'spo2', old, old + 30 * MINUTE, MINUTE, (i) => 90 + (i % 9));
    expect(await tsReadings.insertBatch(batch)).toBe(30);
    await runJob('policy_compression', 'readings');
    const chunks: { is_compressed: boolean }[] = await ts.query(
      `SELECT is_compressed FROM timescaledb_information.chunks WHERE hypertable_name = 'readings' AND range_start <= $1 AND range_end > $1`,
      [new Date(old)],
    );
    expect(chunks).toEqual([{ is_compressed: true }]);
    expect(await tsReadings.insertBatch([{ ...batch[0], value: 50 }])).toBe(0);
    const stored = await tsHistory.raw(p.patientId, { from: old, to: old + HOUR });
    expect(stored.readings.map((r) => r.value)).toEqual(batch.map((r) => r.value));
  });

  it('drops chunks past the raw retention', async () => {
    const p = newPatient();
    const expired = now - 95 * DAY;
    await tsReadings.insertBatch(series(p, 'heart_rate', expired, expired + 5 * MINUTE, MINUTE, () => 60));
    const chunksAt = async (t: number): Promise<number> =>
      (
        await ts.query<{ n: number }[]>(
          `SELECT count(*)::int AS n FROM timescaledb_information.chunks WHERE hypertable_name = 'readings' AND range_start <= $1 AND range_end > $1`,
          [new Date(t)],
        )
      )[0].n;
    expect(await chunksAt(expired)).toBe(1);
    await runJob('policy_retention', 'readings');
    expect(await chunksAt(expired)).toBe(0);
    expect(await chunksAt(now)).toBe(1);
    expect((await tsHistory.raw(p.patientId, { from: expired - DAY, to: expired + DAY })).readings).toHaveLength(0);
  });
});
