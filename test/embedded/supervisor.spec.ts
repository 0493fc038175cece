import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { findFreePort, isPortFree } from '@lantern/embedded';
import { createTestDatabase, type TestDatabase } from '../support/database.js';

// The supervisor runs the built apps (npm test builds first).
const SUPERVISOR = new URL('../../dist/apps/lantern/apps/lantern/src/main.js', import.meta.url).pathname;

interface Run {
  readonly child: ChildProcess;
  stdout: string;
  stderr: string;
  readonly exit: Promise<number | null>;
}

function startSupervisor(env: Record<string, string | undefined>): Run {
  const fullEnv: NodeJS.ProcessEnv = { ...process.env, ...env };
  for (const [key, value] of Object.entries(env)) if (value === undefined) delete fullEnv[key];
  const child = spawn(process.execPath, [SUPERVISOR], { env: fullEnv, stdio: ['ignore', 'pipe', 'pipe'] });
  const run: Run = {
    child,
    stdout: '',
    stderr: '',
    exit: new Promise((resolve) => child.once('exit', (code) => resolve(code))),
  };
  child.stdout.on('data', (chunk: Buffer) => (run.stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (run.stderr += chunk.toString()));
  return run;
}

async function waitFor(condition: () => boolean, what: () => string, timeoutMs = 45_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting; output so far:\n${what()}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Alive and not a zombie waiting for a reaper. */
function isAlive(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

/** Waits for the start banner; fails with the whole output when the supervisor exits first. */
async function waitForBanner(run: Run): Promise<void> {
  await waitFor(
    () => run.stdout.includes('Press Ctrl-C to stop.') || run.child.exitCode !== null,
    () => run.stdout + run.stderr,
  );
  if (run.child.exitCode !== null)
    throw new Error(`the supervisor exited (${run.child.exitCode}) before it was up:\n${run.stderr}\n${run.stdout}`);
}

function childPids(output: string): number[] {
  return [...output.matchAll(/\[lantern\] (?:api|ingest) started \(pid (\d+)\)/g)].map((m) => Number(m[1]));
}

describe('lantern supervisor (npm start)', () => {
  let database: TestDatabase;
  let dataDir: string;
  const runs: Run[] = [];

  beforeAll(async () => {
    if (!existsSync(SUPERVISOR)) throw new Error(`${SUPERVISOR} is missing: run npm run build first`);
    database = await createTestDatabase({ poolSize: 1 });
    dataDir = mkdtempSync(join(tmpdir(), 'lantern-supervisor-'));
  });

  afterAll(async () => {
    for (const run of runs) if (run.child.exitCode === null) run.child.kill('SIGKILL');
    await database?.drop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  async function baseEnv(): Promise<Record<string, string | undefined>> {
    return {
      DATABASE_URL: database.url,
      PORT: String(await findFreePort()),
      INGEST_METRICS_PORT: String(await findFreePort()),
      EMBEDDED_MQTT_PORT: String(await findFreePort()),
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
    expect(run.stdout).toContain(`Broker     mqtt://localhost:${env.EMBEDDED_MQTT_PORT} (embedded`);
    expect(run.stdout).toMatch(/\[(api|ingest)\] /);
    const pids = childPids(run.stdout);
    expect(pids).toHaveLength(2);
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

  it('stops everything with a non-zero code when a child dies, restarting nothing', async () => {
    const run = startSupervisor({ ...(await baseEnv()), MQTT_URL: process.env.MQTT_URL });
    runs.push(run);
    await waitForBanner(run);
    expect(run.stdout).toMatch(/Broker {5}external \(mqtt:\/\//);
    const [api, ingest] = childPids(run.stdout);
    process.kill(api, 'SIGKILL');
    expect(await run.exit).toBe(1);
    expect(run.stderr).toContain('[lantern] api exited unexpectedly (signal SIGKILL): stopping Lantern');
    expect(isAlive(ingest)).toBe(false);
  });

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
