import type pg from 'pg';
import { percentile } from '../infra/processes.js';
import { seedDevices } from '../infra/bench-database.js';

export interface QueryLatency {
  samples: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  buckets: number;
}

export interface QueryResult {
  patients: number;
  days: number;
  intervalSec: number;
  rows: number;
  seedSec: number;
  minute24h: QueryLatency;
  hour90d: QueryLatency;
}

const DAY = 86_400_000;

/**
 * Seeds `patients` patients with `days` of heart rate every `intervalSec` (raw rows in the daily
 * partitions plus the 1-minute and 1-hour rollups computed in SQL, which is the state the rollup job
 * converges to), then times the bucketed REST queries for random patients: 24 h of 1-minute
 * buckets and 90 days of 1-hour buckets, sequentially.
 */
export async function measureQueries(
  pool: pg.Pool,
  options: {
    apiUrl: string;
    token: string;
    patients: number;
    days: number;
    intervalSec: number;
    samples: number;
    log: (line: string) => void;
  },
): Promise<QueryResult> {
  const seedStart = Date.now();
  const devices = await seedDevices(pool, options.patients, 'wearable_patch', 'Query bench');
  const end = Math.floor(Date.now() / 60_000) * 60_000;
  const start = end - options.days * DAY;
  for (let day = Math.floor(start / DAY) * DAY; day <= end; day += DAY) {
    const name = `readings_${new Date(day).toISOString().slice(0, 10).replaceAll('-', '')}`;
    await pool.query(
      `CREATE TABLE IF NOT EXISTS ${name} PARTITION OF readings FOR VALUES FROM ('${new Date(day).toISOString()}') TO ('${new Date(day + DAY).toISOString()}')`,
    );
  }
  let rows = 0;
  // Per chunk of patients: raw rows, then their 1-minute and 1-hour rollups (bounded statements;
  // one GROUP BY over the whole table spills to disk and takes many minutes).
  for (let i = 0; i < devices.length; i += 50) {
    const chunk = devices.slice(i, i + 50);
    const patientIds = chunk.map((d) => d.patientId);
    const result = await pool.query(
      `INSERT INTO readings (device_id, metric, time, patient_id, value, received_at)
       SELECT d, 'heart_rate', t, p, 60 + 25 * sin(extract(epoch FROM t) / 3600.0 + ord) + (ord % 7), t
         FROM unnest($1::uuid[], $2::uuid[]) WITH ORDINALITY AS x(d, p, ord),
              generate_series($3::timestamptz, $4::timestamptz, make_interval(secs => $5)) AS t
       ON CONFLICT DO NOTHING`,
      [chunk.map((d) => d.deviceId), patientIds, new Date(start), new Date(end - 1), options.intervalSec],
    );
    rows += result.rowCount ?? 0;
    await pool.query(
      `INSERT INTO readings_1m (patient_id, metric, bucket, min, max, sum, count)
       SELECT patient_id, metric, date_trunc('minute', time), min(value), max(value), sum(value), count(*)
         FROM readings WHERE patient_id = ANY($1::uuid[]) AND metric = 'heart_rate' GROUP BY 1, 2, 3
       ON CONFLICT DO NOTHING`,
      [patientIds],
    );
    await pool.query(
      `INSERT INTO readings_1h (patient_id, metric, bucket, min, max, sum, count)
       SELECT patient_id, metric, date_trunc('hour', bucket), min(min), max(max), sum(sum), sum(count)
         FROM readings_1m WHERE patient_id = ANY($1::uuid[]) AND metric = 'heart_rate' GROUP BY 1, 2, 3
       ON CONFLICT DO NOTHING`,
      [patientIds],
    );
    if (i % 200 === 0 && i > 0) options.log(`    seeded ${i} of ${devices.length} patients`);
  }
  await pool.query('ANALYZE readings_1m; ANALYZE readings_1h');
  const ids = devices.map((d) => d.patientId);
  const seedSec = (Date.now() - seedStart) / 1000;
  options.log(`    seeded ${rows} readings for ${devices.length} patients in ${seedSec.toFixed(0)} s`);
  const time = async (bucket: '1m' | '1h', spanMs: number): Promise<QueryLatency> => {
    const latencies: number[] = [];
    let buckets = 0;
    for (let i = 0; i < options.samples; i++) {
      const patientId = ids[(i * 7919) % ids.length];
      const url = `${options.apiUrl}/api/v1/patients/${patientId}/readings?metric=heart_rate&bucket=${bucket}&from=${new Date(end - spanMs).toISOString()}&to=${new Date(end).toISOString()}`;
      const t0 = performance.now();
      const response = await fetch(url, { headers: { authorization: `Bearer ${options.token}` } });
      const body = await response.text();
      latencies.push(performance.now() - t0);
      if (!response.ok) throw new Error(`GET ${url} answered ${response.status}: ${body.slice(0, 200)}`);
      const parsed = JSON.parse(body) as unknown;
      buckets = Array.isArray(parsed)
        ? parsed.length
        : Array.isArray((parsed as { buckets?: unknown[] }).buckets)
          ? (parsed as { buckets: unknown[] }).buckets.length
          : -1;
    }
    return {
      samples: latencies.length,
      p50Ms: r(percentile(latencies, 50)),
      p99Ms: r(percentile(latencies, 99)),
      maxMs: r(Math.max(...latencies)),
      buckets,
    };
  };
  return {
    patients: devices.length,
    days: options.days,
    intervalSec: options.intervalSec,
    rows,
    seedSec,
    minute24h: await time('1m', DAY),
    hour90d: await time('1h', 90 * DAY),
  };
}

const r = (v: number) => Math.round(v * 10) / 10;
