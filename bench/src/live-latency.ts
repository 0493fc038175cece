/**
 * Publish-to-socket latency of the live path (contract §2: alerts within 100 ms p99).
 *
 * Starts the built api role as its own process on a fresh database and topic root, connects
 * clinician sockets to /live, subscribes them to every patient, then publishes for DURATION_S:
 * telemetry (one heart-rate reading per device per message) and alert events, the way the ingest
 * and the devices do. Each event carries its publish time (reading `ts`, alert `lastTriggeredAt`);
 * the receiving socket computes receive time − publish time. Same machine, same clock.
 *
 *   npx nest build api && npx nest build bench && node dist/bench/bench/src/live-latency.js
 *
 * Environment: DATABASE_URL (admin URL of a PostgreSQL server; a database is created and dropped),
 * MQTT_URL, and optionally PATIENTS (50), SOCKETS_PER_PATIENT (2), TELEMETRY_HZ per device (5),
 * ALERTS_PER_S (20), DURATION_S (15), LIVE_READING_MIN_INTERVAL_MS (0: every reading is measured).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import mqtt from 'mqtt';
import pg from 'pg';
import { io, type Socket } from 'socket.io-client';
import { hashPassword } from '@lantern/auth';
import type { AlertResource, LiveClientToServerEvents, LiveServerToClientEvents } from '@lantern/domain';
import { topicsFor } from '@lantern/messaging/contract';
import { createDataSource, runMigrations } from '@lantern/storage';

const env = (name: string, fallback: number): number => (process.env[name] ? Number(process.env[name]) : fallback);
const PATIENTS = env('PATIENTS', 50);
const SOCKETS_PER_PATIENT = env('SOCKETS_PER_PATIENT', 2);
const TELEMETRY_HZ = env('TELEMETRY_HZ', 5);
const ALERTS_PER_S = env('ALERTS_PER_S', 20);
const DURATION_S = env('DURATION_S', 15);
const THROTTLE_MS = env('LIVE_READING_MIN_INTERVAL_MS', 0);
const ADMIN_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const MQTT_URL = process.env.MQTT_URL ?? 'mqtt://127.0.0.1:1883';
const PASSWORD = 'bench-password-123';

type LiveSocket = Socket<LiveServerToClientEvents, LiveClientToServerEvents>;

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

function describe(name: string, samples: number[], expected: number): string {
  const s = [...samples].sort((a, b) => a - b);
  const f = (n: number): string => n.toFixed(1).padStart(7);
  return `${name.padEnd(9)} n=${String(s.length).padStart(7)} (expected ${expected})  p50=${f(percentile(s, 50))} ms  p90=${f(percentile(s, 90))} ms  p99=${f(percentile(s, 99))} ms  max=${f(s.at(-1) ?? NaN)} ms`;
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

async function main(): Promise<void> {
  const dbName = `lantern_bench_live_${randomBytes(4).toString('hex')}`;
  const dbUrl = new URL(ADMIN_URL);
  dbUrl.pathname = `/${dbName}`;
  const root = `bench-live-${randomBytes(4).toString('hex')}/v1`;
  const topics = topicsFor(root);
  await withClient(ADMIN_URL, (c) => c.query(`CREATE DATABASE ${dbName}`));
  let api: ChildProcess | undefined;
  const sockets: LiveSocket[] = [];
  try {
    const ds = createDataSource({ url: dbUrl.toString(), poolSize: 2, applicationName: 'lantern-bench' });
    await ds.initialize();
    await runMigrations(ds);
    const clinicianEmail = 'bench-clinician@lantern.local';
    const [clinician] = await ds.query<{ id: string }[]>(
      `INSERT INTO users (email, password_hash, role, display_name) VALUES ($1, $2, 'clinician', 'Bench') RETURNING id`,
      [clinicianEmail, await hashPassword(PASSWORD)],
    );
    const patients: { id: string; device: string }[] = [];
    for (let i = 0; i < PATIENTS; i++) {
      const [p] = await ds.query<{ id: string }[]>(`INSERT INTO patients (display_name) VALUES ($1) RETURNING id`, [
        `Bench ${i}`,
      ]);
      const [d] = await ds.query<{ id: string }[]>(
        `INSERT INTO devices (patient_id, type, secret_hash) VALUES ($1, 'pulse_oximeter', 'sha256:x') RETURNING id`,
        [p.id],
      );
      await ds.query(`INSERT INTO care_team_members (patient_id, clinician_id) VALUES ($1, $2)`, [p.id, clinician.id]);
      patients.push({ id: p.id, device: d.id });
    }
    await ds.destroy();

    const port = await freePort();
    const here = dirname(fileURLToPath(import.meta.url));
    const entry = join(here, '../../../apps/api/apps/api/src/main.js');
    api = spawn(process.execPath, [entry], {
      env: {
        ...process.env,
        NODE_ENV: 'production',
        PORT: String(port),
        HOST: '127.0.0.1',
        DATABASE_URL: dbUrl.toString(),
        MQTT_URL,
        MQTT_TOPIC_ROOT: root,
        JWT_SECRET: randomBytes(32).toString('hex'),
        LIVE_READING_MIN_INTERVAL_MS: String(THROTTLE_MS),
        LOG_LEVEL: 'warn',
      },
      stdio: ['ignore', 'inherit', 'inherit'],
    });
    const base = `http://127.0.0.1:${port}`;
    let token: string | undefined;
    for (let attempt = 0; attempt < 300 && !token; attempt++) {
      try {
        const res = await fetch(`${base}/api/v1/auth/login`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ email: clinicianEmail, password: PASSWORD }),
        });
        if (res.ok) token = ((await res.json()) as { accessToken: string }).accessToken;
      } catch {
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    if (!token) throw new Error('the api did not start');

    const readingLatency: number[] = [];
    const alertLatency: number[] = [];
    for (let i = 0; i < PATIENTS * SOCKETS_PER_PATIENT; i++) {
      const socket: LiveSocket = io(`${base}/live`, {
        auth: { token },
        transports: ['websocket'],
        reconnection: false,
        forceNew: true,
      });
      await new Promise<void>((resolve, reject) => {
        socket.once('connect', resolve);
        socket.once('connect_error', reject);
      });
      socket.on('reading', (e) => readingLatency.push(Date.now() - Date.parse(e.ts)));
      socket.on('alert', (e) => alertLatency.push(Date.now() - Date.parse(e.lastTriggeredAt)));
      const answer = await socket.emitWithAck('subscribe', { patientId: patients[i % PATIENTS].id });
      if (!answer.ok) throw new Error(`subscribe refused: ${answer.error}`);
      sockets.push(socket);
    }

    // One connection for the events (as the ingest has) and several for telemetry (devices have one each): a single
    // QoS 1 connection would queue everything behind the broker's receive maximum and measure that instead.
    const connect = (): Promise<mqtt.MqttClient> =>
      mqtt.connectAsync(MQTT_URL, { protocolVersion: 5, clientId: `bench-live-${randomBytes(4).toString('hex')}` });
    const publisher = await connect();
    const devices = await Promise.all(Array.from({ length: Math.min(PATIENTS, 20) }, connect));
    let published = 0;
    let alerts = 0;
    const start = Date.now();
    // Spread the load evenly (a message every few ms) rather than in bursts, so the bench's own event
    // loop does not queue the events it is measuring.
    const perMs = (PATIENTS * TELEMETRY_HZ) / 1000;
    const timers: NodeJS.Timeout[] = [];
    let next = 0;
    timers.push(
      setInterval(() => {
        const due = Math.floor((Date.now() - start) * perMs);
        for (; published < due; published++) {
          const i = next++ % PATIENTS;
          const p = patients[i];
          void devices[i % devices.length].publishAsync(
            topics.telemetry(p.device),
            JSON.stringify({
              readings: [{ metric: 'heart_rate', value: 60 + (published % 40), ts: new Date().toISOString() }],
            }),
            { qos: 1 },
          );
        }
      }, 2),
    );
    timers.push(
      setInterval(() => {
        const now = new Date().toISOString();
        const p = patients[alerts % PATIENTS];
        const alert: AlertResource = {
          id: randomUUID(),
          patientId: p.id,
          rule: 'heart_rate.high',
          metric: 'heart_rate',
          priority: 'high',
          state: 'open',
          message: 'bench',
          openedAt: now,
          lastTriggeredAt: now,
          escalationLevel: 0,
          late: false,
        };
        void publisher.publishAsync(topics.patientAlerts(p.id), JSON.stringify(alert), { qos: 1 });
        alerts++;
      }, 1000 / ALERTS_PER_S),
    );
    await new Promise((r) => setTimeout(r, DURATION_S * 1000));
    for (const t of timers) clearInterval(t);
    await new Promise((r) => setTimeout(r, Math.max(500, THROTTLE_MS * 2)));
    const elapsed = (Date.now() - start) / 1000;
    await Promise.all([publisher, ...devices].map((c) => c.endAsync()));

    console.log(
      `live latency: ${PATIENTS} patients, ${sockets.length} sockets, ${TELEMETRY_HZ} Hz telemetry per device (${Math.round(published / elapsed)} msg/s), ` +
        `${ALERTS_PER_S} alerts/s, ${DURATION_S} s, LIVE_READING_MIN_INTERVAL_MS=${THROTTLE_MS}`,
    );
    console.log(describe('alert', alertLatency, alerts * SOCKETS_PER_PATIENT));
    console.log(describe('reading', readingLatency, THROTTLE_MS === 0 ? published * SOCKETS_PER_PATIENT : NaN));
  } finally {
    for (const s of sockets) s.close();
    if (api) {
      api.kill('SIGTERM');
      await new Promise((r) => api!.once('exit', r));
    }
    await withClient(ADMIN_URL, (c) => c.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`));
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
