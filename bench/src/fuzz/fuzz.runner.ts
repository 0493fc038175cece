import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { DEVICE_TYPES, type MetricKey } from '@lantern/domain';
import { findFreePort, startAnonymousBroker } from '@lantern/embedded';
import { decodePatientEvent, topicsFor, type Topics } from '@lantern/messaging/contract';
import mqtt, { type MqttClient } from 'mqtt';
import {
  benchDatabaseServer,
  createBenchDatabase,
  seedDevices,
  type BenchDatabase,
  type SeededDevice,
} from '../infra/bench-database.js';
import { startBroker } from '../infra/broker.js';
import { peakRss, percentile, sleep, startProcess, waitUntil, type BenchProcess } from '../infra/processes.js';
import { expectationOf, topicOnTheWire } from './fuzz-expectation.js';
import { FuzzLedger } from './fuzz-ledger.js';
import { checkInvariants, type FuzzReport } from './fuzz-report.js';
import { deadLetterFigures, verifyHostile, verifyValid, type ValidSeries } from './fuzz-verification.js';
import {
  generateHostileMessage,
  SLOT_MS,
  type HostileCategory,
  type HostileDevice,
} from './hostile-payload.generator.js';

export interface FuzzOptions {
  /** The repository root (dist/ and docker/mosquitto.conf are found from it). */
  readonly rootDir: string;
  /** Hostile messages in all. */
  readonly messages: number;
  readonly seed: number;
  readonly hostileDevices: number;
  readonly validDevices: number;
  /** Hostile messages per second over all hostile devices; 0: as fast as the broker acknowledges. */
  readonly rate: number;
  /** Valid telemetry messages per second over all valid devices. */
  readonly validRate: number;
  /** Unacknowledged publishes per device connection. */
  readonly window: number;
  /** Pause between two probe alerts (each is a fever reading, its alert, a normal reading, its resolution). */
  readonly probeIntervalMs: number;
  /** The storm goes on (valid devices and probe) until the probe has this many samples. */
  readonly minProbeSamples: number;
  /** Bound on the time the ingest may take to acknowledge everything after the storm. */
  readonly drainTimeoutMs: number;
  /** Server to create the fuzz database on; unset: an embedded PostgreSQL started for the run. */
  readonly databaseUrl?: string;
  /** Broker to use; unset: a Mosquitto started for the run (or aedes, when Mosquitto is not installed). */
  readonly mqttUrl?: string;
  readonly weights?: Readonly<Record<HostileCategory, number>>;
  /** Keep the fuzz database (its name is logged). */
  readonly keep?: boolean;
  readonly log: (line: string) => void;
}

export const DEFAULT_FUZZ_OPTIONS = {
  messages: 100_000,
  seed: 1,
  hostileDevices: 8,
  validDevices: 16,
  rate: 1000,
  validRate: 100,
  window: 32,
  probeIntervalMs: 500,
  minProbeSamples: 20,
  drainTimeoutMs: 300_000,
} as const;

const INGEST_ENTRY = 'dist/apps/ingest/apps/ingest/src/main.js';
/** INGEST_MAX_BACKFILL of the ingest under test (its default), which the generator's times respect. */
const MAX_BACKFILL_MS = 30 * 86_400_000;
/** Valid devices send 1 s apart per metric, from this long ago: far from both ends of the window. */
const VALID_HISTORY_MS = 3 * 86_400_000;
/** Readings per metric in one valid message. */
const VALID_TICKS = 2;
const PROBE_TIMEOUT_MS = 10_000;
const FEVER = 39.4;
const NORMAL = 36.8;
const FEVER_RULE = 'body_temperature.fever';

/** A device connection that publishes at QoS 1 with at most `window` unacknowledged messages. */
class WindowedPublisher {
  private inFlight = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(
    readonly client: MqttClient,
    private readonly window: number,
  ) {}

  /** Resolves once the message is handed to mqtt.js; `done` follows its PUBACK (or failure). */
  async send(topic: string, payload: Buffer | string, done: (error?: Error) => void): Promise<void> {
    while (this.inFlight >= this.window) await new Promise<void>((resolve) => this.waiting.push(resolve));
    this.inFlight++;
    this.client.publish(topic, payload, { qos: 1 }, (error) => {
      this.inFlight--;
      this.waiting.shift()?.();
      done(error ?? undefined);
    });
  }

  async drain(): Promise<void> {
    while (this.inFlight > 0) await new Promise<void>((resolve) => this.waiting.push(resolve));
  }
}

function connectDevice(url: string, deviceId: string): Promise<MqttClient> {
  // A device's client id is its id (Lantern's broker hooks refuse any other); anonymous brokers ignore the password.
  return mqtt.connectAsync(url, {
    clientId: deviceId,
    username: deviceId,
    password: 'fuzz',
    clean: true,
    reconnectPeriod: 1000,
    connectTimeout: 10_000,
  });
}

/** The built ingest as a child process; restarted (and counted) if it ever exits on its own. */
class IngestUnderTest {
  restarts = 0;
  peakRssBytes = 0;
  private proc: BenchProcess | undefined;
  private stopping = false;
  private readonly exits: string[] = [];

  constructor(
    private readonly entry: string,
    private readonly env: Record<string, string>,
    readonly metricsUrl: string,
    private readonly log: (line: string) => void,
  ) {}

  get process(): BenchProcess | undefined {
    return this.proc;
  }

  get exitTails(): readonly string[] {
    return this.exits;
  }

  async start(): Promise<void> {
    const proc = startProcess('ingest', process.execPath, [this.entry], this.env);
    this.proc = proc;
    proc.child.once('exit', (code, signal) => {
      if (this.stopping) return;
      this.restarts++;
      this.noteRss();
      const tail = proc.output().slice(-4000);
      this.exits.push(tail);
      this.log(`  ✗ the ingest exited (${signal ?? code}); restarting it. Last output:\n${tail}`);
      void this.start().catch((error: unknown) => this.log(`  ✗ restarting the ingest failed: ${String(error)}`));
    });
    await waitUntil(
      'the ingest to subscribe',
      async () => {
        const text = await this.metrics();
        return (
          metricValue(text, 'lantern_ingest_broker_connected') === 1 &&
          metricValue(text, 'lantern_ingest_subscribed_filters') > 0
        );
      },
      60_000,
      proc,
    );
  }

  async metrics(): Promise<string> {
    return (await fetch(this.metricsUrl)).text();
  }

  /** Peak resident memory so far (VmHWM), over every process the ingest ran as. */
  noteRss(): void {
    if (!this.proc) return;
    this.peakRssBytes = Math.max(this.peakRssBytes, peakRss(this.proc.pid) ?? 0);
  }

  async stop(): Promise<void> {
    this.stopping = true;
    this.noteRss();
    await this.proc?.stop();
  }
}

/** Sum of a Prometheus metric's samples (every label set); 0 when absent. */
export function metricValue(text: string, name: string): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const rest = line.slice(name.length);
    if (rest[0] !== ' ' && rest[0] !== '{') continue;
    const value = Number(rest.slice(rest.lastIndexOf(' ') + 1));
    if (Number.isFinite(value)) sum += value;
  }
  return sum;
}

interface ValidDevice {
  readonly device: SeededDevice;
  readonly metrics: readonly MetricKey[];
  readonly publisher: WindowedPublisher;
  /** Next tick (readings of every metric at firstTime + tick × 1 s). */
  nextTick: number;
  /** Ticks acknowledged: one connection's PUBACKs come in order, so the highest acknowledged counts them all. */
  acknowledgedTicks: number;
  failures: number;
}

/**
 * One fuzz run (docs/reliability.md, "Fuzzing"): a fresh database and broker, the built ingest as a
 * child process, hostile devices publishing mutated messages while valid devices send telemetry and a
 * probe patient raises fever alerts; then every acknowledged message is looked for in the database.
 */
export async function runFuzz(options: FuzzOptions): Promise<FuzzReport> {
  const log = options.log;
  const startedAt = new Date();
  const entry = join(options.rootDir, INGEST_ENTRY);
  if (!existsSync(entry)) throw new Error(`${entry} is missing: build the ingest first (npx nest build ingest)`);
  const perDevice = Math.ceil(options.messages / options.hostileDevices);
  // Each hostile device's message n has its own 10 s slot of event time; all slots must lie in the backfill window.
  if ((perDevice + 100) * SLOT_MS > MAX_BACKFILL_MS - VALID_HISTORY_MS)
    throw new Error(
      `${perDevice} messages per hostile device do not fit the backfill window: use more --hostile-devices`,
    );
  const work = mkdtempSync(join(tmpdir(), 'lantern-fuzz-'));
  const cleanups: (() => Promise<void>)[] = [];
  const clients: MqttClient[] = [];
  let ingest: IngestUnderTest | undefined;
  let db: BenchDatabase | undefined;
  try {
    // --- servers -------------------------------------------------------------------------------
    const server = await benchDatabaseServer(options.databaseUrl, work);
    cleanups.push(server.stop);
    const serverUrl = server.url;
    db = await createBenchDatabase(serverUrl);
    const database = db;
    cleanups.push(() => (options.keep ? database.pool.end() : database.drop()));
    let brokerUrl = options.mqttUrl;
    if (!brokerUrl) {
      const hasMosquitto = ['/usr/sbin/mosquitto', '/usr/bin/mosquitto', '/usr/local/sbin/mosquitto'].some(existsSync);
      if (hasMosquitto) {
        const broker = await startBroker(options.rootDir, work);
        cleanups.push(() => broker.stop());
        brokerUrl = broker.url;
      } else {
        const port = await findFreePort();
        const broker = await startAnonymousBroker({ port, host: '127.0.0.1' });
        cleanups.push(() => broker.stop());
        brokerUrl = `mqtt://127.0.0.1:${port}`;
      }
    }
    const root = `fuzz-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}/v1`;
    const topics = topicsFor(root);
    log(`fuzz database ${database.url}, broker ${brokerUrl}, topic root ${root}`);

    // --- devices ---------------------------------------------------------------------------------
    const seedHalf = async (n: number, label: string) => [
      ...(await seedDevices(database.pool, Math.ceil(n / 2), 'pulse_oximeter', label)).map((d) => ({
        ...d,
        type: 'pulse_oximeter' as const,
      })),
      ...(await seedDevices(database.pool, Math.floor(n / 2), 'wearable_patch', label)).map((d) => ({
        ...d,
        type: 'wearable_patch' as const,
      })),
    ];
    const hostileSeeded = await seedHalf(options.hostileDevices, 'Fuzz hostile');
    const validSeeded = await seedHalf(options.validDevices, 'Fuzz valid');
    const [probe] = await seedDevices(database.pool, 1, 'wearable_patch', 'Fuzz probe');

    // --- the ingest ------------------------------------------------------------------------------
    const metricsPort = await findFreePort();
    ingest = new IngestUnderTest(
      entry,
      {
        NODE_ENV: 'production',
        DATABASE_URL: database.url,
        MQTT_URL: brokerUrl,
        MQTT_TOPIC_ROOT: root,
        MQTT_PASSWORD: 'fuzz-service-password',
        INGEST_METRICS_PORT: String(metricsPort),
        INGEST_MQTT_CLIENT_ID: `fuzz-ingest-${randomBytes(4).toString('hex')}`,
        LOG_LEVEL: 'warn',
        DATA_DIR: join(work, 'data'),
      },
      `http://127.0.0.1:${metricsPort}/metrics`,
      log,
    );
    await ingest.start();
    const running = ingest;
    const rssTimer = setInterval(() => running.noteRss(), 1000);
    cleanups.push(() => Promise.resolve(clearInterval(rssTimer)));

    // --- connections -----------------------------------------------------------------------------
    const connect = async (deviceId: string) => {
      const client = await connectDevice(brokerUrl, deviceId);
      clients.push(client);
      return client;
    };
    const hostileDevices: HostileDevice[] = hostileSeeded.map((d, index) => ({
      index,
      deviceId: d.deviceId,
      type: d.type,
    }));
    let errorsReplies = 0;
    const hostilePublishers: WindowedPublisher[] = [];
    for (const d of hostileDevices) {
      const client = await connect(d.deviceId);
      // Counted and compared with what is due, not an invariant: the ingest answers each refused
      // message on the device's errors topic at QoS 1, fire-and-forget. The device's own publishes to
      // that topic (an unexpected-topic mutation) come back too and are not replies.
      client.on('message', (_topic, payload) => {
        if (isErrorsReply(payload)) errorsReplies++;
      });
      await client.subscribeAsync(topics.errors(d.deviceId), { qos: 1 });
      hostilePublishers.push(new WindowedPublisher(client, options.window));
    }
    const validStart = Date.now() - VALID_HISTORY_MS;
    const valid: ValidDevice[] = [];
    for (const d of validSeeded) {
      valid.push({
        device: d,
        metrics: DEVICE_TYPES[d.type].metrics,
        publisher: new WindowedPublisher(await connect(d.deviceId), options.window),
        nextTick: 0,
        acknowledgedTicks: 0,
        failures: 0,
      });
    }
    const probeClient = new WindowedPublisher(await connect(probe.deviceId), 4);
    const observer = await mqtt.connectAsync(brokerUrl, {
      clientId: `fuzz-observer-${randomBytes(4).toString('hex')}`,
    });
    clients.push(observer);
    const alertWaiters = new Map<string, (at: number) => void>();
    observer.on('message', (topic, payload) => {
      const event = decodePatientEvent(root, topic, payload);
      if (event?.kind !== 'alerts' || event.payload.rule !== FEVER_RULE) return;
      const resolve = alertWaiters.get(event.payload.state);
      if (resolve) {
        alertWaiters.delete(event.payload.state);
        resolve(performance.now());
      }
    });
    await observer.subscribeAsync(topics.patientAlerts(probe.patientId), { qos: 1 });

    // --- the storm -------------------------------------------------------------------------------
    const ledger = new FuzzLedger(hostileDevices.map((d) => d.deviceId));
    const brokerRefused: string[] = [];
    let stormOver = false;
    const stormStart = performance.now();
    const slotBase = Date.now() - (perDevice + 2) * SLOT_MS - 10 * 60_000;
    log(
      `storm: ${options.messages} hostile messages from ${options.hostileDevices} devices at ${options.rate || 'max'}/s, ${options.validDevices} valid devices at ${options.validRate} messages/s, 1 probe patient`,
    );

    const hostileLoop = async () => {
      let lastReport = performance.now();
      for (let i = 0; i < options.messages; i++) {
        if (options.rate > 0) {
          const wait = stormStart + (i / options.rate) * 1000 - performance.now();
          if (wait > 1) await sleep(wait);
        }
        const d = i % hostileDevices.length;
        const device = hostileDevices[d];
        const seq = Math.floor(i / hostileDevices.length) + 1;
        const now = Date.now();
        const message = generateHostileMessage(
          { seed: options.seed, topics, now, slotTime: (s) => slotBase + s * SLOT_MS, weights: options.weights },
          device,
          seq,
        );
        const expectation = expectationOf(message, {
          topics,
          deviceId: device.deviceId,
          receivedAt: now,
          maxBackfillMs: MAX_BACKFILL_MS,
        });
        const topic = topicOnTheWire(message.topic);
        await hostilePublishers[d].send(message.topic, message.payload, (error) => {
          if (!error) ledger.add(d, message, topic, expectation);
          else if (brokerRefused.length < 1000)
            brokerRefused.push(
              `${device.deviceId} seq ${seq} (${message.category}: ${message.variant}): ${error.message}`,
            );
        });
        if (performance.now() - lastReport > 10_000) {
          lastReport = performance.now();
          log(`  ${i + 1} hostile messages sent`);
        }
      }
      await Promise.all(hostilePublishers.map((p) => p.drain()));
    };

    const validLoop = async () => {
      const startedAt = performance.now();
      for (let i = 0; !stormOver; i++) {
        const wait = startedAt + (i / options.validRate) * 1000 - performance.now();
        if (wait > 1) await sleep(wait);
        const v = valid[i % valid.length];
        const tick = v.nextTick;
        // Event time stays in the past: a faster clock than the wall's would run into the future limit.
        if (validStart + (tick + VALID_TICKS) * 1000 > Date.now()) continue;
        v.nextTick += VALID_TICKS;
        const readings = [];
        for (let k = 0; k < VALID_TICKS; k++)
          for (const metric of v.metrics)
            readings.push({
              metric,
              value: validValue(metric, tick + k),
              ts: new Date(validStart + (tick + k) * 1000).toISOString(),
            });
        await v.publisher.send(
          topics.telemetry(v.device.deviceId),
          JSON.stringify({ seq: tick, readings }),
          (error) => {
            if (error) v.failures++;
            // One connection acknowledges in order: the ticks below the highest acknowledged are all in.
            else v.acknowledgedTicks = Math.max(v.acknowledgedTicks, tick + VALID_TICKS);
          },
        );
      }
      await Promise.all(valid.map((v) => v.publisher.drain()));
    };

    // Alerts raised while hostile messages were still being sent, and those the minimum made it wait for after.
    const latencies: number[] = [];
    let afterStorm = 0;
    let probeTimeouts = 0;
    let probeReadings = 0;
    let probeFailures = 0;
    const probeLoop = async () => {
      let eventTime = Date.now() - 10 * 60_000;
      const send = async (value: number, state: 'open' | 'resolved'): Promise<number> => {
        eventTime = Math.max(eventTime + 1000, Date.now() - 10 * 60_000);
        // Never ahead of the clock by more than a minute (the ingest refuses over 5).
        while (eventTime > Date.now() + 60_000) await sleep(200);
        const arrived = new Promise<number>((resolve) => {
          const timer = setTimeout(() => {
            alertWaiters.delete(state);
            resolve(-1);
          }, PROBE_TIMEOUT_MS);
          alertWaiters.set(state, (at) => {
            clearTimeout(timer);
            resolve(at);
          });
        });
        const t0 = performance.now();
        const body = JSON.stringify({
          ts: new Date(eventTime).toISOString(),
          readings: [{ metric: 'body_temperature', value }],
        });
        await probeClient.send(topics.telemetry(probe.deviceId), body, (error) => {
          if (error) probeFailures++;
          else probeReadings++;
        });
        const at = await arrived;
        return at < 0 ? -1 : at - t0;
      };
      while (!stormOver || latencies.length + afterStorm + probeTimeouts < options.minProbeSamples) {
        const latency = await send(FEVER, 'open');
        if (latency < 0) probeTimeouts++;
        else if (stormOver) afterStorm++;
        else latencies.push(latency);
        await send(NORMAL, 'resolved');
        await sleep(options.probeIntervalMs);
      }
      await probeClient.drain();
    };

    const validDone = validLoop();
    const probeDone = probeLoop();
    await hostileLoop();
    const stormSeconds = (performance.now() - stormStart) / 1000;
    stormOver = true;
    await Promise.all([validDone, probeDone]);
    log(
      `storm over after ${stormSeconds.toFixed(1)} s (${ledger.acknowledged} hostile messages acknowledged by the broker); waiting for the ingest`,
    );

    // --- drain -----------------------------------------------------------------------------------
    const validSeries: ValidSeries[] = valid.flatMap((v) =>
      v.metrics.map((metric) => ({
        deviceId: v.device.deviceId,
        metric,
        count: v.acknowledgedTicks,
        first: validStart,
        last: validStart + (v.acknowledgedTicks - 1) * 1000,
      })),
    );
    const validMessages = valid.reduce((sum, v) => sum + v.acknowledgedTicks / VALID_TICKS, 0);
    const routed = validMessages + probeReadings + ledger.acknowledged - sumKinds(ledger, 'unrouted');
    const drainStart = performance.now();
    let pendingAtEnd = NaN;
    let received = 0;
    try {
      await waitUntil(
        'the ingest to take and acknowledge every message',
        async () => {
          const text = await running.metrics();
          pendingAtEnd = metricValue(text, 'lantern_ingest_pending_messages');
          received = metricValue(text, 'lantern_ingest_messages_total');
          // After a restart the counter starts again: then only "nothing pending" is left to wait for.
          return pendingAtEnd === 0 && (received >= routed || running.restarts > 0);
        },
        options.drainTimeoutMs,
      );
    } catch (error) {
      log(
        `  ✗ ${(error as Error).message.split('\n')[0]} (pending ${pendingAtEnd}, received ${received} of ${routed})`,
      );
    }
    const drainSeconds = (performance.now() - drainStart) / 1000;
    const finalMetrics = await running.metrics().catch(() => '');
    running.noteRss();

    // --- verification ----------------------------------------------------------------------------
    log('verifying against the database');
    const verifyStart = performance.now();
    const hostile = await verifyHostile(
      database.pool,
      ledger,
      hostileDevices.map((d) => d.deviceId),
    );
    const validResult = await verifyValid(database.pool, [
      ...validSeries,
      // The probe's readings: every one stored too (each 1 s apart, so counted as a series).
      ...(await probeSeries(database, probe.deviceId, probeReadings)),
    ]);
    const deadLetters = await deadLetterFigures(database.pool);
    // Replies due: one per refused message on a hostile device's own topics (others name nobody listening).
    const ownTopics = new Set(hostileDevices.flatMap((d) => [topics.telemetry(d.deviceId), topics.status(d.deviceId)]));
    let repliesDue = 0;
    for (const c of Object.values(hostile.categories)) repliesDue += c.deadLettered + c.partlyStored;
    for (const [topic, t] of ledger.topics) if (!ownTopics.has(topic)) repliesDue -= t.single;
    await waitUntil('the errors-topic replies', () => Promise.resolve(errorsReplies >= repliesDue), 10_000).catch(
      () => undefined,
    );
    const verifySeconds = (performance.now() - verifyStart) / 1000;
    await ingest.stop();

    const report: Omit<FuzzReport, 'invariants' | 'ok'> = {
      startedAt: startedAt.toISOString(),
      finishedAt: new Date().toISOString(),
      settings: {
        messages: options.messages,
        seed: options.seed,
        hostileDevices: options.hostileDevices,
        validDevices: options.validDevices,
        rate: options.rate,
        validRate: options.validRate,
        window: options.window,
        broker: options.mqttUrl ? 'given' : 'started by the run',
        database: options.databaseUrl ? 'given server' : 'embedded PostgreSQL',
      },
      machine: {
        cpus: cpus().length,
        cpuModel: cpus()[0]?.model ?? 'unknown',
        memoryGiB: Math.round(totalmem() / 2 ** 30),
        node: process.version,
      },
      storm: {
        seconds: round(stormSeconds),
        hostileMessagesPerSec: Math.round(ledger.acknowledged / stormSeconds),
        hostilePublished: options.messages,
        hostileAcknowledged: ledger.acknowledged,
        hostileRefusedByBroker: options.messages - ledger.acknowledged,
        brokerRefusals: brokerRefused.slice(0, 10),
        validMessages,
        validPublishFailures: valid.reduce((sum, v) => sum + v.failures, 0) + probeFailures,
        errorsReplies,
        errorsRepliesDue: repliesDue,
      },
      hostile: {
        categories: hostile.categories,
        variants: Object.fromEntries([...ledger.variants.entries()].sort()),
        unaccounted: hostile.unaccounted,
        examples: hostile.examples.map((e) => ({
          ...e,
          ...(e.deviceId && e.seq !== undefined
            ? describeMessage(options, hostileDevices, topics, e.deviceId, e.seq, slotBase)
            : {}),
        })),
        strayDeadLetters: hostile.strayDeadLetters,
      },
      valid: {
        readingsExpected: validResult.readingsExpected,
        readingsStored: validResult.readingsStored,
        deadLetters: validResult.deadLetters,
        problems: validResult.problems.slice(0, 20),
      },
      ingest: {
        restarts: running.restarts,
        exitOutput: running.exitTails.map((t) => t.slice(-2000)),
        pendingAtEnd,
        messagesReceived: received,
        messagesRouted: routed,
        drainSeconds: round(drainSeconds),
        peakRssMiB: Math.round(running.peakRssBytes / 1048576),
        internalErrors: metricValue(finalMetrics, 'lantern_ingest_internal_errors_total') + deadLetters.internalErrors,
        deadLettersLost: metricValue(finalMetrics, 'lantern_ingest_dead_letters_lost_total'),
        storageRefused: metricValue(finalMetrics, 'lantern_ingest_storage_refused_total'),
        payloadBytesDroppedByBudget: metricValue(
          finalMetrics,
          'lantern_ingest_dead_letter_payload_bytes_dropped_total',
        ),
      },
      deadLetters: {
        rows: deadLetters.rows,
        payloads: deadLetters.payloads,
        payloadMiBKept: round(deadLetters.payloadBytesKept / 1048576),
        payloadsDropped: deadLetters.payloadsDropped,
        storageRefused: deadLetters.storageRefused,
        totalMiB: round(deadLetters.totalBytes / 1048576),
      },
      probe: {
        samples: latencies.length,
        samplesAfterStorm: afterStorm,
        timeouts: probeTimeouts,
        p50Ms: round(percentile(latencies, 50)),
        p95Ms: round(percentile(latencies, 95)),
        maxMs: round(latencies.length ? Math.max(...latencies) : NaN),
      },
      verifySeconds: round(verifySeconds),
    };
    const invariants = checkInvariants(report);
    return { ...report, invariants, ok: invariants.every((i) => i.ok) };
  } finally {
    await Promise.all(clients.map((c) => c.endAsync(true).catch(() => undefined)));
    await ingest?.stop().catch(() => undefined);
    for (const cleanup of cleanups.reverse()) await cleanup().catch((e: unknown) => log(`cleanup: ${String(e)}`));
    if (options.keep && db) log(`kept the fuzz database ${db.url}`);
    rmSync(work, { recursive: true, force: true });
  }
}

function isErrorsReply(payload: Buffer): boolean {
  try {
    const body: unknown = JSON.parse(payload.toString('utf8'));
    return typeof body === 'object' && body !== null && Array.isArray((body as { errors?: unknown }).errors);
  } catch {
    return false;
  }
}

/** The probe's readings, 1 s apart or more: checked as stored by count only (their times follow the wall clock). */
async function probeSeries(db: BenchDatabase, deviceId: string, acknowledged: number): Promise<ValidSeries[]> {
  const { rows } = await db.pool.query<{ lo: Date | null; hi: Date | null }>(
    `SELECT min(time) AS lo, max(time) AS hi FROM readings WHERE device_id = $1`,
    [deviceId],
  );
  const lo = rows[0].lo?.getTime() ?? 0;
  const hi = rows[0].hi?.getTime() ?? 0;
  return [{ deviceId, metric: 'body_temperature', count: acknowledged, first: lo, last: hi }];
}

function sumKinds(ledger: FuzzLedger, kind: 'single' | 'status' | 'unrouted' | 'readings'): number {
  let n = 0;
  for (const k of ledger.byCategory.values()) n += k[kind];
  return n;
}

/** A valid value of `metric` that never crosses a default alert threshold (a sine around the middle of the normal range). */
function validValue(metric: MetricKey, tick: number): number {
  const mid: Record<MetricKey, [number, number]> = {
    heart_rate: [75, 8],
    spo2: [97, 1],
    glucose: [110, 10],
    systolic_bp: [120, 5],
    diastolic_bp: [78, 4],
    respiratory_rate: [15, 2],
    body_temperature: [36.9, 0.2],
    body_weight: [75, 0.5],
    pa_pressure_mean: [18, 2],
    steps: [40, 30],
  };
  const [center, amplitude] = mid[metric];
  return Math.round((center + amplitude * Math.sin(tick / 30)) * 10) / 10;
}

/** The message an unaccounted (device, seq) was, made again from the seed: category, mutation, payload head. */
function describeMessage(
  options: FuzzOptions,
  devices: readonly HostileDevice[],
  topics: Topics,
  deviceId: string,
  seq: number,
  slotBase: number,
): { category: string; variant: string; topic: string; payloadHead: string } {
  const device = devices.find((d) => d.deviceId === deviceId);
  if (!device) return { category: '?', variant: '?', topic: '?', payloadHead: '' };
  // Times depend on the clock when it was made; the mutation and structure do not.
  const m = generateHostileMessage(
    { seed: options.seed, topics, now: Date.now(), slotTime: (s) => slotBase + s * SLOT_MS, weights: options.weights },
    device,
    seq,
  );
  return {
    category: m.category,
    variant: m.variant,
    topic: m.topic,
    payloadHead: JSON.stringify(m.payload.subarray(0, 300).toString('utf8')),
  };
}

const round = (v: number) => Math.round(v * 10) / 10;
