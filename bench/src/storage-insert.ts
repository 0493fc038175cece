/**
 * Batch insert of readings, measured on the server of DATABASE_URL (PostgreSQL mode schema):
 * `INSERT … SELECT FROM unnest(…) ON CONFLICT DO NOTHING` (what ReadingRepository does) against
 * COPY into a temporary staging table followed by the same INSERT … SELECT. Both variants also
 * write the rollup invalidation log, as production does. Prints rows/s; docs/storage.md has the numbers.
 *
 *   npm run build && node dist/bench/bench/src/storage-insert.js [rows] [batchSize]
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import type { Reading } from '@lantern/domain';
import { ReadingPartitions, ReadingRepository, createDataSource, runMigrations } from '@lantern/storage';

const ROWS = Number(process.argv[2] ?? 200_000);
const BATCH = Number(process.argv[3] ?? 5_000);
const DEVICES = 1_000;
const ROUNDS = 3;

const admin = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const name = `lantern_bench_${randomBytes(4).toString('hex')}`;

function readings(): Reading[] {
  const devices = Array.from({ length: DEVICES }, () => ({ deviceId: randomUUID(), patientId: randomUUID() }));
  const start = Date.now() - Math.ceil(ROWS / DEVICES) * 1000;
  const out: Reading[] = [];
  for (let i = 0; i < ROWS; i++) {
    const d = devices[i % DEVICES];
    const time = start + Math.floor(i / DEVICES) * 1000;
    out.push({ ...d, metric: 'heart_rate', time, value: 60 + (i % 50), receivedAt: time + 200 });
  }
  return out;
}

async function copyBatch(client: pg.PoolClient, batch: Reading[]): Promise<void> {
  await client.query('BEGIN');
  const lines = batch.map(
    (r) =>
      `${r.deviceId}\t${r.metric}\t${new Date(r.time).toISOString()}\t${r.patientId}\t${r.value}\t${new Date(r.receivedAt).toISOString()}\n`,
  );
  await pipeline(Readable.from([lines.join('')]), client.query(copyFrom('COPY readings_staging FROM STDIN')));
  await client.query(`
    WITH ins AS (
      INSERT INTO readings (device_id, metric, time, patient_id, value, received_at)
      SELECT device_id, metric, time, patient_id, value, received_at FROM readings_staging
      ON CONFLICT DO NOTHING
      RETURNING patient_id, metric, time
    )
    INSERT INTO readings_rollup_pending (patient_id, metric, bucket)
    SELECT DISTINCT patient_id, metric, date_bin(INTERVAL '1 minute', time, TIMESTAMPTZ '2000-01-01 00:00:00+00') FROM ins`);
  await client.query('COMMIT'); // ON COMMIT DELETE ROWS empties the staging table
}

const PLAIN_UNNEST = `
  INSERT INTO readings (device_id, metric, time, patient_id, value, received_at)
  SELECT * FROM unnest($1::uuid[], $2::text[], $3::timestamptz[], $4::uuid[], $5::float8[], $6::timestamptz[])
  ON CONFLICT DO NOTHING`;

function columns(batch: Reading[]): unknown[] {
  return [
    batch.map((r) => r.deviceId),
    batch.map((r) => r.metric),
    batch.map((r) => new Date(r.time).toISOString()),
    batch.map((r) => r.patientId),
    batch.map((r) => r.value),
    batch.map((r) => new Date(r.receivedAt).toISOString()),
  ];
}

async function main(): Promise<void> {
  const adminClient = new pg.Client({ connectionString: admin });
  await adminClient.connect();
  await adminClient.query(`CREATE DATABASE ${name}`);
  const url = new URL(admin);
  url.pathname = `/${name}`;
  const dataSource = createDataSource({ url: url.toString(), poolSize: 2 });
  const pool = new pg.Pool({ connectionString: url.toString(), max: 1 });
  try {
    await dataSource.initialize();
    await runMigrations(dataSource);
    const partitions = new ReadingPartitions(dataSource);
    const repository = new ReadingRepository(dataSource, 'postgres', partitions);
    const data = readings();
    await partitions.ensureFor(data.map((r) => r.time));
    const client = await pool.connect();
    await client.query(`CREATE TEMP TABLE readings_staging (LIKE readings) ON COMMIT DELETE ROWS`);

    const strategies: [string, (batch: Reading[]) => Promise<unknown>][] = [
      ['unnest', (batch) => repository.insertBatch(batch)],
      ['copy', (batch) => copyBatch(client, batch)],
      // For reference: what the invalidation log costs (TimescaleDB mode inserts without it).
      ['unnest without log', (batch) => dataSource.query(PLAIN_UNNEST, columns(batch))],
    ];
    const [server] = await dataSource.query<{ server_version: string }[]>('SHOW server_version');
    console.log(`${ROWS} readings, batches of ${BATCH}, ${DEVICES} devices, PostgreSQL ${server.server_version}`);
    const results = new Map<string, { fresh: number[]; duplicate: number[] }>();
    for (let round = 0; round < ROUNDS; round++) {
      for (const [label, insert] of strategies) {
        await dataSource.query('TRUNCATE readings, readings_rollup_pending');
        const r = results.get(label) ?? { fresh: [], duplicate: [] };
        results.set(label, r);
        for (const kind of ['fresh', 'duplicate'] as const) {
          const t0 = performance.now();
          for (let i = 0; i < data.length; i += BATCH) await insert(data.slice(i, i + BATCH));
          r[kind].push(Math.round(data.length / ((performance.now() - t0) / 1000)));
        }
      }
    }
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
    for (const [label, r] of results) {
      console.log(
        `${label.padEnd(18)} new rows: ${median(r.fresh).toLocaleString('en')} rows/s   all duplicates: ${median(r.duplicate).toLocaleString('en')} rows/s   (median of ${ROUNDS})`,
      );
    }
    client.release();
  } finally {
    await pool.end();
    if (dataSource.isInitialized) await dataSource.destroy();
    await adminClient.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await adminClient.end();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
