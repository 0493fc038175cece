import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { findFreePort, startAnonymousBroker } from '@lantern/embedded';
import { topicsFor } from '@lantern/messaging/contract';
import mqtt from 'mqtt';
import {
  benchDatabaseServer,
  createBenchDatabase,
  seedDevices,
  type BenchDatabase,
  type SeededDevice,
} from '../infra/bench-database.js';
import { startBroker } from '../infra/broker.js';
import { INGEST_ENTRY } from '../infra/built-apps.js';
import { IngestMetrics, metricValue } from '../infra/ingest-metrics.js';
import { describeMachine } from '../infra/machine.js';
import { percentile, waitUntil } from '../infra/processes.js';
import { RunScope, runTopicRoot } from '../infra/run-scope.js';
import { AlertProbe } from './alert-probe.js';
import { checkInvariants, type FuzzReport } from './fuzz-report.js';
import { deadLetterFigures, verifyHostile, verifyValid, type ValidSeries } from './fuzz-verification.js';
import { SLOT_MS, type FuzzDeviceType, type HostileCategory, type HostileDevice } from './hostile-payload.generator.js';
import { HostileStorm } from './hostile-storm.js';
import { IngestUnderTest } from './ingest-under-test.js';
import { VALID_HISTORY_MS, ValidTraffic } from './valid-traffic.js';
import { connectDevice, WindowedPublisher } from './windowed-publisher.js';

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

/** INGEST_MAX_BACKFILL of the ingest under test (its default), which the generator's times respect. */
const MAX_BACKFILL_MS = 30 * 86_400_000;

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
  const scope = new RunScope('lantern-fuzz-', log);
  let db: BenchDatabase | undefined;
  try {
    // --- servers -------------------------------------------------------------------------------
    const { db: database, brokerUrl } = await startServers(options, scope);
    db = database;
    const root = runTopicRoot('fuzz');
    const topics = topicsFor(root);
    log(`fuzz database ${database.url}, broker ${brokerUrl}, topic root ${root}`);

    // --- devices ---------------------------------------------------------------------------------
    const pool = database.pool;
    const hostileSeeded = await seedHalf(pool, options.hostileDevices, 'Fuzz hostile');
    const validSeeded = await seedHalf(pool, options.validDevices, 'Fuzz valid');
    const [probe] = await seedDevices(pool, 1, 'wearable_patch', 'Fuzz probe');

    // --- the ingest ------------------------------------------------------------------------------
    const metricsPort = await findFreePort();
    const ingest = new IngestUnderTest(
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
        DATA_DIR: join(scope.work, 'data'),
      },
      IngestMetrics.onPort(metricsPort),
      log,
    );
    scope.process(() => ingest.stop());
    await ingest.start();
    const rssTimer = setInterval(() => ingest.noteRss(), 1000);
    scope.defer(() => Promise.resolve(clearInterval(rssTimer)));

    // --- connections -----------------------------------------------------------------------------
    const connect = async (deviceId: string) => scope.client(await connectDevice(brokerUrl, deviceId));
    const hostileDevices: HostileDevice[] = hostileSeeded.map((d, index) => ({
      index,
      deviceId: d.deviceId,
      type: d.type,
    }));
    const storm = new HostileStorm(hostileDevices, {
      seed: options.seed,
      topics,
      weights: options.weights,
      maxBackfillMs: MAX_BACKFILL_MS,
    });
    await storm.connect(connect, options.window);
    const valid = new ValidTraffic();
    for (const d of validSeeded) valid.add(d, new WindowedPublisher(await connect(d.deviceId), options.window));
    const alertProbe = new AlertProbe(
      new WindowedPublisher(await connect(probe.deviceId), 4),
      topics.telemetry(probe.deviceId),
    );
    const observer = scope.client(
      await mqtt.connectAsync(brokerUrl, { clientId: `fuzz-observer-${randomBytes(4).toString('hex')}` }),
    );
    observer.on('message', (topic, payload) => alertProbe.observe(root, topic, payload));
    await observer.subscribeAsync(topics.patientAlerts(probe.patientId), { qos: 1 });

    // --- the storm -------------------------------------------------------------------------------
    const ledger = storm.ledger;
    let stormOver = false;
    const isStormOver = () => stormOver;
    const stormStart = performance.now();
    const slotBase = Date.now() - (perDevice + 2) * SLOT_MS - 10 * 60_000;
    log(
      `storm: ${options.messages} hostile messages from ${options.hostileDevices} devices at ${options.rate || 'max'}/s, ${options.validDevices} valid devices at ${options.validRate} messages/s, 1 probe patient`,
    );
    const validDone = valid.run(topics, options.validRate, isStormOver);
    const probeDone = alertProbe.run(isStormOver, options.minProbeSamples, options.probeIntervalMs);
    await storm.run(options.messages, options.rate, stormStart, slotBase, log);
    const stormSeconds = (performance.now() - stormStart) / 1000;
    stormOver = true;
    await Promise.all([validDone, probeDone]);
    log(
      `storm over after ${stormSeconds.toFixed(1)} s (${ledger.acknowledged} hostile messages acknowledged by the broker); waiting for the ingest`,
    );

    // --- drain -----------------------------------------------------------------------------------
    const validMessages = valid.messages();
    const routed = validMessages + alertProbe.readings + ledger.acknowledged - storm.sumKinds('unrouted');
    const drainStart = performance.now();
    let pendingAtEnd = NaN;
    let received = 0;
    try {
      await waitUntil(
        'the ingest to take and acknowledge every message',
        async () => {
          const text = await ingest.metrics();
          pendingAtEnd = metricValue(text, 'lantern_ingest_pending_messages');
          received = metricValue(text, 'lantern_ingest_messages_total');
          // After a restart the counter starts again: then only "nothing pending" is left to wait for.
          return pendingAtEnd === 0 && (received >= routed || ingest.restarts > 0);
        },
        options.drainTimeoutMs,
      );
    } catch (error) {
      log(
        `  ✗ ${(error as Error).message.split('\n')[0]} (pending ${pendingAtEnd}, received ${received} of ${routed})`,
      );
    }
    const drainSeconds = (performance.now() - drainStart) / 1000;
    const finalMetrics = await ingest.metrics().catch(() => '');
    ingest.noteRss();

    // --- verification ----------------------------------------------------------------------------
    log('verifying against the database');
    const verifyStart = performance.now();
    const hostile = await verifyHostile(
      pool,
      ledger,
      hostileDevices.map((d) => d.deviceId),
    );
    const validResult = await verifyValid(pool, [
      ...valid.series(),
      // The probe's readings: every one stored too (each 1 s apart, so counted as a series).
      ...(await probeSeries(database, probe.deviceId, alertProbe.readings)),
    ]);
    const deadLetters = await deadLetterFigures(pool);
    const repliesDue = storm.repliesDue(hostile.categories);
    await waitUntil('the errors-topic replies', () => Promise.resolve(storm.errorsReplies >= repliesDue), 10_000).catch(
      () => undefined,
    );
    const verifySeconds = (performance.now() - verifyStart) / 1000;
    await ingest.stop();

    const latencies = alertProbe.latencies;
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
      machine: describeMachine(),
      storm: {
        seconds: round(stormSeconds),
        hostileMessagesPerSec: Math.round(ledger.acknowledged / stormSeconds),
        hostilePublished: options.messages,
        hostileAcknowledged: ledger.acknowledged,
        hostileRefusedByBroker: options.messages - ledger.acknowledged,
        brokerRefusals: storm.brokerRefused.slice(0, 10),
        validMessages,
        validPublishFailures: valid.failures() + alertProbe.failures,
        errorsReplies: storm.errorsReplies,
        errorsRepliesDue: repliesDue,
      },
      hostile: {
        categories: hostile.categories,
        variants: Object.fromEntries([...ledger.variants.entries()].sort()),
        unaccounted: hostile.unaccounted,
        examples: hostile.examples.map((e) => ({
          ...e,
          ...(e.deviceId && e.seq !== undefined ? storm.describe(e.deviceId, e.seq) : {}),
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
        restarts: ingest.restarts,
        exitOutput: ingest.exitTails.map((t) => t.slice(-2000)),
        pendingAtEnd,
        messagesReceived: received,
        messagesRouted: routed,
        drainSeconds: round(drainSeconds),
        peakRssMiB: Math.round(ingest.peakRssBytes / 1048576),
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
        samplesAfterStorm: alertProbe.afterStorm,
        timeouts: alertProbe.timeouts,
        p50Ms: round(percentile(latencies, 50)),
        p95Ms: round(percentile(latencies, 95)),
        maxMs: round(latencies.length ? Math.max(...latencies) : NaN),
      },
      verifySeconds: round(verifySeconds),
    };
    const invariants = checkInvariants(report);
    return { ...report, invariants, ok: invariants.every((i) => i.ok) };
  } finally {
    await scope.close();
    if (options.keep && db) log(`kept the fuzz database ${db.url}`);
  }
}

/**
 * The run's database (on the given server, else an embedded PostgreSQL) and broker (the given one,
 * else a Mosquitto, or aedes when Mosquitto is not installed), each stopped by `scope`.
 */
async function startServers(options: FuzzOptions, scope: RunScope): Promise<{ db: BenchDatabase; brokerUrl: string }> {
  const server = await benchDatabaseServer(options.databaseUrl, scope.work);
  scope.defer(server.stop);
  const db = await createBenchDatabase(server.url);
  scope.defer(() => (options.keep ? db.pool.end() : db.drop()));
  let brokerUrl = options.mqttUrl;
  if (!brokerUrl) {
    const hasMosquitto = ['/usr/sbin/mosquitto', '/usr/bin/mosquitto', '/usr/local/sbin/mosquitto'].some(existsSync);
    if (hasMosquitto) {
      const broker = await startBroker(options.rootDir, scope.work);
      scope.defer(() => broker.stop());
      brokerUrl = broker.url;
    } else {
      const port = await findFreePort();
      const broker = await startAnonymousBroker({ port, host: '127.0.0.1' });
      scope.defer(() => broker.stop());
      brokerUrl = `mqtt://127.0.0.1:${port}`;
    }
  }
  return { db, brokerUrl };
}

/** `n` devices, half pulse oximeters (the odd one too), half wearable patches. */
async function seedHalf(
  pool: BenchDatabase['pool'],
  n: number,
  label: string,
): Promise<(SeededDevice & { type: FuzzDeviceType })[]> {
  return [
    ...(await seedDevices(pool, Math.ceil(n / 2), 'pulse_oximeter', label)).map((d) => ({
      ...d,
      type: 'pulse_oximeter' as const,
    })),
    ...(await seedDevices(pool, Math.floor(n / 2), 'wearable_patch', label)).map((d) => ({
      ...d,
      type: 'wearable_patch' as const,
    })),
  ];
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

const round = (v: number) => Math.round(v * 10) / 10;
