import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { resolveJwtSecret } from '@lantern/auth';
import { withHeapLimit, type LanternConfig } from '@lantern/config';
import {
  AedesPostgresPersistence,
  ensureEmbeddedAppLogin,
  isPortFree,
  PortTakenError,
  resolveBrokerCertificate,
  startEmbeddedBroker,
  type BrokerCertificate,
  startEmbeddedPostgres,
  type RunningEmbeddedBroker,
} from '@lantern/embedded';
import { DeviceCredentialRepository, APP_ROLE, createDataSource, runMigrations } from '@lantern/storage';
import { claimDataDir, isAlive } from './data-dir.lock.js';
import { SupervisedRole } from './supervised-role.js';

/** Children get this long to stop after SIGTERM before SIGKILL. */
const CHILD_STOP_GRACE_MS = 10_000;
/** How long the api may take to accept connections before the start is reported as stuck. */
const API_READY_TIMEOUT_MS = 120_000;
/** How often the embedded PostgreSQL's process is checked: its death stops Lantern. */
const POSTGRES_WATCH_MS = 1000;

// Compiled to dist/apps/lantern/apps/lantern/src/; the other apps are built next to it.
const DIST_APPS = resolve(dirname(fileURLToPath(import.meta.url)), '../../../..');
const CHILD_SCRIPTS = {
  api: join(DIST_APPS, 'api/apps/api/src/main.js'),
  ingest: join(DIST_APPS, 'ingest/apps/ingest/src/main.js'),
} as const;

const say = (line: string) => process.stdout.write(`[lantern] ${line}\n`);
const warn = (line: string) => process.stderr.write(`[lantern] ${line}\n`);

/**
 * `npm start`: embedded PostgreSQL and broker when none is configured, migrations, then the api and
 * ingest processes. A role that exits on its own is restarted with backoff, the embedded servers
 * untouched (see SupervisedRole); one that keeps failing right after its start, or the embedded
 * PostgreSQL dying, stops everything with a non-zero code. `shutdown()` stops the roles, then the
 * broker (its sessions and queued messages saved in PostgreSQL), then PostgreSQL.
 */
export class LanternSupervisor {
  /** Undo steps of what has been started, run newest first on shutdown. */
  private readonly started: { name: string; stop: () => Promise<void> }[] = [];
  private readonly roles: SupervisedRole[] = [];
  private stopping: Promise<never> | undefined;
  private starting: Promise<void> | undefined;

  constructor(private readonly config: LanternConfig) {}

  get isStopping(): boolean {
    return this.stopping !== undefined;
  }

  /** Starts everything; rejects (PortTakenError, …) with the cause when the start fails. */
  start(): Promise<void> {
    this.starting ??= this.startAll();
    return this.starting;
  }

  private async startAll(): Promise<void> {
    const { config } = this;
    const dataDir = resolve(config.dataDir);
    for (const script of Object.values(CHILD_SCRIPTS)) {
      if (!existsSync(script))
        throw new Error(`${script} is missing: run npm run build (npm start builds when needed)`);
    }
    // One Lantern per DATA_DIR; what a killed previous run left there (its PostgreSQL) is stopped.
    const release = await claimDataDir(dataDir, say);
    this.started.push({
      name: 'data folder claim',
      stop: () => {
        release();
        return Promise.resolve();
      },
    });
    // Every port first: a taken one should not wait for PostgreSQL to initialise, nor end in a
    // child's stack trace.
    if (!config.databaseUrl && !(await isPortFree(config.embeddedPostgresPort, '127.0.0.1')))
      throw new PortTakenError(config.embeddedPostgresPort, 'postgres');
    if (!config.mqttUrl && !(await isPortFree(config.embeddedMqttPort, config.embeddedMqttHost)))
      throw new PortTakenError(config.embeddedMqttPort, 'mqtt');
    if (!config.mqttUrl && !(await isPortFree(config.embeddedMqttsPort, config.embeddedMqttsHost)))
      throw new PortTakenError(config.embeddedMqttsPort, 'mqtts');
    if (config.port !== 0 && !(await isPortFree(config.port, config.host)))
      throw new PortTakenError(config.port, 'api');
    if (config.ingestMetricsPort !== 0 && !(await isPortFree(config.ingestMetricsPort, config.ingestMetricsHost)))
      throw new PortTakenError(config.ingestMetricsPort, 'metrics');
    const standbyMetricsPort = config.ingestMetricsPort === 0 ? 0 : config.ingestMetricsPort + 1;
    if (
      config.ingestStandby &&
      standbyMetricsPort !== 0 &&
      !(await isPortFree(standbyMetricsPort, config.ingestMetricsHost))
    )
      throw new PortTakenError(standbyMetricsPort, 'metrics');

    // The apps work as DATABASE_URL's login; the migrations and the embedded broker's own schema as the owner.
    let databaseUrl = config.databaseUrl;
    let ownerUrl = config.databaseMigrationUrl ?? config.databaseUrl;
    let databaseNote = `external (${describeUrl(config.databaseUrl)})`;
    if (!databaseUrl || !ownerUrl) {
      const firstStart = !existsSync(join(dataDir, 'postgres/PG_VERSION'));
      say(
        `${firstStart ? 'Initialising' : 'Starting'} embedded PostgreSQL in ${join(dataDir, 'postgres')} on port ${config.embeddedPostgresPort}…`,
      );
      const postgres = await startEmbeddedPostgres({
        dataDir,
        port: config.embeddedPostgresPort,
        onLog: (line) => {
          if (/\b(WARNING|ERROR|FATAL|PANIC):/.test(line)) process.stderr.write(`[postgres] ${line}\n`);
        },
      });
      this.started.push({ name: 'PostgreSQL', stop: postgres.stop });
      this.watchPostgres(postgres.clusterDir);
      ownerUrl = postgres.url;
      databaseNote = `embedded PostgreSQL 18 on 127.0.0.1:${postgres.port}, data in ${postgres.clusterDir}`;
    }
    this.abortIfStopping();

    await this.migrate(ownerUrl);
    // On the embedded PostgreSQL the apps get a login of their own in lantern_app: no DDL rights.
    databaseUrl ??= await ensureEmbeddedAppLogin(ownerUrl, dataDir, APP_ROLE);
    this.abortIfStopping();

    let mqttUrl = config.mqttUrl;
    let mqttPassword = config.mqttPassword;
    let brokerNotes = [`external (${describeUrl(config.mqttUrl)})`];
    if (!mqttUrl) {
      mqttPassword ??= randomBytes(24).toString('base64url');
      const certificate = await this.brokerCertificate(dataDir);
      const broker = await this.startBroker(ownerUrl, mqttPassword, certificate);
      // Lantern's own processes stay on plain MQTT over loopback: nothing crosses the network.
      mqttUrl = broker.url;
      brokerNotes = [
        `mqtts://localhost:${broker.tlsPort} (embedded, TLS; a device connects with user name = device id, password = device secret)`,
        `  certificate ${certificate.certFile} (${certificate.source === 'configured' ? 'MQTT_TLS_CERT_FILE' : 'self-signed'}), valid until ${certificate.validTo.toISOString().slice(0, 10)}`,
        `  SHA-256 fingerprint ${certificate.fingerprint256}`,
        `${broker.url} plain MQTT, ${isLoopback(config.embeddedMqttHost) ? 'loopback only' : `on ${config.embeddedMqttHost}: UNENCRYPTED on the network`} (EMBEDDED_MQTT_HOST)`,
      ];
    }
    this.abortIfStopping();

    const env: NodeJS.ProcessEnv = {
      ...process.env,
      DATABASE_URL: databaseUrl,
      // Migrated above: the owner's login stays out of the apps' environment.
      DATABASE_MIGRATION_URL: undefined,
      MQTT_URL: mqttUrl,
      MQTT_USERNAME: config.mqttUsername,
      JWT_SECRET: resolveJwtSecret({ jwtSecret: config.jwtSecret, dataDir }),
      DATA_DIR: dataDir,
      ...(mqttPassword !== undefined && { MQTT_PASSWORD: mqttPassword }),
      // Bounds how far V8 lets each role's heap grow between full collections (libs/config/src/heap-limit.ts).
      NODE_OPTIONS: withHeapLimit(process.env.NODE_OPTIONS),
      // The children's output is piped through here: no colour codes unless ours is a terminal.
      ...(!process.stdout.isTTY && process.env.NO_COLOR === undefined && { NO_COLOR: '1' }),
    };
    const roles: [string, string, NodeJS.ProcessEnv][] = Object.entries(CHILD_SCRIPTS).map(([name, script]) => [
      name,
      script,
      env,
    ]);
    // A second ingest on the same session waits on its lease and takes over when the first dies.
    if (config.ingestStandby)
      roles.push(['ingest-standby', CHILD_SCRIPTS.ingest, { ...env, INGEST_METRICS_PORT: String(standbyMetricsPort) }]);
    for (const [name, script, roleEnv] of roles) {
      const role = new SupervisedRole(name, script, roleEnv, { say, warn, gaveUp: () => void this.shutdown(1) });
      this.roles.push(role);
      role.start();
    }

    await this.waitForApi();
    if (this.isStopping) return;
    const base = `http://localhost:${config.port}`;
    say('Lantern is running');
    say(`  API        ${base}/api/v1`);
    say(`  API docs   ${base}/api/docs`);
    say(`  Dashboard  ${base}/`);
    say(`  Health     ${base}/health`);
    for (const [index, note] of brokerNotes.entries()) say(`  ${(index === 0 ? 'Broker' : '').padEnd(11)}${note}`);
    say(`  Database   ${databaseNote}`);
    say(
      `  Metrics    ${base}/metrics (api)${config.ingestMetricsPort ? `, http://localhost:${config.ingestMetricsPort}/metrics (ingest)` : ''}`,
    );
    if (config.ingestStandby)
      say(
        `  Standby    a second ingest waits to take over the session${standbyMetricsPort ? ` (metrics on ${standbyMetricsPort} while it consumes)` : ''}`,
      );
    say('Press Ctrl-C to stop.');
  }

  /**
   * Stops children (SIGTERM, SIGKILL after 10 s), then the broker, then PostgreSQL; exits with `code`.
   * `quiet` after a failed start, whose one-line reason has been printed already.
   */
  shutdown(code: number, { quiet = false } = {}): Promise<never> {
    if (this.stopping) {
      // A second Ctrl-C: say what is going on rather than nothing.
      say('Already stopping…');
      return this.stopping;
    }
    this.stopping = (async () => {
      if (!quiet) say('Stopping…');
      // A step in flight (PostgreSQL initialising, say) finishes first, so what it starts is stopped too.
      await Promise.race([
        this.starting?.catch(() => undefined),
        new Promise((done) => setTimeout(done, 15_000).unref()),
      ]);
      await Promise.all(this.roles.map((role) => role.stop(CHILD_STOP_GRACE_MS)));
      for (const { name, stop } of this.started.reverse()) {
        try {
          await stop();
        } catch (error) {
          warn(`stopping ${name} failed: ${error instanceof Error ? error.message : String(error)}`);
          code ||= 1;
        }
      }
      if (!quiet) say(code === 0 ? 'Stopped.' : `Stopped (exit code ${code}).`);
      process.exit(code);
    })();
    return this.stopping;
  }

  private async migrate(url: string): Promise<void> {
    const dataSource = createDataSource({ url, poolSize: 1, applicationName: 'lantern-migrations' });
    await dataSource.initialize();
    try {
      const ran = await runMigrations(dataSource);
      say(ran.length > 0 ? `Migrations applied: ${ran.join(', ')}` : 'Database schema is up to date');
    } finally {
      await dataSource.destroy();
    }
  }

  /** The TLS listener's certificate (configured, kept in DATA_DIR, or generated now), said when it is new. */
  private async brokerCertificate(dataDir: string): Promise<BrokerCertificate> {
    const { config } = this;
    const certificate = await resolveBrokerCertificate({
      certFile: config.mqttTlsCertFile,
      keyFile: config.mqttTlsKeyFile,
      dataDir,
      extraHostnames: config.mqttTlsHostnames,
    });
    if (certificate.source === 'generated')
      say(
        `Generated a self-signed certificate for the broker's TLS listener in ${certificate.certFile}, for ${certificate.subjectAltNames.join(', ')}${certificate.replaced ? ` (${certificate.replaced}: devices that pinned it must pin this one)` : ''}`,
      );
    return certificate;
  }

  private async startBroker(
    databaseUrl: string,
    servicePassword: string,
    certificate: BrokerCertificate,
  ): Promise<RunningEmbeddedBroker> {
    const { config } = this;
    const pool = new pg.Pool({ connectionString: databaseUrl, max: 4, application_name: 'lantern-broker' });
    // An idle connection dropped by the server must not crash the supervisor; the next lookup reconnects.
    pool.on('error', (error) => warn(`broker database connection: ${error.message}`));
    this.started.push({ name: 'broker database pool', stop: () => pool.end() });
    // Sessions, subscriptions, retained and queued messages in the `broker` schema: a restart of
    // Lantern (or a crash) loses nothing the broker acknowledged. Saved after the broker stops.
    // Its own connections: a storm of device logins must not hold up the writes PUBACKs wait for.
    const persistencePool = new pg.Pool({
      connectionString: databaseUrl,
      max: 2,
      application_name: 'lantern-broker-persistence',
    });
    persistencePool.on('error', (error) => warn(`broker persistence connection: ${error.message}`));
    this.started.push({ name: 'broker persistence pool', stop: () => persistencePool.end() });
    const persistence = new AedesPostgresPersistence({
      pool: persistencePool,
      onLog: (line) => process.stdout.write(`[broker] ${line}\n`),
    });
    this.started.push({ name: 'broker persistence', stop: () => persistence.destroy() });
    const broker = await startEmbeddedBroker({
      port: config.embeddedMqttPort,
      host: config.embeddedMqttHost,
      tls: {
        port: config.embeddedMqttsPort,
        host: config.embeddedMqttsHost,
        cert: certificate.cert,
        key: certificate.key,
      },
      topicRoot: config.mqttTopicRoot,
      serviceUsername: config.mqttUsername,
      servicePassword,
      devices: new DeviceCredentialRepository(pool),
      persistence,
      onLog: (line) => process.stdout.write(`[broker] ${line}\n`),
    });
    this.started.push({ name: 'broker', stop: broker.stop });
    return broker;
  }

  /** Polls the api's port until it accepts connections, a child exits, or the start is abandoned. */
  private async waitForApi(): Promise<void> {
    const { port, host } = this.config;
    if (port === 0) return;
    const target = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
    const deadline = Date.now() + API_READY_TIMEOUT_MS;
    while (!this.isStopping && !(await accepts(target, port))) {
      if (Date.now() > deadline) {
        warn(
          `the api does not accept connections on port ${port} after ${API_READY_TIMEOUT_MS / 1000} s; still waiting on it`,
        );
        return;
      }
      await new Promise((done) => setTimeout(done, 200));
    }
  }

  /**
   * Polls the embedded PostgreSQL's postmaster (its pid from postmaster.pid): everything depends on
   * it, and the roles would only retry against a server that is gone.
   */
  private watchPostgres(clusterDir: string): void {
    let pid: number;
    try {
      pid = Number(readFileSync(join(clusterDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
    } catch (error) {
      warn(`cannot watch the embedded PostgreSQL: ${error instanceof Error ? error.message : String(error)}`);
      return;
    }
    const timer = setInterval(() => {
      if (this.isStopping || isAlive(pid)) return;
      clearInterval(timer);
      warn(`embedded PostgreSQL (pid ${pid}) exited: stopping Lantern`);
      void this.shutdown(1);
    }, POSTGRES_WATCH_MS);
    timer.unref();
    this.started.push({
      name: 'PostgreSQL watch',
      stop: () => {
        clearInterval(timer);
        return Promise.resolve();
      },
    });
  }

  private abortIfStopping(): void {
    if (this.isStopping) throw new StartAbandoned();
  }
}

/** Thrown inside start() when a signal arrived meanwhile; shutdown() is already under way. */
export class StartAbandoned extends Error {
  constructor() {
    super('start abandoned');
  }
}

function accepts(host: string, port: number): Promise<boolean> {
  return new Promise((done) => {
    const socket = connect({ host, port });
    socket.once('connect', () => {
      socket.destroy();
      done(true);
    });
    socket.once('error', () => done(false));
  });
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\./.test(host);
}

/** A URL without its credentials, for the log. */
function describeUrl(raw: string | undefined): string {
  if (!raw) return 'unset';
  const url = new URL(raw);
  return `${url.protocol}//${url.host}${url.pathname === '/' ? '' : url.pathname}`;
}
