import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { generateDeviceSecret, hashDeviceSecret } from '@lantern/auth';
import { HEAP_LIMIT_MB } from '@lantern/config';
import pg from 'pg';
import { findFreePort, isPortFree } from '@lantern/embedded';
import { topicsFor } from '@lantern/messaging';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { connectMqtt } from '../support/mqtt.js';
import { SUPERVISOR, startSupervisor, waitForBanner, type SupervisorRun } from '../support/supervisor.js';
import { waitFor } from '../support/wait.js';

/** Alive and not a zombie waiting for a reaper. */
function isAlive(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

function childPids(output: string): number[] {
  return [...output.matchAll(/\[lantern\] (?:api|ingest) started \(pid (\d+)\)/g)].map((m) => Number(m[1]));
}

/** The pid a role was restarted with, once the supervisor has said so. */
function restartedPid(output: string, role: 'api' | 'ingest', restart: number): number | undefined {
  const match = new RegExp(`\\[lantern\\] ${role} restarted \\(pid (\\d+), restart ${restart}\\)`).exec(output);
  return match ? Number(match[1]) : undefined;
}

/** GET `url`: its status and text, or undefined while nothing answers. */
async function get(url: string): Promise<{ status: number; text: string } | undefined> {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(5000) });
    return { status: response.status, text: await response.text() };
  } catch {
    return undefined;
  }
}

/** Polls `url` until `accept` holds for its answer; fails with the last answer and the supervisor's output. */
async function waitForAnswer(
  run: SupervisorRun,
  url: string,
  accept: (answer: { status: number; text: string }) => boolean,
): Promise<{ status: number; text: string }> {
  let last: { status: number; text: string } | undefined;
  return waitFor(
    async () => {
      last = await get(url);
      return last && accept(last) ? last : undefined;
    },
    () => `${url} (it answered ${last ? `${last.status} ${last.text.slice(0, 500)}` : 'nothing'})\n${run.stderr}`,
    60_000,
    200,
  );
}

describe('lantern supervisor (npm start)', () => {
  let database: TestDatabase;
  let dataDir: string;
  const runs: SupervisorRun[] = [];

  beforeAll(async () => {
    if (!existsSync(SUPERVISOR)) throw new Error(`${SUPERVISOR} is missing: run npm run build first`);
    database = await createTestDatabase({ poolSize: 1 });
    dataDir = mkdtempSync(join(tmpdir(), 'lantern-supervisor-'));
  });

  /** Data folders with an embedded PostgreSQL: stopped and removed at the end, also when a test failed. */
  const ownDataDirs: string[] = [];

  afterAll(async () => {
    for (const run of runs) if (run.child.exitCode === null) run.child.kill('SIGKILL');
    for (const dir of ownDataDirs) {
      const postmaster = existsSync(join(dir, 'postgres/postmaster.pid'))
        ? Number(readFileSync(join(dir, 'postgres/postmaster.pid'), 'utf8').split('\n')[0])
        : 0;
      if (postmaster > 0 && isAlive(postmaster)) {
        process.kill(postmaster, 'SIGINT');
        const deadline = Date.now() + 20_000;
        while (isAlive(postmaster) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
      }
      rmSync(dir, { recursive: true, force: true });
    }
    await database?.drop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  async function baseEnv(): Promise<Record<string, string | undefined>> {
    return {
      DATABASE_URL: database.url,
      PORT: String(await findFreePort()),
      INGEST_METRICS_PORT: String(await findFreePort()),
      EMBEDDED_MQTT_PORT: String(await findFreePort()),
      EMBEDDED_MQTTS_PORT: String(await findFreePort()),
      MQTT_TOPIC_ROOT: `test-${randomBytes(4).toString('hex')}/v1`,
      DATA_DIR: dataDir,
      JWT_SECRET: undefined,
      MQTT_PASSWORD: undefined,
      NODE_ENV: 'test',
    };
  }

  it('runs both apps on the embedded broker, prints where everything is, and stops everything on SIGINT', async () => {
    const env: Record<string, string | undefined> = { ...(await baseEnv()), MQTT_URL: undefined };
    const run = startSupervisor(env);
    runs.push(run);
    await waitForBanner(run);
    expect(run.stdout).toContain(`API        http://localhost:${env.PORT}/api/v1`);
    expect(run.stdout).toContain(`API docs   http://localhost:${env.PORT}/api/docs`);
    expect(run.stdout).toContain(`Dashboard  http://localhost:${env.PORT}/`);
    expect(run.stdout).toContain(`Broker     mqtts://localhost:${env.EMBEDDED_MQTTS_PORT} (embedded, TLS`);
    expect(run.stdout).toContain(`mqtt://127.0.0.1:${env.EMBEDDED_MQTT_PORT} plain MQTT, loopback only`);
    expect(run.stdout).toMatch(/\[(api|ingest)\] /);
    const pids = childPids(run.stdout);
    expect(pids).toHaveLength(2);
    // Both roles run with Lantern's heap limit (libs/config/src/heap-limit.ts).
    for (const pid of pids) {
      const environ = readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0');
      expect(environ.find((v) => v.startsWith('NODE_OPTIONS='))).toContain(`--max-old-space-size=${HEAP_LIMIT_MB}`);
    }
    expect(await isPortFree(Number(env.EMBEDDED_MQTT_PORT))).toBe(false);
    // JWT_SECRET unset: generated once into DATA_DIR, owner-only.
    expect(statSync(join(dataDir, 'jwt-secret')).mode & 0o777).toBe(0o600);

    run.child.kill('SIGINT');
    expect(await run.exit).toBe(0);
    expect(run.stdout).toContain('[lantern] Stopped.');
    for (const pid of pids) expect(isAlive(pid)).toBe(false);
    expect(await isPortFree(Number(env.EMBEDDED_MQTT_PORT))).toBe(true);
    expect(await isPortFree(Number(env.PORT))).toBe(true);
  });

  it('restarts the ingest, then the api, killed with kill -9: new pid, /health 200 again, the restart counted in /metrics, the embedded broker untouched', async () => {
    const servicePassword = randomBytes(16).toString('hex');
    const env: Record<string, string | undefined> = {
      ...(await baseEnv()),
      MQTT_URL: undefined,
      MQTT_PASSWORD: servicePassword,
    };
    const run = startSupervisor(env);
    runs.push(run);
    await waitForBanner(run);
    const [api, ingest] = childPids(run.stdout);
    const health = `http://127.0.0.1:${env.PORT}/health`;
    await waitForAnswer(run, health, (answer) => answer.status === 200);
    // A connection to the embedded broker: a role's restart must not touch the broker.
    const watcher = await connectMqtt(`mqtt://127.0.0.1:${env.EMBEDDED_MQTT_PORT}`, {
      clientId: `supervisor-test-${randomBytes(3).toString('hex')}`,
      username: 'lantern-service',
      password: servicePassword,
      protocolVersion: 4,
    });
    let brokerDropped = false;
    watcher.on('close', () => (brokerDropped = true));

    try {
      process.kill(ingest, 'SIGKILL');
      await waitFor(
        () => restartedPid(run.stdout, 'ingest', 1) !== undefined,
        () => `the ingest to be restarted; output so far:\n${run.stdout}${run.stderr}`,
        45_000,
      );
      expect(run.stderr).toMatch(
        /\[lantern\] ingest exited unexpectedly \(signal SIGKILL\) after [\d.]+ s: restarting it in 1 s \(restart 1\)/,
      );
      const ingestAgain = restartedPid(run.stdout, 'ingest', 1)!;
      expect(ingestAgain).not.toBe(ingest);
      expect(isAlive(ingest)).toBe(false);
      const ingestMetrics = await waitForAnswer(run, `http://127.0.0.1:${env.INGEST_METRICS_PORT}/metrics`, (a) =>
        a.text.includes('lantern_role_restarts_total{role="ingest"} 1'),
      );
      expect(ingestMetrics.status).toBe(200);
      const healthy = await waitForAnswer(
        run,
        health,
        (a) => a.status === 200 && (JSON.parse(a.text) as { ingest?: { status: string } }).ingest?.status === 'up',
      );
      expect(JSON.parse(healthy.text)).toMatchObject({ status: 'ok', broker: 'up', database: 'up' });

      process.kill(api, 'SIGKILL');
      await waitFor(
        () => restartedPid(run.stdout, 'api', 1) !== undefined,
        () => `the api to be restarted; output so far:\n${run.stdout}${run.stderr}`,
        45_000,
      );
      expect(run.stderr).toMatch(
        /\[lantern\] api exited unexpectedly \(signal SIGKILL\) after [\d.]+ s: restarting it in 1 s/,
      );
      expect(restartedPid(run.stdout, 'api', 1)).not.toBe(api);
      expect(isAlive(api)).toBe(false);
      await waitForAnswer(run, health, (a) => a.status === 200);
      const apiMetrics = await waitForAnswer(run, `http://127.0.0.1:${env.PORT}/metrics`, (a) => a.status === 200);
      expect(apiMetrics.text).toContain('lantern_role_restarts_total{role="api"} 1');
      // The ingest was not restarted again by the api's restart.
      expect(restartedPid(run.stdout, 'ingest', 2)).toBeUndefined();
      expect(brokerDropped).toBe(false);
    } finally {
      watcher.end(true);
    }

    run.child.kill('SIGINT');
    expect(await run.exit).toBe(0);
    expect(run.stdout).toContain('[lantern] Stopped.');
    expect(isAlive(restartedPid(run.stdout, 'ingest', 1)!)).toBe(false);
    expect(isAlive(restartedPid(run.stdout, 'api', 1)!)).toBe(false);
  }, 180_000);

  it('with INGEST_STANDBY=1, the standby ingest takes the session over when the active one is killed -9', async () => {
    const env: Record<string, string | undefined> = {
      ...(await baseEnv()),
      MQTT_URL: undefined,
      INGEST_STANDBY: '1',
      INGEST_LEASE_TTL: '2s',
    };
    const run = startSupervisor(env);
    runs.push(run);
    await waitForBanner(run);
    expect(run.stdout).toContain('[lantern]   Standby    a second ingest waits to take over the session');
    const standbyPid = Number(/\[lantern\] ingest-standby started \(pid (\d+)\)/.exec(run.stdout)?.[1]);
    const [, ingestPid] = childPids(run.stdout);
    const health = `http://127.0.0.1:${env.PORT}/health`;
    await waitForAnswer(run, health, (a) => a.status === 200);
    const holderPid = async (): Promise<number | undefined> => {
      const rows = await database.dataSource.query<{ holder: string }[]>(
        `SELECT holder FROM leases WHERE name LIKE 'ingest-session:%'`,
      );
      const pid = rows[0] && /-(\d+)-[0-9a-f]{4}$/.exec(rows[0].holder)?.[1];
      return pid ? Number(pid) : undefined;
    };
    const active = await holderPid();
    expect([ingestPid, standbyPid]).toContain(active);

    process.kill(active!, 'SIGKILL');
    const killedAt = Date.now();
    // The standby, or the killed one restarted by the supervisor: whichever takes the lease first.
    let holder: number | undefined;
    await waitFor(
      async () => {
        holder = await holderPid();
        return holder !== undefined && holder !== active;
      },
      () => `another ingest to hold the lease; output so far:\n${run.stdout}${run.stderr}`,
      45_000,
    );
    const healthy = await waitForAnswer(
      run,
      health,
      (a) => a.status === 200 && (JSON.parse(a.text) as { ingest?: { status: string } }).ingest?.status === 'up',
    );
    expect(JSON.parse(healthy.text)).toMatchObject({ status: 'ok' });
    // Seconds, not minutes: the lease (2 s here) runs out and the standby boots on the same session.
    expect(Date.now() - killedAt).toBeLessThan(30_000);

    run.child.kill('SIGINT');
    expect(await run.exit).toBe(0);
  }, 180_000);

  it('stops Lantern with one line when a role fails right after its start five times in a row', async () => {
    // Preloaded into every process Node starts with this environment: the ingest alone fails at
    // once, as with a setting only it rejects; the supervisor and the api start normally.
    const crashIngest = join(dataDir, 'crash-ingest.cjs');
    writeFileSync(
      crashIngest,
      `if (/[\\\\/]apps[\\\\/]ingest[\\\\/]/.test(process.argv[1] ?? '')) {
        process.stderr.write('fixture: the ingest fails at its start\\n');
        process.exit(3);
      }`,
    );
    const run = startSupervisor({
      ...(await baseEnv()),
      MQTT_URL: process.env.MQTT_URL,
      NODE_OPTIONS: `--require ${crashIngest}`,
    });
    runs.push(run);
    expect(await run.exit).toBe(1);
    expect(run.stderr).toContain('[ingest] fixture: the ingest fails at its start');
    for (const [restart, delay] of [
      [1, '1 s'],
      [2, '2 s'],
      [3, '4 s'],
      [4, '8 s'],
    ] as const)
      expect(run.stderr).toMatch(
        new RegExp(
          `ingest exited unexpectedly \\(code 3\\) after [\\d.]+ s: restarting it in ${delay} \\(restart ${restart}\\)`,
        ),
      );
    expect(run.stderr).toContain(
      '[lantern] ingest exited unexpectedly (code 3): it failed 5 times in a row within 15 s of starting, so restarting will not help: stopping Lantern (its output above says why)\n',
    );
    expect(run.stdout).toContain('[lantern] Stopped (exit code 1).');
    const [api] = childPids(run.stdout);
    expect(isAlive(api)).toBe(false);
  }, 120_000);

  it('keeps every QoS 1 reading the embedded broker acknowledged while the ingest was stopped, through a kill -9 of the whole of Lantern (embedded PostgreSQL and broker)', async () => {
    // npm start's defaults: embedded PostgreSQL and broker, in a data folder of this test's own.
    const ownDataDir = mkdtempSync(join(tmpdir(), 'lantern-supervisor-crash-'));
    ownDataDirs.push(ownDataDir);
    const env: Record<string, string | undefined> = {
      ...(await baseEnv()),
      DATABASE_URL: undefined,
      EMBEDDED_POSTGRES_PORT: String(await findFreePort()),
      DATA_DIR: ownDataDir,
      MQTT_URL: undefined,
      MQTT_PASSWORD: randomBytes(16).toString('hex'),
    };
    const topics = topicsFor(env.MQTT_TOPIC_ROOT!);
    const first = startSupervisor(env);
    runs.push(first);
    await waitForBanner(first);
    const [api, ingest] = childPids(first.stdout);
    const db = new pg.Client({
      connectionString: `postgres://postgres:${encodeURIComponent(readFileSync(join(ownDataDir, 'postgres-password'), 'utf8').trim())}@127.0.0.1:${env.EMBEDDED_POSTGRES_PORT}/lantern`,
    });
    const secret = generateDeviceSecret();
    await db.connect();
    const queueRows = async () =>
      (await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM broker.outgoing`)).rows[0].n;
    const deviceId = (
      await db.query<{ id: string }>(
        `WITH patient AS (INSERT INTO patients (display_name) VALUES ('Crash Test') RETURNING id)
         INSERT INTO devices (patient_id, type, secret_hash) SELECT id, 'pulse_oximeter', $1 FROM patient RETURNING id::text`,
        [hashDeviceSecret(secret)],
      )
    ).rows[0].id;
    await waitForAnswer(
      first,
      `http://127.0.0.1:${env.PORT}/health`,
      (a) => a.status === 200 && (JSON.parse(a.text) as { ingest?: { status: string } }).ingest?.status === 'up',
    );
    // The apps work as the login `lantern` in lantern_app (no DDL rights); only the supervisor is the owner.
    const logins = await db.query<{ login: string }>(
      `SELECT DISTINCT usename::text AS login FROM pg_stat_activity WHERE application_name IN ('lantern-api', 'lantern-ingest', 'lantern-ingest-alerts')`,
    );
    expect(logins.rows).toEqual([{ login: 'lantern' }]);
    expect(statSync(join(ownDataDir, 'postgres-app-password')).mode & 0o777).toBe(0o600);

    // The ingest stops consuming (still connected: what it was sent waits unacknowledged).
    process.kill(ingest, 'SIGSTOP');
    const device = await connectMqtt(`mqtt://127.0.0.1:${env.EMBEDDED_MQTT_PORT}`, {
      clientId: deviceId,
      username: deviceId,
      password: secret,
      protocolVersion: 4,
    });
    const start = Date.now() - 60_000;
    const count = 40;
    const publish = async (from: number, to: number) => {
      for (let i = from; i < to; i++)
        await device.publishAsync(
          topics.telemetry(deviceId),
          JSON.stringify({ seq: i, readings: [{ metric: 'spo2', value: 90 + (i % 10), ts: start + i * 1000 }] }),
          { qos: 1 },
        );
    };
    // Half of them wait long enough for the broker to write their queue rows; the other half is
    // killed with them unwritten (in the journal only, written before each PUBACK).
    await publish(0, count / 2);
    let written = 0;
    await waitFor(
      async () => (written = await queueRows()) >= count / 2,
      () => `${count / 2} queue rows (${written} so far)`,
      10_000,
    );
    await publish(count / 2, count);
    device.end(true);
    await db.end();

    // Everything Lantern runs dies at once, as in a power cut: no shutdown, no last write. (The
    // embedded PostgreSQL lives on, as it would after a kill -9 of npm start alone.)
    for (const pid of [first.child.pid!, api, ingest]) process.kill(pid, 'SIGKILL');
    expect(await first.exit).toBe(null);
    await waitFor(() => !isAlive(api) && !isAlive(ingest), 'the roles to die', 45_000);

    const second = startSupervisor(env);
    runs.push(second);
    await waitForBanner(second);
    expect(second.stdout).toMatch(
      /\[lantern\] Stopping the embedded PostgreSQL \(pid \d+\) that a previous run left running…/,
    );
    const reader = new pg.Client({
      connectionString: `postgres://postgres:${encodeURIComponent(readFileSync(join(ownDataDir, 'postgres-password'), 'utf8').trim())}@127.0.0.1:${env.EMBEDDED_POSTGRES_PORT}/lantern`,
    });
    await reader.connect();
    let lastStored = 0;
    const stored = async () =>
      (await reader.query<{ n: number }>(`SELECT count(*)::int AS n FROM readings WHERE device_id = $1`, [deviceId]))
        .rows[0].n;
    await waitFor(
      async () => (lastStored = await stored()) === count,
      () => `${count} readings stored (${lastStored} so far)\n${second.stdout}\n${second.stderr}`,
      60_000,
    );
    // Once each: the journal's redelivery of what was already stored is absorbed by the idempotent writes.
    expect(await stored()).toBe(count);
    expect(second.stdout).toMatch(
      /\[broker\] (re-queued \d+ acknowledged message|restored 1 session\(s\) and \d+ queued message)/,
    );

    await reader.end();
    second.child.kill('SIGINT');
    expect(await second.exit).toBe(0);
  }, 180_000);

  it('refuses a taken broker port with one line and exit code 1', async () => {
    const blocker: Server = createServer();
    const port = await new Promise<number>((resolve) =>
      blocker.listen(0, () => resolve((blocker.address() as { port: number }).port)),
    );
    try {
      const run = startSupervisor({ ...(await baseEnv()), MQTT_URL: undefined, EMBEDDED_MQTT_PORT: String(port) });
      runs.push(run);
      expect(await run.exit).toBe(1);
      expect(run.stderr).toBe(
        `Port ${port} is taken: set EMBEDDED_MQTT_PORT to a free port, or MQTT_URL to use an existing broker\n`,
      );
      expect(run.stdout).toBe('');
    } finally {
      blocker.close();
    }
  });

  it.each([
    ['PORT', 'set PORT to a free port for the api (REST, Socket.IO, dashboard)'],
    ['INGEST_METRICS_PORT', "set INGEST_METRICS_PORT to a free port (or 0 for any) for the ingest's /metrics"],
  ])('refuses a taken %s with one line and exit code 1', async (variable, hint) => {
    const blocker: Server = createServer();
    const port = await new Promise<number>((resolve) =>
      blocker.listen(0, () => resolve((blocker.address() as { port: number }).port)),
    );
    try {
      const run = startSupervisor({ ...(await baseEnv()), [variable]: String(port) });
      runs.push(run);
      expect(await run.exit).toBe(1);
      expect(run.stderr).toBe(`Port ${port} is taken: ${hint}\n`);
      expect(run.stdout).toBe('');
    } finally {
      blocker.close();
    }
  });

  it('lists every configuration problem and exits 1', async () => {
    const run = startSupervisor({ ...(await baseEnv()), PORT: 'eighty', DATABASE_URL: 'mysql://x' });
    runs.push(run);
    expect(await run.exit).toBe(1);
    expect(run.stderr).toMatch(
      /Invalid configuration:\n {2}- PORT must be an integer.*\n {2}- DATABASE_URL must use postgres/,
    );
  });
});
