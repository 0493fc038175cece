import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { DEVICE_TYPES, type MetricKey } from '@lantern/domain';
import { findFreePort } from '@lantern/embedded';
import { decodePatientEvent, topicsFor } from '@lantern/messaging/contract';
import mqtt, { type MqttClient } from 'mqtt';
import { benchDatabaseServer, createBenchDatabase, seedDevices, type SeededDevice } from '../infra/bench-database.js';
import { percentile, sleep, startProcess, waitUntil, type BenchProcess } from '../infra/processes.js';
import { metricValue } from '../fuzz/fuzz.runner.js';
import {
  SERVICE_PASSWORD,
  SERVICE_USERNAME,
  startChaosEmbedded,
  startChaosMosquitto,
  type ChaosBroker,
  type ChaosBrokerKind,
} from './chaos-broker.js';
import { startTcpProxy } from '../infra/tcp-proxy.js';
import { chaosInvariants, type ChaosReport, type FaultFigures } from './chaos-report.js';

export const CHAOS_FAULTS = ['ingest-kill', 'api-kill', 'db-outage', 'broker-restart', 'failover'] as const;
export type ChaosFault = (typeof CHAOS_FAULTS)[number];

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

const INGEST_ENTRY = 'dist/apps/ingest/apps/ingest/src/main.js';
const API_ENTRY = 'dist/apps/api/apps/api/src/main.js';
/** Readings per metric in one load message (1 s apart in event time). */
const TICKS = 5;
const URGENT_LOW = 'glucose.urgent_low';
/** Below 54 mg/dL: glucose.urgent_low opens on the reading itself. */
const HYPO_VALUE = 45;
const RECOVER_TIMEOUT_MS = 120_000;

interface AckedMessage {
  readonly device: number;
  readonly tick: number;
  readonly phase: number;
}

interface ScenarioReading {
  readonly phase: number;
  readonly patientId: string;
  readonly publishedAt: number;
  acknowledged: boolean;
}

/** One ingest process with its own metrics port (a standby needs another). */
class IngestInstance {
  constructor(
    readonly proc: BenchProcess,
    readonly metricsUrl: string,
  ) {}

  async stored(): Promise<number> {
    const text = await (await fetch(this.metricsUrl)).text();
    return metricValue(text, 'lantern_ingest_readings_stored_total');
  }

  async pending(): Promise<number> {
    return metricValue(await (await fetch(this.metricsUrl)).text(), 'lantern_ingest_pending_messages');
  }

  get alive(): boolean {
    return this.proc.child.exitCode === null && this.proc.child.signalCode === null;
  }

  /** Set when the harness killed it: not restarted by its slot. */
  killed = false;

  kill9(): Promise<void> {
    this.killed = true;
    const exited = new Promise<void>((resolve) => this.proc.child.once('exit', () => resolve()));
    if (!this.alive) return Promise.resolve();
    this.proc.child.kill('SIGKILL');
    return exited;
  }
}

/**
 * One supervised ingest, as `npm start` or a container restart policy runs it: an instance that
 * exits on its own (it steps down when it cannot renew its lease, e.g. with the database away) is
 * started again after 1 s; one the harness kills is not (the fault restarts it, or a standby takes over).
 */
class IngestSlot {
  current: IngestInstance | undefined;
  restarts = 0;
  stopped = false;

  constructor(
    private readonly spawn: () => Promise<IngestInstance>,
    private readonly log: (line: string) => void,
  ) {}

  async start(): Promise<IngestInstance> {
    const instance = await this.spawn();
    this.current = instance;
    instance.proc.child.once('exit', (code, signal) => {
      if (instance.killed || this.stopped || this.current !== instance) return;
      this.restarts++;
      const last = instance.proc.output().trim().split('\n').slice(-1)[0] ?? '';
      this.log(`  the ingest exited on its own (${signal ?? code}), restarted in 1 s: ${last.slice(0, 300)}`);
      setTimeout(() => {
        if (!this.stopped && this.current === instance) void this.start().catch(() => undefined);
      }, 1000);
    });
    return instance;
  }

  /** Where "stored again" is measured from: the instance running now and its count. */
  async mark(): Promise<{ instance: IngestInstance | undefined; stored: number }> {
    const instance = this.current;
    return { instance, stored: instance?.alive ? await instance.stored().catch(() => 0) : 0 };
  }

  /** Waits until the slot's ingest (that one, or a newer one) has stored readings since `mark`; ms since `from`. */
  async storedAgain(mark: { instance: IngestInstance | undefined; stored: number }, from: number): Promise<number> {
    await waitUntil(
      'the ingest to store readings again',
      async () => {
        const now = this.current;
        if (!now?.alive) return false;
        return (await now.stored()) > (now === mark.instance ? mark.stored : 0);
      },
      RECOVER_TIMEOUT_MS,
    );
    return performance.now() - from;
  }
}

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
  const work = mkdtempSync(join(tmpdir(), 'lantern-chaos-'));
  const cleanups: (() => Promise<void>)[] = [];
  const clients: MqttClient[] = [];
  const processes: BenchProcess[] = [];
  const slotsForCleanup: IngestSlot[] = [];
  try {
    // --- servers ---------------------------------------------------------------------------------
    const server = await benchDatabaseServer(options.databaseUrl, work);
    cleanups.push(server.stop);
    const serverUrl = server.url;
    const db = await createBenchDatabase(serverUrl);
    cleanups.push(() => db.drop());
    const dbUrl = new URL(db.url);
    const proxy = await startTcpProxy(dbUrl.hostname, Number(dbUrl.port || 5432));
    cleanups.push(() => proxy.close());
    const root = `chaos-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}/v1`;
    const topics = topicsFor(root);
    const broker: ChaosBroker =
      options.broker === 'embedded'
        ? await startChaosEmbedded(db.url, root)
        : await startChaosMosquitto(options.rootDir, work);
    cleanups.push(() => broker.stop());
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
    const apiPort = await findFreePort();
    const apiUrl = `http://127.0.0.1:${apiPort}`;
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
      DATA_DIR: join(work, 'data'),
      NO_COLOR: '1',
    };
    const spawnIngest = async (): Promise<IngestInstance> => {
      const port = await findFreePort();
      // 'log' level: the standby's "Standby:" line is how the run sees it waiting.
      const proc = startProcess('ingest', process.execPath, [join(options.rootDir, INGEST_ENTRY)], {
        ...baseEnv,
        INGEST_METRICS_PORT: String(port),
        LOG_LEVEL: 'log',
      });
      processes.push(proc);
      return new IngestInstance(proc, `http://127.0.0.1:${port}/metrics`);
    };
    const spawnApi = (): BenchProcess => {
      const proc = startProcess('api', process.execPath, [join(options.rootDir, API_ENTRY)], {
        ...baseEnv,
        LOG_LEVEL: 'warn',
      });
      processes.push(proc);
      return proc;
    };
    const healthy = async (from: number, proc: BenchProcess): Promise<number> => {
      await waitUntil(
        'the api /health to answer 200',
        async () => (await fetch(`${apiUrl}/health`)).ok,
        RECOVER_TIMEOUT_MS,
        proc,
      );
      return performance.now() - from;
    };
    let slot = new IngestSlot(spawnIngest, log);
    const slots = slotsForCleanup;
    slots.push(slot);
    const first = await slot.start();
    await waitUntil(
      'the ingest to subscribe',
      async () => metricValue(await (await fetch(first.metricsUrl)).text(), 'lantern_ingest_subscribed_filters') > 0,
      60_000,
      first.proc,
    );
    let api = spawnApi();

    // --- observer of the events topics -----------------------------------------------------------
    // A persistent session, so the events published while the broker restarts still reach it.
    const observer = await mqtt.connectAsync(broker.url, {
      clientId: `chaos-observer-${randomBytes(4).toString('hex')}`,
      username: SERVICE_USERNAME,
      password: SERVICE_PASSWORD,
      clean: false,
      reconnectPeriod: 500,
    });
    clients.push(observer);
    const alertEvents = new Map<string, number>(); // `${patient} ${rule}` → first open event arrival
    // `${alertId} ${kind}` → the notification ids seen: two ids for one (alert, kind) is a duplicate
    // to people; one id delivered twice is MQTT's at-least-once, which receivers deduplicate by id.
    const notificationEvents = new Map<string, Set<string>>();
    let notificationRedeliveries = 0;
    observer.on('message', (topic, payload) => {
      const event = decodePatientEvent(root, topic, payload);
      if (event?.kind === 'alerts') {
        const key = `${event.patientId} ${event.payload.rule}`;
        if (event.payload.state === 'open' && !alertEvents.has(key)) alertEvents.set(key, performance.now());
      } else if (event?.kind === 'notifications' && event.payload.alertId) {
        const key = `${event.payload.alertId} ${event.payload.kind}`;
        const ids = notificationEvents.get(key) ?? new Set<string>();
        if (ids.has(event.payload.id)) notificationRedeliveries++;
        notificationEvents.set(key, ids.add(event.payload.id));
      }
    });
    await observer.subscribeAsync([topics.patientAlerts('+'), topics.patientNotifications('+')], { qos: 1 });
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
      clients.push(client);
      return client;
    };
    const loadClients = await Promise.all(loadSeeded.map(connectDevice));
    const scenarioClients = await Promise.all(scenarioSeeded.map(connectDevice));
    await healthy(performance.now(), api);

    // --- load ------------------------------------------------------------------------------------
    const metrics = DEVICE_TYPES.pulse_oximeter.metrics;
    const readingsPerMessage = TICKS * metrics.length;
    const messageRate = options.rate / readingsPerMessage;
    const base = Date.now() - 2 * 86_400_000;
    const nextTick = loadSeeded.map(() => 0);
    const inFlight = loadSeeded.map(() => 0);
    const acked: AckedMessage[] = [];
    let publishFailures = 0;
    let phase = 0; // 0: warm-up; i + 1: fault i
    let loadOn = true;
    const loadStart = performance.now();
    let sent = 0;
    const loadLoop = async () => {
      let slot = performance.now();
      for (let i = 0; loadOn; i++) {
        slot += 1000 / messageRate;
        const wait = slot - performance.now();
        if (wait > 1) await sleep(wait);
        // No burst after a stall (broker down): the schedule starts again from now.
        else if (wait < -1000) slot = performance.now();
        const d = i % loadClients.length;
        // A device with 32 unacknowledged messages (broker or ingest away) skips its turn.
        if (inFlight[d] >= 32) continue;
        const tick = nextTick[d];
        nextTick[d] += TICKS;
        const readings = [];
        for (let k = 0; k < TICKS; k++)
          for (const metric of metrics)
            readings.push({
              metric,
              value: normal(metric, tick + k),
              ts: new Date(base + (tick + k) * 1000).toISOString(),
            });
        const at = phase;
        inFlight[d]++;
        sent++;
        loadClients[d].publish(
          topics.telemetry(loadSeeded[d].deviceId),
          JSON.stringify({ seq: tick, readings }),
          { qos: 1 },
          (error) => {
            inFlight[d]--;
            if (error) publishFailures++;
            else acked.push({ device: d, tick, phase: at });
          },
        );
      }
    };
    const loadDone = loadLoop();

    // --- scenario patients -----------------------------------------------------------------------
    const scenario: ScenarioReading[] = [];
    let nextScenario = 0;
    const hypo = (faultPhase: number): void => {
      const index = nextScenario++;
      const device = scenarioSeeded[index];
      const reading: ScenarioReading = {
        phase: faultPhase,
        patientId: device.patientId,
        publishedAt: performance.now(),
        acknowledged: false,
      };
      scenario.push(reading);
      scenarioClients[index].publish(
        topics.telemetry(device.deviceId),
        JSON.stringify({ readings: [{ metric: 'glucose', value: HYPO_VALUE, ts: new Date().toISOString() }] }),
        { qos: 1 },
        (error) => {
          if (!error) reading.acknowledged = true;
        },
      );
    };

    // --- faults ----------------------------------------------------------------------------------
    interface FaultRun {
      fault: ChaosFault;
      action: string;
      recover: number[];
      health: number[];
      notes: string[];
    }
    const runs: FaultRun[] = [];
    await sleep(options.settleSec * 1000);
    for (const [i, fault] of options.faults.entries()) {
      phase = i + 1;
      const run: FaultRun = { fault, action: '', recover: [], health: [], notes: [] };
      runs.push(run);
      log(`fault ${phase}/${options.faults.length}: ${fault}`);
      const S = options.scenarioPatients;
      try {
        switch (fault) {
          case 'ingest-kill': {
            run.action = `${options.ingestKills} × kill -9 of the ingest, restarted at once`;
            for (let k = 0; k < options.ingestKills; k++) {
              await slot.current?.kill9();
              // Scenario readings sent while no ingest runs, spread over the kills.
              for (let j = 0; j < S; j++) if (Math.floor((j * options.ingestKills) / S) === k) hypo(phase);
              const restartAt = performance.now();
              await slot.start();
              run.recover.push(await slot.storedAgain({ instance: undefined, stored: 0 }, restartAt));
              // Under load a while, so the next kill lands mid-stream.
              await sleep(1000);
            }
            break;
          }
          case 'api-kill': {
            run.action = 'kill -9 of the api, restarted at once';
            api.child.kill('SIGKILL');
            await new Promise((r) =>
              api.child.exitCode !== null || api.child.signalCode ? r(0) : api.child.once('exit', r),
            );
            for (let j = 0; j < S; j++) hypo(phase);
            const at = performance.now();
            api = spawnApi();
            run.health.push(await healthy(at, api));
            break;
          }
          case 'db-outage': {
            run.action = `database unreachable ${options.dbOutageSec} s (TCP proxy: connections cut, new ones refused)`;
            proxy.cut();
            for (let j = 0; j < S; j++) {
              await sleep((options.dbOutageSec * 1000) / (S + 1));
              hypo(phase);
            }
            await sleep((options.dbOutageSec * 1000) / (S + 1));
            const mark = await slot.mark();
            proxy.restore();
            const at = performance.now();
            const [rec, health] = await Promise.all([slot.storedAgain(mark, at), healthy(at, api)]);
            run.recover.push(rec);
            run.health.push(health);
            break;
          }
          case 'broker-restart': {
            run.action = `${broker.kind === 'embedded' ? 'embedded aedes (sessions in PostgreSQL)' : 'Mosquitto (persistence on)'} stopped, started again after ${options.brokerDownSec} s`;
            await broker.down();
            // Sent while the broker is away: mqtt.js keeps them and sends them on reconnecting.
            for (let j = 0; j < S; j++) hypo(phase);
            await sleep(options.brokerDownSec * 1000);
            const mark = await slot.mark();
            await broker.up();
            const at = performance.now();
            const [rec, health] = await Promise.all([slot.storedAgain(mark, at), healthy(at, api)]);
            run.recover.push(rec);
            run.health.push(health);
            const session = [...(slot.current?.proc.output() ?? '').matchAll(/session (resumed|new)/g)].pop()?.[1];
            run.notes.push(`the ingest's session after the restart: ${session ?? 'unknown'}`);
            break;
          }
          case 'failover': {
            run.action = 'kill -9 of the active ingest, a standby waiting (lease 2 s)';
            const standbySlot = new IngestSlot(spawnIngest, log);
            slots.push(standbySlot);
            const standby = await standbySlot.start();
            await waitUntil(
              'the standby to wait',
              () => Promise.resolve(/Standby: .* is held by another ingest/.test(standby.proc.output())),
              60_000,
              standby.proc,
            );
            // The killed leader is not started again: the standby is the ingest from now on.
            slot.stopped = true;
            await slot.current?.kill9();
            const at = performance.now();
            for (let j = 0; j < S; j++) hypo(phase);
            slot = standbySlot;
            run.recover.push(await slot.storedAgain({ instance: undefined, stored: 0 }, at));
            break;
          }
        }
      } catch (error) {
        run.recover.push(NaN);
        run.notes.push(`did not recover: ${(error as Error).message.split('\n')[0]}`);
        log(`  ✗ ${fault}: ${(error as Error).message.slice(0, 2000)}`);
      }
      await sleep(options.settleSec * 1000);
    }

    // --- drain -----------------------------------------------------------------------------------
    loadOn = false;
    await loadDone;
    const loadSeconds = (performance.now() - loadStart) / 1000;
    await waitUntil(
      'the load publishes to be acknowledged',
      () => Promise.resolve(inFlight.every((n) => n === 0)),
      60_000,
    ).catch(() => log('  ✗ some load publishes were never acknowledged'));
    const readingsAcked = acked.length * readingsPerMessage;
    const drainStart = performance.now();
    const storedCount = async () =>
      Number(
        (
          await db.pool.query<{ n: string }>(`SELECT count(*) AS n FROM readings WHERE device_id = ANY($1::uuid[])`, [
            loadSeeded.map((d) => d.deviceId),
          ])
        ).rows[0].n,
      );
    await waitUntil(
      'every acknowledged reading to be stored',
      async () => (await storedCount()) >= readingsAcked && (await slot.current?.pending()) === 0,
      options.drainTimeoutMs,
    ).catch((e: unknown) => log(`  ✗ ${(e as Error).message.split('\n')[0]}`));
    await waitUntil(
      'the scenario alert events',
      () => Promise.resolve(scenario.every((s) => alertEvents.has(`${s.patientId} ${URGENT_LOW}`))),
      30_000,
    ).catch(() => undefined);
    const drainSeconds = (performance.now() - drainStart) / 1000;

    // --- verification ----------------------------------------------------------------------------
    log('verifying against the database');
    const stored = new Map<string, number>(); // `${device index} ${metric} ${tick}` → rows
    let unexpectedRows = 0;
    let totalRows = 0;
    const indexOf = new Map(loadSeeded.map((d, i) => [d.deviceId, i]));
    const { rows } = await db.pool.query<{ device_id: string; metric: string; t: string; n: string }>(
      `SELECT device_id, metric, (extract(epoch FROM time) * 1000)::bigint AS t, count(*) AS n
         FROM readings WHERE device_id = ANY($1::uuid[]) GROUP BY 1, 2, 3`,
      [loadSeeded.map((d) => d.deviceId)],
    );
    for (const r of rows) {
      const key = `${indexOf.get(r.device_id)} ${r.metric} ${(Number(r.t) - base) / 1000}`;
      stored.set(key, Number(r.n));
      totalRows += Number(r.n);
    }
    const perPhase = new Map<number, { acked: number; lost: number; dup: number }>();
    const lostExamples = new Map<number, string[]>();
    const seen = new Set<string>();
    for (const m of acked) {
      const p = perPhase.get(m.phase) ?? { acked: 0, lost: 0, dup: 0 };
      perPhase.set(m.phase, p);
      for (let k = 0; k < TICKS; k++)
        for (const metric of metrics) {
          const key = `${m.device} ${metric} ${m.tick + k}`;
          p.acked++;
          seen.add(key);
          const n = stored.get(key) ?? 0;
          if (n === 0) {
            p.lost++;
            const examples = lostExamples.get(m.phase) ?? [];
            lostExamples.set(m.phase, examples);
            if (examples.length < 3) examples.push(`${loadSeeded[m.device].deviceId} seq ${m.tick} ${metric}`);
          }
          if (n > 1) p.dup += n - 1;
        }
    }
    // Rows of readings never acknowledged (publishes that failed, or cut short by the stop) are not losses.
    for (const key of stored.keys()) if (!seen.has(key)) unexpectedRows++;
    const { rows: alertRows } = await db.pool.query<{ patient_id: string; rule: string; n: string }>(
      `SELECT patient_id::text, rule, count(*) AS n FROM alerts WHERE patient_id = ANY($1::uuid[]) GROUP BY 1, 2`,
      [scenarioSeeded.map((d) => d.patientId)],
    );
    const alertsStored = new Map(alertRows.map((r) => [`${r.patient_id} ${r.rule}`, Number(r.n)]));
    const { rows: notifRows } = await db.pool.query<{ patient_id: string; alert_id: string; kind: string; n: string }>(
      `SELECT patient_id::text, alert_id::text, kind, count(*) AS n FROM patient_notifications
        WHERE alert_id IS NOT NULL GROUP BY 1, 2, 3 HAVING count(*) > 1`,
    );
    const { rows: alertIds } = await db.pool.query<{ id: string; patient_id: string }>(
      `SELECT id::text, patient_id::text FROM alerts`,
    );
    const patientOfAlert = new Map(alertIds.map((r) => [r.id, r.patient_id]));
    const phaseOfPatient = new Map(scenario.map((s) => [s.patientId, s.phase]));
    const dupNotifications = new Map<number, number>();
    const addDup = (patientId: string | undefined, n: number) => {
      const p = (patientId === undefined ? undefined : phaseOfPatient.get(patientId)) ?? 0;
      dupNotifications.set(p, (dupNotifications.get(p) ?? 0) + n);
    };
    for (const r of notifRows) addDup(r.patient_id, Number(r.n) - 1);
    for (const [key, ids] of notificationEvents)
      if (ids.size > 1) addDup(patientOfAlert.get(key.split(' ')[0]), ids.size - 1);
    if (notificationRedeliveries > 0)
      log(
        `notification events delivered again by the broker (same id, deduplicated by receivers): ${notificationRedeliveries}`,
      );

    const faults: FaultFigures[] = runs.map((run, i) => {
      const p = perPhase.get(i + 1) ?? { acked: 0, lost: 0, dup: 0 };
      const expected = scenario.filter((s) => s.phase === i + 1);
      const notes = [...run.notes];
      if (p.lost > 0) notes.push(`not stored, e.g. ${(lostExamples.get(i + 1) ?? []).join('; ')}`);
      const unacked = expected.filter((s) => !s.acknowledged).length;
      if (unacked > 0) notes.push(`${unacked} scenario readings never PUBACKed to their device`);
      const delays: number[] = [];
      let notStored = 0;
      let notRaised = 0;
      for (const s of expected) {
        const key = `${s.patientId} ${URGENT_LOW}`;
        if (!alertsStored.has(key)) notStored++;
        if ((alertsStored.get(key) ?? 0) > 1) notes.push(`${key}: ${alertsStored.get(key)} alert rows`);
        const at = alertEvents.get(key);
        if (at === undefined) notRaised++;
        else delays.push(at - s.publishedAt);
      }
      if (run.recover.length > 1)
        notes.push(
          `recovery over ${run.recover.length} restarts: median ${Math.round(percentile(run.recover, 50))} ms, worst ${Math.round(Math.max(...run.recover))} ms`,
        );
      return {
        fault: run.fault,
        action: run.action,
        readingsAcknowledged: p.acked,
        readingsLost: p.lost,
        readingsDuplicated: p.dup,
        scenarioAlertsExpected: expected.length,
        scenarioAlertsNotStored: notStored,
        scenarioAlertsNotRaised: notRaised,
        notificationsDuplicated: dupNotifications.get(i + 1) ?? 0,
        recoverMs: run.recover.length ? Math.max(...run.recover) : NaN,
        healthMs: run.health.length ? Math.max(...run.health) : NaN,
        worstAlertDelayMs: delays.length ? Math.max(...delays) : NaN,
        notes,
      };
    });
    const restarts = slots.reduce((n, x) => n + x.restarts, 0);
    if (restarts > 0) log(`the ingest exited on its own ${restarts} times (restarted as a supervisor would)`);
    // The api fault is judged by /health; the others by the ingest storing again.
    const judged = faults.map((f) => (f.fault === 'api-kill' ? { ...f, recoverMs: f.healthMs } : f));
    const warm = perPhase.get(0) ?? { acked: 0, lost: 0, dup: 0 };
    if (warm.lost + warm.dup + (dupNotifications.get(0) ?? 0) > 0)
      judged.push({
        fault: 'outside faults',
        action: 'warm-up load',
        readingsAcknowledged: warm.acked,
        readingsLost: warm.lost,
        readingsDuplicated: warm.dup,
        scenarioAlertsExpected: 0,
        scenarioAlertsNotStored: 0,
        scenarioAlertsNotRaised: 0,
        notificationsDuplicated: dupNotifications.get(0) ?? 0,
        recoverMs: 0,
        healthMs: NaN,
        worstAlertDelayMs: NaN,
        notes: [],
      });
    const { rows: rejected } = await db.pool.query<{ reason: string; n: string }>(
      `SELECT reason, count(*) AS n FROM ingest_rejections WHERE device_id = ANY($1::text[]) GROUP BY 1`,
      [[...loadSeeded, ...scenarioSeeded].map((d) => d.deviceId)],
    );
    if (rejected.length > 0)
      log(`dead letters of the run's devices: ${rejected.map((r) => `${r.reason} ${r.n}`).join(', ')}`);
    const load: ChaosReport['load'] = {
      readingsPerSecTarget: options.rate,
      readingsPerSecAchieved: Math.round((sent * readingsPerMessage) / loadSeconds),
      messagesAcknowledged: acked.length,
      publishFailures,
      readingsAcknowledged: readingsAcked,
      readingsStored: totalRows,
      unexpectedRows,
    };
    const invariants = chaosInvariants(judged, load);
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
      machine: {
        cpus: cpus().length,
        cpuModel: cpus()[0]?.model ?? 'unknown',
        memoryGiB: Math.round(totalmem() / 2 ** 30),
        node: process.version,
      },
      load,
      faults: judged,
      drainSeconds: Math.round(drainSeconds * 10) / 10,
      invariants,
      ok: invariants.every((i) => i.ok),
    };
  } finally {
    for (const x of slotsForCleanup) x.stopped = true;
    await Promise.all(clients.map((c) => c.endAsync(true).catch(() => undefined)));
    await Promise.all(processes.map((p) => p.stop().catch(() => undefined)));
    for (const cleanup of cleanups.reverse()) await cleanup().catch((e: unknown) => log(`cleanup: ${String(e)}`));
    rmSync(work, { recursive: true, force: true });
  }
}

/** A value of `metric` inside its normal range (load devices must raise no alert). */
function normal(metric: MetricKey, tick: number): number {
  const mid: Partial<Record<MetricKey, [number, number]>> = { spo2: [97, 1], heart_rate: [75, 8] };
  const [center, amplitude] = mid[metric] ?? [50, 0];
  return Math.round((center + amplitude * Math.sin(tick / 30)) * 10) / 10;
}
