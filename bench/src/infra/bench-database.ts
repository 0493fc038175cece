import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import pg from 'pg';
import { hashDeviceSecret } from '@lantern/auth';
import { findFreePort, startEmbeddedPostgres } from '@lantern/embedded';
import { createDataSource, runMigrations } from '@lantern/storage';

export interface BenchDatabase {
  url: string;
  pool: pg.Pool;
  drop(): Promise<void>;
}

export interface SeededDevice {
  deviceId: string;
  secret: string;
  patientId: string;
}

/**
 * The PostgreSQL server a harness creates its database on: `databaseUrl`, else an embedded
 * PostgreSQL in `workDir/postgres`; `stop` stops what was started (nothing for a given server).
 */
export async function benchDatabaseServer(
  databaseUrl: string | undefined,
  workDir: string,
): Promise<{ url: string; stop: () => Promise<void> }> {
  if (databaseUrl) return { url: databaseUrl, stop: () => Promise.resolve() };
  const postgres = await startEmbeddedPostgres({
    dataDir: join(workDir, 'postgres'),
    port: await findFreePort(),
    database: 'postgres',
  });
  return { url: postgres.adminUrl, stop: () => postgres.stop() };
}

/** A fresh, migrated database on the server of `serverUrl` (dropped at the end unless kept). */
export async function createBenchDatabase(serverUrl: string): Promise<BenchDatabase> {
  const name = `lantern_bench_${Date.now().toString(36)}_${randomBytes(3).toString('hex')}`;
  await withClient(serverUrl, (c) => c.query(`CREATE DATABASE ${name}`));
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  const dataSource = createDataSource({ url: url.toString(), poolSize: 2, applicationName: 'lantern-bench' });
  await dataSource.initialize();
  try {
    await runMigrations(dataSource);
  } finally {
    await dataSource.destroy();
  }
  const pool = new pg.Pool({ connectionString: url.toString(), max: 4, application_name: 'lantern-bench' });
  // An idle connection ended by the server (the chaos run's database outage, the FORCE drop) must
  // not crash the run as an unhandled 'error'; the next query opens a new one.
  pool.on('error', () => undefined);
  return {
    url: url.toString(),
    pool,
    async drop() {
      await pool.end();
      await withClient(serverUrl, (c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
    },
  };
}

async function withClient<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/**
 * Seeds `count` patients with one device of `type` each, straight into the tables (thousands of
 * REST calls would measure the API, not the ingest). Secrets are stored hashed as Lantern does.
 */
export async function seedDevices(pool: pg.Pool, count: number, type: string, label: string): Promise<SeededDevice[]> {
  const out: SeededDevice[] = [];
  for (let offset = 0; offset < count; offset += 2000) {
    const n = Math.min(2000, count - offset);
    const secrets = Array.from({ length: n }, () => randomBytes(16).toString('base64url'));
    const { rows: patients } = await pool.query<{ id: string }>(
      `INSERT INTO patients (display_name) SELECT $1 || ' ' || g FROM generate_series($2::int, $3::int) g RETURNING id`,
      [label, offset + 1, offset + n],
    );
    const { rows: devices } = await pool.query<{ id: string; patient_id: string }>(
      `INSERT INTO devices (patient_id, type, serial, secret_hash)
       SELECT p, $1, 'BENCH-' || ord, h FROM unnest($2::uuid[], $3::text[]) WITH ORDINALITY AS t(p, h, ord)
       RETURNING id, patient_id`,
      [type, patients.map((p) => p.id), secrets.map(hashDeviceSecret)],
    );
    // RETURNING follows the insert order of the unnest, so secrets line up with devices.
    devices.forEach((d, i) => out.push({ deviceId: d.id, secret: secrets[i], patientId: d.patient_id }));
  }
  return out;
}
