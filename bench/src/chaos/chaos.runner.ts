import { join } from 'node:path';
import { existsSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { withHeapLimit } from '@lantern/config';
import { topicsFor } from '@lantern/messaging/contract';
import mqtt, { type MqttClient } from 'mqtt';
import { benchDatabaseServer, createBenchDatabase, seedDevices, type SeededDevice } from '../infra/bench-database.js';
import { API_ENTRY, INGEST_ENTRY } from '../infra/built-apps.js';
import { describeMachine } from '../infra/machine.js';
import { freePort, sleep, waitUntil } from '../infra/processes.js';
import { RunScope, runTopicRoot } from '../infra/run-scope.js';
import { startTcpProxy } from '../infra/tcp-proxy.js';
import {
  SERVICE_PASSWORD,
  SERVICE_USERNAME,
  startChaosEmbedded,
  startChaosMosquitto,
  type ChaosBroker,
  type ChaosBrokerKind,
} from './chaos-broker.js';
import { ChaosLantern } from './chaos-lantern.js';
import { ChaosLoad } from './chaos-load.js';
import { chaosInvariants, type ChaosReport } from './chaos-report.js';
import { verifyChaos } from './chaos-verification.js';
import { EventsObserver } from './events-observer.js';
import { CHAOS_FAULTS, runFault, type ChaosFault, type FaultRun } from './fault-scenarios.js';
import { ScenarioPatients, URGENT_LOW } from './scenario-patients.js';

export { CHAOS_FAULTS, type ChaosFault } from './fault-scenarios.js';

export interface ChaosOptions {
  readonly rootDir: string;
  readonly faults: readonly ChaosFault[];
  readonly ingestKills: number;
  readonly dbOutageSec: number;
  /** How long the broker stays down in "broker-restart". */
  readonly brokerDownSec: number;
  readonly broker: ChaosBrokerKind;
  /** Load: readings per second over all load devices. */
  readonly rate: number;
  readonly loadDevices: number;
  /** Hypoglycaemia patients per fault (each crosses urgent-low once during it). */
  readonly scenarioPatients: number;
  /** Load before the first fault and between faults. */
  readonly settleSec: number;
  readonly drainTimeoutMs: number;
  readonly databaseUrl?: string;
  readonly log: (line: string) => void;
}

export const DEFAULT_CHAOS_OPTIONS = {
  faults: CHAOS_FAULTS,
  ingestKills: 20,
  dbOutageSec: 60,
  brokerDownSec: 5,
  broker: 'mosquitto' as ChaosBrokerKind,
  rate: 2000,
  loadDevices: 20,
  scenarioPatients: 3,
  settleSec: 5,
  drainTimeoutMs: 180_000,
} as const;

/**
 * One chaos run (docs/reliability.md, "Chaos"): the built ingest and api as child processes, a fresh
 * database behind a TCP proxy, a broker of the run's own, load devices publishing at a fixed rate and
 * hypoglycaemia patients whose urgent-low reading is sent during each fault; faults run one after
 * another, then every PUBACKed reading, expected alert and notification is checked in SQL and
 * against what came on the events topics.
 */
export async function runChaos(options: ChaosOptions): Promise<ChaosReport> {
  const log = options.log;
  const startedAt = new Date();
  for (const entry of [INGEST_ENTRY, API_ENTRY])
    if (!existsSync(join(options.rootDir, entry)))
      throw new Error(`${entry} is missing: build first (npx nest build ingest && npx nest build api)`);
  const scope = new RunScope('lantern-chaos-', log);
  let lantern: ChaosLantern | undefined;
  try {
    // --- servers ---------------------------------------------------------------------------------
    const server = await benchDatabaseServer(options.databaseUrl, scope.work);
    scope.defer(server.stop);
    const db = await createBenchDatabase(server.url);
    scope.defer(() => db.drop());
    const dbUrl = new URL(db.url);
    const proxy = await startTcpProxy(dbUrl.hostname, Number(dbUrl.port || 5432));
    scope.defer(() => proxy.close());
    const root = runTopicRoot('chaos');
    const topics = topicsFor(root);
    const broker: ChaosBroker =
      options.broker === 'embedded'
        ? await startChaosEmbedded(db.url, root)
        : await startChaosMosquitto(options.rootDir, scope.work);
    scope.defer(() => broker.stop());
    log(`chaos database ${db.url} (services through a proxy), ${broker.kind} broker ${broker.url}, root ${root}`);

    // --- devices ---------------------------------------------------------------------------------
    const loadSeeded = await seedDevices(db.pool, options.loadDevices, 'pulse_oximeter', 'Chaos load');
    const scenarioSeeded = await seedDevices(
      db.pool,
      options.scenarioPatients * options.faults.length,
      'cgm',
      'Chaos scenario',
    );

    // --- Lantern ---------------------------------------------------------------------------------
    const clientId = `chaos-ingest-${randomBytes(4).toString('hex')}`;
    const apiPort = await freePort();
    const baseEnv = {
      NODE_ENV: 'production',
      DATABASE_URL: proxy.urlFor(db.url),
      MQTT_URL: broker.url,
      MQTT_TOPIC_ROOT: root,
      MQTT_USERNAME: SERVICE_USERNAME,
      MQTT_PASSWORD: SERVICE_PASSWORD,
      INGEST_MQTT_CLIENT_ID: clientId,
      // Short, so a standby takes over within seconds (the default is 5 s).
      INGEST_LEASE_TTL: '2s',
      JWT_SECRET: 'chaos-jwt-secret-chaos-jwt-secret-0123456789',
      PORT: String(apiPort),
      HOST: '127.0.0.1',
      DATA_DIR: join(scope.work, 'data'),
      // The ingest and the api run as `npm start` runs them (libs/config/src/heap-limit.ts).
      NODE_OPTIONS: withHeapLimit(process.env.NODE_OPTIONS),
      NO_COLOR: '1',
    };
    lantern = new ChaosLantern(
      options.rootDir,
      baseEnv,
      `http://127.0.0.1:${apiPort}`,
      (proc) => scope.process(() => proc.stop()),
      log,
    );
    await lantern.startIngest();
    lantern.startApi();

    // --- observer of the events topics -----------------------------------------------------------
    const observer = await EventsObserver.connect(broker.url, root, topics, (client) => scope.client(client));
    const connectDevice = async (d: SeededDevice): Promise<MqttClient> => {
      const client = await mqtt.connectAsync(broker.url, {
        clientId: d.deviceId,
        username: d.deviceId,
        password: d.secret,
        clean: true,
        reconnectPeriod: 500,
        connectTimeout: 10_000,
      });
      // A refused reconnect (broker still starting) must not end the run.
      client.on('error', () => undefined);
      return scope.client(client);
    };
    const loadClients = await Promise.all(loadSeeded.map(connectDevice));
    const scenarioClients = await Promise.all(scenarioSeeded.map(connectDevice));
    await lantern.healthy(performance.now());

    // --- load ------------------------------------------------------------------------------------
    const load = new ChaosLoad(loadSeeded, loadClients, topics);
    load.start(options.rate);

    // --- scenario patients -----------------------------------------------------------------------
    const scenario = new ScenarioPatients(scenarioSeeded, scenarioClients, topics);

    // --- faults ----------------------------------------------------------------------------------
    const runs: FaultRun[] = [];
    await sleep(options.settleSec * 1000);
    for (const [i, fault] of options.faults.entries()) {
      const phase = i + 1;
      load.phase = phase;
      log(`fault ${phase}/${options.faults.length}: ${fault}`);
      runs.push(
        await runFault(
          fault,
          phase,
          {
            lantern,
            broker,
            proxy,
            scenario,
            ingestKills: options.ingestKills,
            dbOutageSec: options.dbOutageSec,
            brokerDownSec: options.brokerDownSec,
            scenarioPatients: options.scenarioPatients,
          },
          log,
        ),
      );
      await sleep(options.settleSec * 1000);
    }

    // --- drain -----------------------------------------------------------------------------------
    const loadSeconds = await load.stop();
    await waitUntil('the load publishes to be acknowledged', () => Promise.resolve(load.settled()), 60_000).catch(() =>
      log('  ✗ some load publishes were never acknowledged'),
    );
    const readingsAcked = load.acked.length * load.readingsPerMessage;
    const drainStart = performance.now();
    const storedCount = async () =>
      Number(
        (
          await db.pool.query<{ n: string }>(`SELECT count(*) AS n FROM readings WHERE device_id = ANY($1::uuid[])`, [
            loadSeeded.map((d) => d.deviceId),
          ])
        ).rows[0].n,
      );
    const active = lantern;
    await waitUntil(
      'every acknowledged reading to be stored',
      async () => (await storedCount()) >= readingsAcked && (await active.slot.current?.pending()) === 0,
      options.drainTimeoutMs,
    ).catch((e: unknown) => log(`  ✗ ${(e as Error).message.split('\n')[0]}`));
    await waitUntil(
      'the scenario alert events',
      () => Promise.resolve(scenario.readings.every((s) => observer.alertEvents.has(`${s.patientId} ${URGENT_LOW}`))),
      30_000,
    ).catch(() => undefined);
    const drainSeconds = (performance.now() - drainStart) / 1000;

    // --- verification ----------------------------------------------------------------------------
    const { faults, load: loadFigures } = await verifyChaos({
      pool: db.pool,
      loadSeeded,
      scenarioSeeded,
      load,
      loadSeconds,
      readingsAcked,
      rate: options.rate,
      scenario: scenario.readings,
      observer,
      runs,
      restarts: () => active.restarts(),
      log,
    });
    const invariants = chaosInvariants(faults, loadFigures);
    return {
      startedAt: startedAt.toISOString(),
      finishedAt: new Date().toISOString(),
      settings: {
        faults: options.faults.join(','),
        ingestKills: options.ingestKills,
        dbOutageSec: options.dbOutageSec,
        brokerDownSec: options.brokerDownSec,
        broker: options.broker,
        rate: options.rate,
        loadDevices: options.loadDevices,
        scenarioPatients: options.scenarioPatients,
        database: options.databaseUrl ? 'given server' : 'embedded PostgreSQL',
      },
      machine: describeMachine(),
      load: loadFigures,
      faults,
      drainSeconds: Math.round(drainSeconds * 10) / 10,
      invariants,
      ok: invariants.every((i) => i.ok),
    };
  } finally {
    lantern?.stopSlots();
    await scope.close();
  }
}
