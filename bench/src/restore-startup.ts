/**
 * Start-up of the ingest with a populated database: how long the streaming core takes to rebuild
 * its state (active alerts, the latest resolved alert of each rule, and the recent readings of every
 * stream whose rules have windows or delays — AlertStateRebuild.rebuild) before it consumes.
 * Seeds N devices (each its own patient; a mix of the six device types) with readings at each
 * type's interval over twice the span the rebuild reads, plus active and resolved alerts, then
 * starts the built ingest against it twice (cold, then warm cache) and reads its own report line.
 *
 *   npx nest build ingest && npx nest build bench && node dist/bench/bench/src/restore-startup.js [--devices 10000]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AlertEngine, DEFAULT_RULES, MAX_WINDOW_SAMPLES } from '@lantern/alerting';
import { DEVICE_TYPES, type DeviceTypeKey, type MetricKey } from '@lantern/domain';
import { ReadingPartitions, createDataSource } from '@lantern/storage';
import { createBenchDatabase, seedDevices } from './infra/bench-database.js';
import { startBroker } from './infra/broker.js';
import { runMain } from './infra/harness.js';
import { parseHarnessArgs } from './infra/harness-args.js';
import { freePort, peakRss, startProcess, waitUntil } from './infra/processes.js';

const HELP = `node dist/bench/bench/src/restore-startup.js [flags]     (after nest build ingest and bench)
  --devices N           devices to seed, each its own patient (10000)
  --database-url URL    server to create the bench database on (DATABASE_URL, else postgres://postgres@127.0.0.1:5432/postgres)
  --keep                keep the bench database`;

const FLAGS = {
  devices: { type: 'number', default: 10_000 },
  'database-url': { type: 'string' },
  keep: { type: 'boolean' },
} as const;

const root = join(dirname(fileURLToPath(import.meta.url)), '../../../..');
const DAY = 86_400_000;

/** Share of the devices per type: a remote-monitoring population (CGMs and oximeters dominate). */
const MIX: readonly [DeviceTypeKey, number][] = [
  ['cgm', 0.3],
  ['pulse_oximeter', 0.2],
  ['wearable_patch', 0.2],
  ['bp_monitor', 0.1],
  ['weight_scale', 0.1],
  ['cardiac_implant', 0.1],
];

/** A plausible value per metric (a normal reading: this measures reading back, not alerting). */
const VALUE_SQL: Record<MetricKey, string> = {
  glucose: '110 + 30 * random()',
  heart_rate: '65 + 20 * random()',
  spo2: '95 + 3 * random()',
  systolic_bp: '115 + 20 * random()',
  diastolic_bp: '75 + 10 * random()',
  respiratory_rate: '14 + 4 * random()',
  body_temperature: '36.6 + 0.6 * random()',
  body_weight: '80 + 0.5 * random()',
  steps: 'floor(100 * random())',
  pa_pressure_mean: '18 + 6 * random()',
};

/** What the rebuild reads back per stream with the default rules, ms (AlertEngine.historyNeeded). */
function historySpans(): Map<string, number> {
  const engine = new AlertEngine({ newId: (cause) => cause });
  for (const [type] of MIX) engine.registerDevice({ deviceId: type, patientId: 'p', type });
  return new Map(engine.historyNeeded().map((n) => [`${n.deviceId}|${n.metric}`, n.spanMs]));
}

async function main(): Promise<number> {
  const flags = parseHarnessArgs(process.argv.slice(2), FLAGS, HELP);
  if (!flags) return 0;
  const { devices, keep } = flags;
  const serverUrl =
    flags['database-url'] ?? (process.env.DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/postgres');
  const work = mkdtempSync(join(tmpdir(), 'lantern-restore-'));
  const db = await createBenchDatabase(serverUrl);
  const broker = await startBroker(root, work);
  const spans = historySpans();
  const now = Date.now();
  try {
    const dataSource = createDataSource({ url: db.url, poolSize: 1 });
    await dataSource.initialize();
    await new ReadingPartitions(dataSource).ensureFor(Array.from({ length: 9 }, (_, i) => now - (7 - i) * DAY));
    await dataSource.destroy();

    console.log(`Seeding ${devices} devices and their recent readings…`);
    const seedStart = Date.now();
    let seeded = 0;
    for (const [type, share] of MIX) {
      const count = Math.round(devices * share);
      await seedDevices(db.pool, count, type, `restore ${type}`);
      const def = DEVICE_TYPES[type];
      for (const metric of def.metrics) {
        const span = spans.get(`${type}|${metric}`) ?? 0;
        // Twice what the rebuild reads, at the type's interval; at least the latest reading.
        const everyMs = def.expectedIntervalSec * 1000;
        const n = Math.max(1, Math.floor((2 * span) / everyMs));
        const { rowCount } = await db.pool.query(
          `INSERT INTO readings (device_id, metric, time, patient_id, value, received_at)
           SELECT d.id, $2, to_timestamp(($3::float8 - g * $4::float8 - random() * 1000) / 1000), d.patient_id, ${VALUE_SQL[metric]},
                  to_timestamp(($3::float8 - g * $4::float8) / 1000)
             FROM devices d CROSS JOIN generate_series(0, $5::int - 1) g
            WHERE d.type = $1
           ON CONFLICT DO NOTHING`,
          [type, metric, now - 5000, everyMs, n],
        );
        seeded += rowCount ?? 0;
      }
    }
    // 5 % of patients with an active alert (its last trigger after the readings seeded, so the
    // database and the readings agree), 20 % with one resolved in the last day.
    await db.pool.query(
      `INSERT INTO alerts (patient_id, device_id, rule, metric, priority, state, message, value, peak_value, opened_at, last_triggered_at, raised_at)
       SELECT patient_id, id, 'glucose.low', 'glucose', 'medium', 'open', 'Glucose 65 mg/dL — below 70 (low)', 65, 65, now() - interval '20 minutes', now(), now() - interval '20 minutes'
         FROM devices WHERE type = 'cgm' AND random() < 0.17`,
    );
    await db.pool.query(
      `INSERT INTO alerts (patient_id, device_id, rule, metric, priority, state, message, value, peak_value, opened_at, last_triggered_at, cleared_at, resolved_at, raised_at)
       SELECT patient_id, id, 'spo2.low', 'spo2', 'medium', 'resolved', 'SpO2 88 % — below 90 (low)', 88, 87, t, t + interval '2 minutes', t + interval '5 minutes', t + interval '5 minutes', t
         FROM (SELECT patient_id, id, now() - random() * interval '1 day' AS t FROM devices WHERE random() < 0.2) d`,
    );
    await db.pool.query('ANALYZE');
    const [{ alerts }] = (await db.pool.query<{ alerts: number }>(`SELECT count(*)::int AS alerts FROM alerts`)).rows;
    console.log(`Seeded ${seeded} readings and ${alerts} alerts in ${((Date.now() - seedStart) / 1000).toFixed(1)} s`);

    const entry = join(root, 'dist/apps/ingest/apps/ingest/src/main.js');
    const runs: { label: string; startupMs: number; report: string; peakRssMb: number | undefined }[] = [];
    for (const label of ['cold', 'warm']) {
      const metricsPort = await freePort();
      let report = '';
      const started = Date.now();
      const ingest = startProcess(
        'ingest',
        process.execPath,
        [entry],
        {
          NODE_ENV: 'production',
          DATABASE_URL: db.url,
          MQTT_URL: broker.url,
          MQTT_TOPIC_ROOT: 'restore/v1',
          INGEST_METRICS_PORT: String(metricsPort),
          INGEST_MQTT_CLIENT_ID: `restore-ingest-${label}-${now}`,
          LOG_LEVEL: 'log',
          NO_COLOR: '1',
        },
        { onLine: (line) => (report ||= /Streaming core ready/.test(line) ? line : '') },
      );
      try {
        await waitUntil(
          'the ingest to run',
          () => Promise.resolve(/Ingest running/.test(ingest.output())),
          300_000,
          ingest,
        );
        const startupMs = Date.now() - started;
        runs.push({
          label,
          startupMs,
          report: report.replace(/^.*Streaming core ready/, 'Streaming core ready'),
          peakRssMb: (peakRss(ingest.pid) ?? 0) / 2 ** 20,
        });
      } finally {
        await ingest.stop();
      }
    }
    console.log(
      `\nIngest start-up at ${devices} devices (${seeded} readings seeded, ${alerts} alerts; per stream at most ${MAX_WINDOW_SAMPLES} readings, ${DEFAULT_RULES.length} rules):`,
    );
    for (const r of runs)
      console.log(
        `- ${r.label}: ${(r.startupMs / 1000).toFixed(2)} s to "Ingest running", peak RSS ${r.peakRssMb?.toFixed(0)} MiB — ${r.report}`,
      );
    return 0;
  } finally {
    await broker.stop();
    if (keep) {
      console.log(`Kept the database: ${db.url}`);
      await db.pool.end();
    } else await db.drop();
    rmSync(work, { recursive: true, force: true });
  }
}

runMain('restore-startup', main);
