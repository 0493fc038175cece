import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { setPriority, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { withHeapLimit } from '@lantern/config';
import { benchOptions } from './bench-options.js';
import { writeBenchReport } from './bench-report-writer.js';
import { CORE_PROCESSES, measureCoreInProcesses } from './evaluation.bench.js';
import { createBenchDatabase, seedDevices, type BenchDatabase, type SeededDevice } from './infra/bench-database.js';
import { startBroker, type BenchBroker } from './infra/broker.js';
import { API_ENTRY, INGEST_ENTRY } from './infra/built-apps.js';
import { runMain } from './infra/harness.js';
import { IngestMetrics } from './infra/ingest-metrics.js';
import { describeMachine, openFileLimit, toolVersion } from './infra/machine.js';
import { cpuProfileArgs, summarizeProfileDir, type ProfileSummary } from './infra/cpu-profile.js';
import { freePort, peakRss, resetPeakRss, startProcess, waitUntil, type BenchProcess } from './infra/processes.js';
import { LOAD_ACHIEVED_MIN, LoadProcess } from './load-process.js';
import { LOAD_GENERATOR_NICE, login, measureAlertLatency, untilCaughtUp } from './phases/alert-latency.phase.js';
import { measureQueries } from './phases/query.phase.js';
import { measureSustained } from './phases/sustained-ingest.phase.js';
import { measureScaling, SCALING_MAX_STEP_SEC } from './phases/scaling.phase.js';
import { sampleCpu } from './infra/cpu-time.js';
import { checkTargets, type BenchReport, type PhaseOutcome } from './report.js';
const root = join(dirname(fileURLToPath(import.meta.url)), '../../../..');
const log = (line: string) => console.log(line);
const TOPIC_ROOT = 'bench/v1';
/** Length of the rss phase's own load window, when the alert phase did not provide one. */
const STEADY_WINDOW_SEC = 30;

async function main(): Promise<number> {
  const opts = benchOptions(process.argv.slice(2));
  if (!opts) return 0;
  const quick = opts.quick;
  const startedAt = new Date().toISOString();
  const work = mkdtempSync(join(tmpdir(), 'lantern-bench-'));
  const notRun = (reason: string) => ({ status: 'skipped', reason }) as const;
  const phases: BenchReport['phases'] = {
    reference: notRun('not selected'),
    lantern: notRun('not selected'),
    scaling: notRun('not selected'),
    alertLatency: notRun('not selected'),
    streamingCore: notRun('not selected'),
    rss: notRun('not selected'),
    query: notRun('not selected'),
  };
  const rss: Record<string, number | null> = {
    ingest: null,
    api: null,
    broker: null,
    simulator: null,
    reference: null,
  };
  let broker: BenchBroker | undefined;
  let db: BenchDatabase | undefined;
  const running: BenchProcess[] = [];
  // Ctrl-C: the children and the bench database must not outlive the harness.
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      log(`\n${signal}: stopping the bench processes`);
      void (async () => {
        for (const p of running) await p.stop().catch(() => undefined);
        await broker?.stop().catch(() => undefined);
        if (!opts.keep) await db?.drop().catch(() => undefined);
        rmSync(work, { recursive: true, force: true });
        process.exit(130);
      })();
    });
  }
  const guard = async <T>(name: string, fn: () => T | Promise<T>): Promise<PhaseOutcome<T>> => {
    log(`▶ ${name}`);
    const t0 = Date.now();
    try {
      const result = await fn();
      log(`  ✓ ${name} (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
      return { status: 'ok', result };
    } catch (error) {
      const message = (error as Error).stack ?? String(error);
      log(`  ✗ ${name} failed: ${message.split('\n')[0]}`);
      return { status: 'failed', error: message };
    }
  };
  // The load steps of the sustained-ingest phases (reference pipeline and Lantern alike).
  const steps = { rates: opts.rates, stepSec: opts.stepSec, maxDrainSec: opts.maxDrainSec, extend: !quick, log };
  const mib = (bytes: number | undefined) => (bytes === undefined ? null : Math.round(bytes / 1048576));
  const noteRss = (name: string, proc: BenchProcess | undefined) => {
    const v = proc ? mib(peakRss(proc.pid)) : null;
    if (v !== null) rss[name] = Math.max(rss[name] ?? 0, v);
  };

  try {
    // First, while nothing of the bench loads the machine yet, in fresh processes (measureCoreInProcesses).
    if (opts.phases.has('core')) {
      phases.streamingCore = await guard('streaming core micro-benchmark', () =>
        measureCoreInProcesses(join(root, 'dist/bench/bench/src/evaluation.process.js'), {
          patients: quick ? 100 : 1000,
          readings: opts.coreReadings,
          processes: quick ? 1 : CORE_PROCESSES,
        }),
      );
    }
    broker = await startBroker(root, work, { tls: opts.tls });
    db = await createBenchDatabase(opts.databaseUrl);
    log(`bench database ${db.url}, broker ${broker.url}, ${opts.devices} devices on ${broker.devices.url}`);
    const pool = db.pool;
    const loadDevices = await seedDevices(pool, opts.devices, 'pulse_oximeter', 'Load');
    const probes = await seedDevices(pool, 5, 'wearable_patch', 'Probe');
    // The simulator's load mode with these devices; pushed to `running`, so that Ctrl-C stops it too.
    const startLoad = async (
      devices: SeededDevice[],
      shape: { readingsPerMessage?: number; connections?: number } = {},
    ) => {
      const started = await LoadProcess.start(root, work, devices, broker!.devices, TOPIC_ROOT, {
        readingsPerMessage: opts.readingsPerMessage,
        ...shape,
      });
      running.push(started.process);
      return started;
    };

    if (opts.phases.has('reference')) {
      phases.reference = await guard('reference pipeline', async () => {
        const entry = join(root, 'dist/bench/bench/src/reference-pipeline.js');
        let ready = false;
        const ref = startProcess(
          'reference',
          process.execPath,
          [entry, broker!.url, db!.url, TOPIC_ROOT],
          {},
          { onLine: (l) => (ready ||= l.includes('"ready"')) },
        );
        running.push(ref);
        await waitUntil('the reference pipeline to subscribe', () => Promise.resolve(ready), 20_000, ref);
        const load = await startLoad(loadDevices);
        try {
          return await measureSustained(pool, load, {
            ...steps,
            countRows: async (p) =>
              (await p.query<{ n: number }>('SELECT count(*)::int AS n FROM bench_reference_readings')).rows[0].n,
            cpu: () => sampleCpu(pool, ref.pid, 'bench-reference'),
          });
        } finally {
          noteRss('simulator', load.process);
          noteRss('reference', ref);
          await load.stop();
          await ref.stop();
        }
      });
    }

    const lanternWanted = ['lantern', 'alert', 'rss', 'query', 'scaling'].some((p) => opts.phases.has(p));
    if (lanternWanted) {
      const ingestEntry = join(root, INGEST_ENTRY);
      const apiEntry = join(root, API_ENTRY);
      const apiPort = await freePort();
      const metricsPort = await freePort();
      const adminEmail = 'bench-admin@lantern.local';
      const adminPassword = 'bench-admin-password-1';
      const env = {
        NODE_ENV: 'production',
        DATABASE_URL: db.url,
        MQTT_URL: broker.url,
        MQTT_TOPIC_ROOT: TOPIC_ROOT,
        MQTT_PASSWORD: 'bench-service-password',
        INGEST_METRICS_PORT: String(metricsPort),
        INGEST_MQTT_CLIENT_ID: `bench-ingest-${Date.now()}`,
        PORT: String(apiPort),
        HOST: '127.0.0.1',
        JWT_SECRET: 'bench-jwt-secret-bench-jwt-secret-0123456789',
        ADMIN_EMAIL: adminEmail,
        ADMIN_PASSWORD: adminPassword,
        // The bench's sockets hold one token for the whole run (longer than the 15 min default).
        ACCESS_TOKEN_TTL: '12h',
        LOG_LEVEL: 'warn',
        DATA_DIR: join(work, 'data'),
        // The ingest and the api run as `npm start` runs them (libs/config/src/heap-limit.ts).
        NODE_OPTIONS: withHeapLimit(process.env.NODE_OPTIONS),
      };
      const apiUrl = `http://127.0.0.1:${apiPort}`;
      const metrics = IngestMetrics.onPort(metricsPort);
      // A profiled process writes its profile only when it exits by itself, which after an overload
      // step can take longer than the usual grace (it stores its backlog first).
      const stopGraceMs = opts.profile ? 180_000 : undefined;
      let ingest: BenchProcess | undefined;
      let api: BenchProcess | undefined;
      let load: LoadProcess | undefined;
      let token = '';
      const metricsText = () => metrics.text();
      /** Until the ingest holds nothing it received but has not stored (its own queue, not the broker's). */
      const backlogStored = () =>
        waitUntil(
          'the ingest to store its backlog',
          async () => /^lantern_ingest_pending_messages 0$/m.test(await metricsText()),
          120_000,
          ingest,
        );
      const startIngest = async () => {
        ingest = startProcess(
          'ingest',
          process.execPath,
          [...cpuProfileArgs(opts.profile, 'ingest'), ingestEntry],
          env,
        );
        running.push(ingest);
        await waitUntil(
          'the ingest to connect to the broker',
          async () => /lantern_ingest_broker_connected 1/.test(await metricsText()),
          60_000,
          ingest,
        );
      };
      const started = await guard('start Lantern (ingest and api processes)', async () => {
        for (const entry of [ingestEntry, apiEntry])
          if (!existsSync(entry)) throw new Error(`${entry} is missing: build first (npm run build)`);
        await startIngest();
        api = startProcess('api', process.execPath, [...cpuProfileArgs(opts.profile, 'api'), apiEntry], env);
        running.push(api);
        await waitUntil('the api /health to answer 200', async () => (await fetch(`${apiUrl}/health`)).ok, 60_000, api);
        token = await login(apiUrl, adminEmail, adminPassword);
        load = await startLoad(loadDevices);
        return true;
      });
      const down = (outcome: PhaseOutcome<unknown>) =>
        outcome.status === 'failed'
          ? ({ status: 'failed', error: `Lantern did not start: ${outcome.error}` } as const)
          : undefined;
      const lanternSteps = {
        ...steps,
        countRows: async (p: typeof pool) =>
          (await p.query<{ n: number }>('SELECT count(*)::int AS n FROM readings')).rows[0].n,
        cpu: () => sampleCpu(db!.pool, ingest!.pid, 'lantern-ingest'),
        ackLag: async () =>
          Number(/^lantern_ingest_oldest_unacked_seconds ([\d.e+-]+)$/m.exec(await metrics.text())?.[1] ?? NaN),
      };
      if (opts.phases.has('lantern'))
        phases.lantern =
          down(started) ??
          (await guard('Lantern sustained ingest', () => measureSustained(db!.pool, load!, lanternSteps)));
      // The load of normal operation: 50 % of the sustained rate (or --alert-rate).
      const sustained = phases.lantern.status === 'ok' ? phases.lantern.result.sustainedReadingsPerSec : 0;
      const rate = opts.alertRate || Math.round(sustained / 2);
      // Peak memory under that load (the target), apart from the peaks of the overload steps above:
      // the peaks so far go to the whole-run figures, then each process's peak starts again from its
      // current size. The window is the alert phase, or the rss phase's own when that did not run.
      const steadyProcesses = () => ({ ingest, api, broker: broker!.process, simulator: load?.process });
      const startSteadyWindow = () => {
        for (const [name, proc] of Object.entries(steadyProcesses())) {
          noteRss(name, proc);
          if (proc && !resetPeakRss(proc.pid))
            throw new Error(`cannot reset the peak RSS of ${name} (/proc/${proc.pid}/clear_refs)`);
        }
      };
      const steadyWanted = opts.phases.has('rss') && started.status === 'ok' && rate > 0;
      // After the overload steps the ingest and the simulator keep the memory they grew (V8 gives
      // it back slowly), so the steady window gets fresh ones: the ingest once it has stored its
      // backlog (its session keeps anything still unacknowledged), the simulator reconnecting.
      let freshProcesses: PhaseOutcome<boolean> | undefined;
      if (steadyWanted && phases.lantern.status === 'ok') {
        freshProcesses = await guard('fresh ingest and simulator for the steady window', async () => {
          await backlogStored();
          noteRss('ingest', ingest);
          noteRss('simulator', load?.process);
          await load!.stop();
          await ingest!.stop(stopGraceMs);
          await startIngest();
          load = await startLoad(loadDevices);
          return true;
        });
      }
      if (opts.phases.has('alert')) {
        if (steadyWanted) startSteadyWindow();
        phases.alertLatency =
          down(started) ??
          (rate === 0 && !opts.alertRate
            ? {
                status: 'failed',
                error:
                  'no sustained Lantern rate to take 50 % of (the lantern phase failed or did not run); pass --alert-rate',
              }
            : await guard(`alert latency at ${rate} readings/s`, async () => {
                load!.setRate(rate);
                try {
                  const caughtUpAfterSec = Math.round(await untilCaughtUp(metricsText));
                  log(
                    `    the ingest kept up with the load after ${caughtUpAfterSec} s (its canary back through the broker)`,
                  );
                  // The load generator stands in for remote devices: lower priority while the probes run
                  // (LOAD_GENERATOR_NICE; back to normal only with a new process: raising it needs privileges).
                  setPriority(load!.process.pid, LOAD_GENERATOR_NICE);
                  const loadBefore = await load!.nextReport();
                  const result = await measureAlertLatency({
                    apiUrl,
                    token,
                    // The probes are devices: over TLS with --tls, like the load.
                    mqttUrl: broker!.devices.url,
                    ...(broker!.devices.caFile !== undefined && { mqttCa: readFileSync(broker!.devices.caFile) }),
                    topicRoot: TOPIC_ROOT,
                    probes,
                    watchedPatients: loadDevices.slice(0, opts.watchers).map((d) => d.patientId),
                    samples: opts.alertSamples,
                    loadReadingsPerSec: rate,
                    log,
                  });
                  const achieved = LoadProcess.achievedBetween(loadBefore, await load!.nextReport());
                  if (achieved < rate * LOAD_ACHIEVED_MIN)
                    throw new Error(
                      `the load generator (nice ${LOAD_GENERATOR_NICE}) achieved ${achieved} of ${rate} readings/s while the probes ran: the latency was not measured under the load asked for`,
                    );
                  return {
                    ...result,
                    caughtUpAfterSec,
                    loadAchievedReadingsPerSec: achieved,
                    loadGeneratorNice: LOAD_GENERATOR_NICE,
                  };
                } finally {
                  load!.setRate(0);
                }
              }));
      }
      if (opts.phases.has('rss')) {
        phases.rss =
          down(started) ??
          (await guard('peak memory', async () => {
            if (!steadyWanted)
              throw new Error(
                'no rate for the steady window (the lantern phase failed or did not run); pass --alert-rate',
              );
            if (freshProcesses?.status === 'failed') throw new Error(`no fresh processes: ${freshProcesses.error}`);
            const fresh =
              freshProcesses?.status === 'ok' ? ', ingest and simulator started afresh after the overload steps' : '';
            let window = `the alert-latency phase: ${rate} readings/s, ${opts.watchers} watching sockets${fresh}`;
            if (phases.alertLatency.status !== 'ok') {
              startSteadyWindow();
              load!.setRate(rate);
              await new Promise((r) => setTimeout(r, STEADY_WINDOW_SEC * 1000));
              load!.setRate(0);
              window = `${STEADY_WINDOW_SEC} s at ${rate} readings/s${fresh}`;
            }
            const steadyPeakMiB: Record<string, number | null> = {};
            for (const [name, proc] of Object.entries(steadyProcesses())) {
              steadyPeakMiB[name] = proc ? mib(peakRss(proc.pid)) : null;
              noteRss(name, proc);
            }
            return { devices: opts.devices, window, steadyPeakMiB, wholeRunPeakMiB: { ...rss } };
          }));
      }
      await load?.stop();
      if (opts.phases.has('scaling'))
        phases.scaling =
          down(started) ??
          (await guard('scaling: devices × readings per message', () =>
            measureScaling({
              configs: opts.scaling,
              seed: (n) => seedDevices(pool, n, 'pulse_oximeter', 'Scale'),
              startLoad,
              sustained: (l) =>
                measureSustained(pool, l, { ...lanternSteps, stepSec: Math.min(opts.stepSec, SCALING_MAX_STEP_SEC) }),
              fileLimit: openFileLimit(),
              settle: async () => {
                const started = Date.now();
                await untilCaughtUp(metricsText);
                await backlogStored();
                return (Date.now() - started) / 1000;
              },
              log,
            }),
          ));
      if (opts.phases.has('query')) {
        phases.query =
          down(started) ??
          (await guard('query latency', () =>
            measureQueries(db!.pool, {
              apiUrl,
              token,
              patients: opts.queryPatients,
              days: opts.queryDays,
              intervalSec: opts.queryIntervalSec,
              samples: opts.querySamples,
              log,
            }),
          ));
      }
      await api?.stop(stopGraceMs);
      await ingest?.stop(stopGraceMs);
    }
  } catch (error) {
    log(`bench setup failed: ${(error as Error).stack ?? String(error)}`);
    for (const key of Object.keys(phases) as (keyof BenchReport['phases'])[]) {
      if (phases[key].status === 'skipped' && phases[key].reason === 'not selected')
        (phases as Record<string, PhaseOutcome<unknown>>)[key] = {
          status: 'failed',
          error: `setup failed: ${(error as Error).message}`,
        };
    }
  } finally {
    for (const p of running) await p.stop().catch(() => undefined);
    await broker?.stop().catch(() => undefined);
    if (!opts.keep) {
      await db?.drop().catch((e: unknown) => log(`could not drop the bench database: ${String(e)}`));
      rmSync(work, { recursive: true, force: true });
    } else await db?.pool.end();
  }

  const base: Omit<BenchReport, 'targets'> = {
    startedAt,
    finishedAt: new Date().toISOString(),
    quick,
    machine: {
      ...describeMachine(),
      postgres: toolVersion('psql', ['--version']),
      mosquitto: toolVersion('mosquitto', ['-h'])?.split('\n')[0],
    },
    settings: { ...opts, phases: [...opts.phases] },
    phases,
    ...(opts.profile === undefined ? {} : { profiles: profileSummaries(opts.profile) }),
  };
  const report: BenchReport = { ...base, targets: checkTargets(base) };
  writeBenchReport(report, opts.outDir, root, log);
  return 0;
}

/** The top functions of each profiled role (written when its process exited). */
function profileSummaries(dir: string): Record<string, ProfileSummary> {
  const out: Record<string, ProfileSummary> = {};
  for (const role of ['ingest', 'api']) {
    const summary = summarizeProfileDir(join(dir, role));
    if (summary) out[role] = summary;
  }
  return out;
}

runMain('bench', main);
