import { existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import Module from 'node:module';
import { join } from 'node:path';

/** Stoppers of what this setup started, read by global-teardown.ts (same process). */
export const STARTED_SERVERS = Symbol.for('lantern.test.startedServers');
type Stopper = { readonly name: string; stop(): Promise<void> };

/**
 * Gives the test run a database server and a broker when the environment names none:
 * an embedded PostgreSQL in `.tmp/test-postgres` (fresh each run) and Debian's mosquitto when
 * installed (MQTT 5 and shared subscriptions, which aedes lacks), else an anonymous aedes broker.
 * Test files create their own databases and topic roots on these servers.
 */
export default async function globalSetup(globalConfig: { rootDir: string }): Promise<void> {
  const started: Stopper[] = [];
  (globalThis as Record<symbol, unknown>)[STARTED_SERVERS] = started;
  const root = globalConfig.rootDir;
  const restoreResolution = resolveLanternSources(root);
  let embedded: typeof import('@lantern/embedded');
  let mosquitto: typeof import('../../bench/src/infra/mosquitto.js');
  try {
    [embedded, mosquitto] = await Promise.all([
      import('@lantern/embedded'),
      import('../../bench/src/infra/mosquitto.js'),
    ]);
  } finally {
    restoreResolution();
  }
  const { findFreePort, startAnonymousBroker, startEmbeddedPostgres } = embedded;

  if (!process.env.DATABASE_URL) {
    // One folder per run: jest runs started in parallel in the same checkout must not share a cluster.
    const runsDir = join(root, '.tmp/test-postgres');
    removeStaleRuns(runsDir);
    const dataDir = join(runsDir, `run-${process.pid}`);
    rmSync(dataDir, { recursive: true, force: true });
    const postgres = await startEmbeddedPostgres({ dataDir, port: await findFreePort(), database: 'postgres' });
    started.push({
      name: 'embedded PostgreSQL',
      stop: async () => {
        await postgres.stop();
        rmSync(dataDir, { recursive: true, force: true });
      },
    });
    process.env.DATABASE_URL = postgres.adminUrl;
  }

  if (!process.env.MQTT_URL) {
    const port = await findFreePort();
    const binary = mosquitto.findMosquitto();
    if (binary) {
      // The queue and in-flight limits of docker/mosquitto.conf; listener, persistence (off), auth
      // (anonymous) and logging are the test run's own.
      const dir = join(root, '.tmp/test-mosquitto');
      mkdirSync(dir, { recursive: true });
      const shipped = join(root, 'docker/mosquitto.conf');
      const proc = await mosquitto.startMosquitto(
        join(dir, `mosquitto-${port}.conf`),
        { port, ...(existsSync(shipped) ? { shippedConf: shipped } : {}) },
        { binary },
      );
      started.push({ name: 'mosquitto', stop: () => proc.stop() });
    } else {
      const broker = await startAnonymousBroker({ port, host: '127.0.0.1' });
      started.push({ name: 'aedes', stop: broker.stop });
    }
    process.env.MQTT_URL = `mqtt://127.0.0.1:${port}`;
  }
}

/**
 * Jest loads global setup outside its module system, as CommonJS without moduleNameMapper: map
 * `@lantern/<lib>` and the `.js` of relative ESM imports to the TypeScript sources, as jest.config.js does.
 */
function resolveLanternSources(root: string): () => void {
  type Resolve = (request: string, parent: unknown, ...rest: unknown[]) => string;
  const loader = Module as unknown as { _resolveFilename: Resolve };
  const original = loader._resolveFilename;
  loader._resolveFilename = function (this: unknown, request, parent, ...rest) {
    const alias = /^@lantern\/([\w-]+)$/.exec(request);
    if (alias) return original.call(this, join(root, 'libs', alias[1], 'src/index.ts'), parent, ...rest);
    if (request === '@lantern/messaging/contract')
      return original.call(this, join(root, 'libs/messaging/src/contract.ts'), parent, ...rest);
    try {
      return original.call(this, request, parent, ...rest);
    } catch (error) {
      if (!/^\.{1,2}\/.*\.js$/.test(request)) throw error;
      return original.call(this, request.replace(/\.js$/, '.ts'), parent, ...rest);
    }
  };
  return () => {
    loader._resolveFilename = original;
  };
}

/** Removes the folders of earlier runs whose jest process is gone (killed before its teardown). */
function removeStaleRuns(runsDir: string): void {
  if (!existsSync(runsDir)) return;
  for (const name of readdirSync(runsDir)) {
    const pid = Number(/^run-(\d+)$/.exec(name)?.[1]);
    if (!pid) continue;
    try {
      process.kill(pid, 0);
    } catch {
      rmSync(join(runsDir, name), { recursive: true, force: true });
    }
  }
}
