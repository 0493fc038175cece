import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import type { INestApplicationContext } from '@nestjs/common';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { Test } from '@nestjs/testing';
import type { MqttClient } from 'mqtt';
import request from 'supertest';
import type { DataSource } from 'typeorm';
import { SessionService, type IssuedSession, type Principal } from '@lantern/auth';
import type { AlertResource, PatientNotificationResource } from '@lantern/domain';
import { LANTERN_CONFIG, loadConfig } from '@lantern/config';
import { topicsFor, type ServiceMqttClient, type Topics } from '@lantern/messaging';
import { UserRepository } from '@lantern/storage';
import type { LoginResponseDto } from '../../apps/api/src/auth/auth.dto.js';
import { API_BROKER } from '../../apps/api/src/broker/api-broker.tokens.js';
import { createApiApp } from '../../apps/api/src/create-api-app.js';
import { LiveRoutingService } from '../../apps/api/src/live/live-routing.service.js';
import { INGEST_ACK_MODE, type AckMode } from '../../apps/ingest/src/consumer/ingest-mqtt.connection.js';
import { IngestModule } from '../../apps/ingest/src/ingest.module.js';
import { TestData } from './builders.js';
import { appLoginUrl, createTestDatabase, type TestDatabase } from './database.js';
import { bodyOf } from './http.js';
import { startMosquitto, type MosquittoServer } from './mosquitto.js';
import { connectMqtt, uniqueTopicRoot } from './mqtt.js';
import { TEST_VAPID } from './vapid.js';

/**
 * One way to boot each role in the tests: the api in this process, the ingest in this process or
 * as the built process, the supervisor (./supervisor.ts), and the rigs most files start them on.
 */
export { startSupervisor, waitForBanner, SUPERVISOR, type SupervisorRun } from './supervisor.js';

export const ADMIN_EMAIL = 'admin@test.lantern';
export const ADMIN_PASSWORD = 'admin-password-123';
export const SERVICE_USERNAME = 'lantern-service';
export const SERVICE_PASSWORD = 'service-password-xyz';
/** MQTT_HOOK_SECRET of every fixture api: the broker hooks want it as `Authorization: Bearer …`. */
export const HOOK_SECRET = 'hook-secret-of-the-test-broker-0123456789';

export interface ApiFixture {
  readonly app: NestExpressApplication;
  readonly http: ReturnType<typeof request>;
  readonly db: DataSource;
  /** MQTT_TOPIC_ROOT of this test file (own root per file: files share the broker). */
  readonly topicRoot: string;
  readonly topics: Topics;
  readonly mqttUrl: string;
  /** The environment it was booted with, for another instance beside it (`alongside`). */
  readonly env: Readonly<Record<string, string>>;
  /** http://127.0.0.1:port; only when started with `listen: true` (sockets, fetch, a second client). */
  readonly url: string;
  readonly routing: LiveRoutingService;
  readonly mqtt: ServiceMqttClient;
  login(email: string, password: string): Promise<string>;
  /** Signs `principal`'s user in (a real login, as POST /auth/login starts one, without the password). */
  session(principal: Principal): Promise<IssuedSession>;
  /** The access token of a fresh login of `principal`'s user. */
  token(principal: Principal): Promise<string>;
  close(): Promise<void>;
}

export interface ApiOptions {
  /** Wait until the api is connected to the broker (tests that publish or subscribe want it). */
  readonly waitForBroker?: boolean;
  /** Connect as a login in lantern_app (no DDL rights) and migrate as the owner, as deployed (docs/security.md). */
  readonly asAppRole?: boolean;
  /** Listen on a free port of 127.0.0.1, for clients that need a URL. */
  readonly listen?: boolean;
  /** A migrated database the test made (and drops) itself, seeded before the api starts. */
  readonly database?: TestDatabase;
  /** Shared with an ingest that the test starts beside the api. */
  readonly topicRoot?: string;
  /** Another instance of that api: same database, broker, topic root and JWT secret, as behind a load balancer. */
  readonly alongside?: ApiFixture;
}

/**
 * Boots the real api (createApiApp → configureApp, exactly what main.ts runs) on a fresh database
 * of the test server and the test broker, with a known first admin. `env` adds to, or overrides,
 * the settings below.
 */
export async function startApi(env: Record<string, string> = {}, options: ApiOptions = {}): Promise<ApiFixture> {
  const { waitForBroker = true, asAppRole = false, listen = false, alongside } = options;
  const owned = alongside === undefined && options.database === undefined;
  const database: TestDatabase | undefined = owned ? await createTestDatabase() : options.database;
  const databaseUrl = database?.url;
  const mqttUrl = process.env.MQTT_URL ?? 'mqtt://127.0.0.1:1883';
  const settings: Record<string, string> = alongside
    ? { ...alongside.env, ...env }
    : {
        NODE_ENV: 'test',
        DATABASE_URL: asAppRole ? await appLoginUrl(databaseUrl!) : databaseUrl!,
        // Empty is unset: an earlier api of the same file must not leave its owner URL behind.
        DATABASE_MIGRATION_URL: asAppRole ? databaseUrl! : '',
        DATABASE_POOL_SIZE: '4',
        MQTT_URL: mqttUrl,
        MQTT_TOPIC_ROOT: options.topicRoot ?? `test-${randomBytes(4).toString('hex')}/v1`,
        MQTT_USERNAME: SERVICE_USERNAME,
        MQTT_PASSWORD: SERVICE_PASSWORD,
        ADMIN_EMAIL,
        ADMIN_PASSWORD,
        JWT_SECRET: randomBytes(32).toString('hex'),
        MQTT_HOOK_SECRET: HOOK_SECRET,
        ...TEST_VAPID,
        // No ingest runs beside this api: /health judges database and broker only (test/ops covers the ingest).
        HEALTH_REQUIRE_INGEST: 'false',
        ...env,
      };
  // The api reads its configuration from process.env, as in production.
  Object.assign(process.env, settings);
  let app: NestExpressApplication;
  try {
    app = await createApiApp({ logLevel: process.env.TEST_LOG === '1' ? 'debug' : false });
    await app.init();
    // The api connects to the broker in the background (it starts with the broker down).
    if (waitForBroker) await app.get<ServiceMqttClient>(API_BROKER).whenConnected();
    if (listen) await app.listen(0, '127.0.0.1');
  } catch (error) {
    if (owned) await database?.drop();
    throw error;
  }
  const http = request(app.getHttpServer());
  const port = listen ? (app.getHttpServer().address() as AddressInfo).port : undefined;
  const session = async (principal: Principal): Promise<IssuedSession> => {
    const user = await app.get(UserRepository).findCredentialsById(principal.userId);
    if (user === undefined) throw new Error(`no user ${principal.userId}`);
    return app.get(SessionService).start(user, {});
  };
  return {
    app,
    http,
    db: database?.dataSource ?? alongside!.db,
    topicRoot: settings.MQTT_TOPIC_ROOT,
    topics: topicsFor(settings.MQTT_TOPIC_ROOT),
    mqttUrl: settings.MQTT_URL,
    env: settings,
    get url(): string {
      if (port === undefined) throw new Error('this api does not listen: start it with { listen: true }');
      return `http://127.0.0.1:${port}`;
    },
    routing: app.get(LiveRoutingService),
    mqtt: app.get<ServiceMqttClient>(API_BROKER),
    async login(email, password) {
      const res = await http.post('/api/v1/auth/login').send({ email, password });
      if (res.status !== 200) throw new Error(`login ${email}: ${res.status} ${JSON.stringify(res.body)}`);
      return bodyOf<LoginResponseDto>(res).accessToken;
    },
    session,
    token: async (principal) => (await session(principal)).accessToken,
    async close() {
      await app.close();
      if (owned) await database?.drop();
    },
  };
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

/**
 * A fresh database and a Mosquitto of the test's own, what the ingest tests run the ingest on (in
 * this process or spawned): a broker nobody else's test touches, so that losses are the ingest's.
 */
export interface IngestRig {
  readonly db: TestDatabase;
  readonly broker: MosquittoServer;
  readonly data: TestData;
  readonly topicRoot: string;
  readonly topics: Topics;
  /** `ingestEnvironment` on this database, broker and topic root. */
  env(extra?: Record<string, string>, clientId?: string): Record<string, string>;
  /** A plain MQTT 5 client on the rig's broker (a device, an observer); ended by `close`. */
  connect(): Promise<MqttClient>;
  /** A client that collects every patient's alert events (and notifications, when given a list) as they are published. */
  observe(alerts: AlertResource[], notifications?: PatientNotificationResource[]): Promise<MqttClient>;
  /** Ends the clients, kills what is left of `spawned`, drops the database, stops the broker. */
  close(spawned?: readonly SpawnedIngest[]): Promise<void>;
}

/** Starts an {@link IngestRig}; `name` prefixes its topic root. */
export async function startIngestRig(name: string): Promise<IngestRig> {
  const [db, broker] = await Promise.all([createTestDatabase(), startMosquitto()]);
  const topicRoot = uniqueTopicRoot(name);
  const topics = topicsFor(topicRoot);
  const clients: MqttClient[] = [];
  const connect = async (): Promise<MqttClient> => {
    const client = await connectMqtt(broker.url, { protocolVersion: 5 });
    clients.push(client);
    return client;
  };
  return {
    db,
    broker,
    data: new TestData(db.dataSource),
    topicRoot,
    topics,
    env: (extra = {}, clientId) =>
      ingestEnvironment({ databaseUrl: db.url, mqttUrl: broker.url, topicRoot, extra, clientId }),
    connect,
    async observe(alerts, notifications) {
      const observer = await connect();
      observer.on('message', (topic, payload) => {
        const body: unknown = JSON.parse(payload.toString('utf8'));
        if (topic.endsWith('/alerts')) alerts.push(body as AlertResource);
        else notifications?.push(body as PatientNotificationResource);
      });
      const filters = [topics.allPatientAlerts];
      if (notifications !== undefined) filters.push(topics.patientNotifications('+'));
      await observer.subscribeAsync(filters, { qos: 1 });
      return observer;
    },
    async close(spawned = []) {
      for (const ingest of spawned)
        if (ingest.child.exitCode === null && ingest.child.signalCode === null) ingest.child.kill('SIGKILL');
      await Promise.all(clients.map((client) => client.endAsync()));
      await Promise.all([db.drop(), broker.stop()]);
    },
  };
}

/**
 * Device → the test broker → ingest → PostgreSQL → api, all in this process on one fresh database
 * and one topic root: what the end-to-end tests (test/live, test/provenance) run on.
 */
export interface LiveStack {
  readonly db: TestDatabase;
  readonly api: ApiFixture;
  readonly ingest: INestApplicationContext;
  /** A plain publisher standing in for devices. */
  readonly device: MqttClient;
  readonly topics: Topics;
  close(): Promise<void>;
}

/**
 * Boots a {@link LiveStack} after `seed` has written its rows (both roles read them at start).
 * Signal-loss sweeps are slowed out of the way unless `ingestEnv` says otherwise.
 */
export async function startLiveStack(
  seed: (data: TestData) => Promise<void>,
  { apiEnv = {}, ingestEnv = {} }: { apiEnv?: Record<string, string>; ingestEnv?: Record<string, string> } = {},
): Promise<LiveStack> {
  const db = await createTestDatabase();
  const topicRoot = uniqueTopicRoot('live');
  const mqttUrl = process.env.MQTT_URL ?? 'mqtt://127.0.0.1:1883';
  let api: ApiFixture | undefined;
  let ingest: INestApplicationContext | undefined;
  try {
    await seed(new TestData(db.dataSource));
    [api, ingest] = await Promise.all([
      startApi(apiEnv, { database: db, topicRoot, listen: true }),
      startIngest(
        ingestEnvironment({
          databaseUrl: db.url,
          mqttUrl,
          topicRoot,
          extra: { SIGNAL_LOSS_SWEEP_MS: '600000', ...ingestEnv },
        }),
      ),
    ]);
    const device = await connectMqtt(mqttUrl, {
      protocolVersion: 5,
      clientId: `test-device-${randomBytes(4).toString('hex')}`,
    });
    const [started, startedIngest] = [api, ingest];
    return {
      db,
      api: started,
      ingest: startedIngest,
      device,
      topics: topicsFor(topicRoot),
      async close() {
        await device.endAsync();
        await startedIngest.close();
        await started.close();
        await db.drop();
      },
    };
  } catch (error) {
    await ingest?.close();
    await api?.close();
    await db.drop();
    throw error;
  }
}
