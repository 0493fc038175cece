import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { Test } from '@nestjs/testing';
import type { INestApplicationContext } from '@nestjs/common';
import { LANTERN_CONFIG, loadConfig } from '@lantern/config';
import type { DataSource } from 'typeorm';
import { IngestModule } from '../../apps/ingest/src/ingest.module.js';
import { INGEST_ACK_MODE, type AckMode } from '../../apps/ingest/src/consumer/ingest-mqtt.connection.js';
import { uniqueTopicRoot } from '../support/mqtt.js';

export interface SeededDevice {
  readonly id: string;
  readonly patientId: string;
}

/** Inserts a patient and a device of `type` directly (the provisioning API is not under test here). */
export async function seedDevice(
  dataSource: DataSource,
  type = 'pulse_oximeter',
  options: { decommissioned?: boolean } = {},
): Promise<SeededDevice> {
  const [patient] = await dataSource.query<{ id: string }[]>(
    `INSERT INTO patients (display_name) VALUES ('Test Patient') RETURNING id::text`,
  );
  const [device] = await dataSource.query<{ id: string }[]>(
    `INSERT INTO devices (patient_id, type, secret_hash, decommissioned_at) VALUES ($1, $2, 'sha256:x', $3) RETURNING id::text`,
    [patient.id, type, options.decommissioned ? new Date() : null],
  );
  return { id: device.id, patientId: patient.id };
}

export interface IngestEnv {
  readonly databaseUrl: string;
  readonly mqttUrl: string;
  readonly topicRoot?: string;
  readonly clientId?: string;
  readonly extra?: Record<string, string>;
}

/** The environment the ingest process (in-process or spawned) runs with. */
export function ingestEnvironment(env: IngestEnv): Record<string, string> {
  return {
    NODE_ENV: 'test',
    DATABASE_URL: env.databaseUrl,
    DATABASE_POOL_SIZE: '4',
    MQTT_URL: env.mqttUrl,
    MQTT_TOPIC_ROOT: env.topicRoot ?? uniqueTopicRoot('ingest'),
    INGEST_MQTT_CLIENT_ID: env.clientId ?? `ingest-test-${randomUUID().slice(0, 8)}`,
    INGEST_METRICS_PORT: '0',
    INGEST_BATCH_MAX_WAIT_MS: '20',
    LOG_LEVEL: 'warn',
    ...env.extra,
  };
}

/** Boots the ingest module in this process with the given environment (not process.env). */
export async function startIngest(
  env: Record<string, string>,
  ackMode: AckMode = 'held',
): Promise<INestApplicationContext> {
  const moduleRef = await Test.createTestingModule({ imports: [IngestModule] })
    .overrideProvider(LANTERN_CONFIG)
    .useValue(loadConfig(env))
    .overrideProvider(INGEST_ACK_MODE)
    .useValue(ackMode)
    .compile();
  moduleRef.useLogger(['error', 'warn']);
  await moduleRef.init();
  return moduleRef;
}

/** Message `i` of a numbered stream: `perMessage` heart-rate readings at distinct, reproducible times. */
export function numberedTelemetry(i: number, base: number, perMessage: number): string {
  return JSON.stringify({
    seq: i,
    readings: Array.from({ length: perMessage }, (_, j) => ({
      metric: 'heart_rate',
      value: 40 + ((i * perMessage + j) % 150),
      ts: base + (i * perMessage + j) * 1000,
    })),
  });
}

/** Publishes messages from..to-1 at QoS 1 with at most `window` unacknowledged by the broker. */
export async function publishNumbered(
  client: import('mqtt').MqttClient,
  topic: string,
  from: number,
  to: number,
  base: number,
  perMessage: number,
  window = 100,
  qos: 0 | 1 = 1,
): Promise<void> {
  let next = from;
  const worker = async (): Promise<void> => {
    while (next < to) {
      const i = next++;
      await client.publishAsync(topic, numberedTelemetry(i, base, perMessage), { qos });
    }
  };
  await Promise.all(Array.from({ length: window }, worker));
}

/** Counts stored readings of a device and checks they are exactly the expected distinct times. */
export async function storedTimes(
  dataSource: DataSource,
  deviceId: string,
): Promise<{ count: number; distinct: number }> {
  const [row] = await dataSource.query<{ count: number; distinct: number }[]>(
    `SELECT count(*)::int AS count, count(DISTINCT time)::int AS distinct FROM readings WHERE device_id = $1`,
    [deviceId],
  );
  return row;
}

const repoRoot = new URL('../..', import.meta.url).pathname;
const builtIngest = 'dist/apps/ingest/apps/ingest/src/main.js';

/** Builds the ingest (`nest build ingest`) for tests that run it as its own process. */
export function buildIngest(): void {
  const build = spawnSync('npx', ['nest', 'build', 'ingest'], { cwd: repoRoot, encoding: 'utf8' });
  if (build.status !== 0) throw new Error(`nest build ingest failed:\n${build.stdout}\n${build.stderr}`);
}

export interface SpawnedIngest {
  readonly child: ChildProcess;
  /** Everything it logged so far. */
  output(): string;
  /** Resolves when it has exited. */
  exited(): Promise<void>;
}

/** The built ingest as its own process (see `buildIngest`), so it can be killed with SIGKILL. */
export function spawnIngest(env: Record<string, string>): SpawnedIngest {
  const child = spawn(process.execPath, [builtIngest], {
    cwd: repoRoot,
    env: { ...process.env, ...env, LOG_LEVEL: 'log', NO_COLOR: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exit = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return { child, output: () => output, exited: () => exit };
}
