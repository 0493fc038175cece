/** One declared setting: its environment variable, default, and how a raw string becomes a value. */
interface Setting<T> {
  readonly env: string;
  readonly description: string;
  /** Default as the raw string an operator would write; undefined means "unset" (optional setting). */
  readonly default?: string;
  readonly parse: (raw: string) => T | ParseError;
}

class ParseError {
  constructor(readonly message: string) {}
}

const int =
  (min: number, max: number) =>
  (raw: string): number | ParseError => {
    const n = Number(raw);
    if (!/^-?\d+$/.test(raw.trim()) || !Number.isSafeInteger(n))
      return new ParseError(`must be an integer, got '${raw}'`);
    if (n < min || n > max) return new ParseError(`must be between ${min} and ${max}, got ${n}`);
    return n;
  };

const text =
  (minLength = 1) =>
  (raw: string): string | ParseError =>
    raw.length >= minLength ? raw : new ParseError(`must be at least ${minLength} characters long`);

const url =
  (...protocols: string[]) =>
  (raw: string): string | ParseError => {
    try {
      const parsed = new URL(raw);
      if (!protocols.includes(parsed.protocol)) {
        return new ParseError(
          `must use ${protocols.map((p) => p.replace(':', '://')).join(' or ')}, got '${parsed.protocol}//'`,
        );
      }
      return raw;
    } catch {
      return new ParseError('must be a URL');
    }
  };

const topicRoot = (raw: string): string | ParseError =>
  /^[^#+$/][^#+]*[^/#+]$|^[^#+$/]$/.test(raw)
    ? raw
    : new ParseError("must be a topic prefix without '+', '#', a leading '$' or leading/trailing '/'");

const UNITS_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
/** "90d", "7d", "36h", "15m", "30s": a duration, parsed to milliseconds. */
const duration =
  (minMs: number) =>
  (raw: string): number | ParseError => {
    const m = /^(\d+)(ms|s|m|h|d)$/.exec(raw.trim());
    if (!m) return new ParseError(`must be a duration like 30s, 15m, 36h or 90d, got '${raw}'`);
    const ms = Number(m[1]) * UNITS_MS[m[2]];
    if (ms < minMs) return new ParseError(`must be at least ${minMs} ms`);
    return ms;
  };

const oneOf =
  <T extends string>(...values: T[]) =>
  (raw: string): T | ParseError =>
    (values as string[]).includes(raw)
      ? (raw as T)
      : new ParseError(`must be one of ${values.join(', ')}, got '${raw}'`);

const email = (raw: string): string | ParseError =>
  /^[^@\s]+@[^@\s]+$/.test(raw) ? raw.toLowerCase() : new ParseError('must be an e-mail address');

/** Every setting Lantern reads, declared once. docs/configuration.md documents each (a test keeps them in step). */
export const SETTINGS = {
  nodeEnv: {
    env: 'NODE_ENV',
    description: 'development, production or test.',
    default: 'development',
    parse: oneOf('development', 'production', 'test'),
  },
  port: {
    env: 'PORT',
    description: 'HTTP port of the api role (REST, Socket.IO, dashboard).',
    default: '3000',
    parse: int(0, 65535),
  },
  host: { env: 'HOST', description: 'Address the api role listens on.', default: '0.0.0.0', parse: text() },
  databaseUrl: {
    env: 'DATABASE_URL',
    description: 'PostgreSQL/TimescaleDB URL. Unset: an embedded PostgreSQL is started in DATA_DIR.',
    parse: url('postgres:', 'postgresql:'),
  },
  databasePoolSize: {
    env: 'DATABASE_POOL_SIZE',
    description: 'Connections per process (1 for PGlite over pglite-socket).',
    default: '10',
    parse: int(1, 200),
  },
  mqttUrl: {
    env: 'MQTT_URL',
    description: 'Broker URL. Unset: an embedded aedes broker is started on EMBEDDED_MQTT_PORT.',
    parse: url('mqtt:', 'mqtts:', 'tcp:', 'ws:', 'wss:'),
  },
  mqttTopicRoot: {
    env: 'MQTT_TOPIC_ROOT',
    description: 'Prefix of every topic ({root} in the contract).',
    default: 'lantern/v1',
    parse: topicRoot,
  },
  mqttUsername: {
    env: 'MQTT_USERNAME',
    description: "Lantern's own service credential at the broker (user name).",
    default: 'lantern-service',
    parse: text(),
  },
  mqttPassword: {
    env: 'MQTT_PASSWORD',
    description: "Lantern's service password at the broker. Unset with the embedded broker: a random one per start.",
    parse: text(8),
  },
  embeddedMqttPort: {
    env: 'EMBEDDED_MQTT_PORT',
    description: 'Port of the embedded broker.',
    default: '1883',
    parse: int(0, 65535),
  },
  embeddedPostgresPort: {
    env: 'EMBEDDED_POSTGRES_PORT',
    description: 'Port of the embedded PostgreSQL.',
    default: '5433',
    parse: int(0, 65535),
  },
  dataDir: {
    env: 'DATA_DIR',
    description: "Folder of the embedded servers' data (persistent across restarts).",
    default: './.lantern',
    parse: text(),
  },
  jwtSecret: {
    env: 'JWT_SECRET',
    description: 'Secret that signs access tokens (≥ 32 characters). Unset: generated once and kept in DATA_DIR.',
    parse: text(32),
  },
  jwtTtl: { env: 'JWT_TTL', description: 'Lifetime of an access token.', default: '12h', parse: duration(60_000) },
  adminEmail: {
    env: 'ADMIN_EMAIL',
    description: 'E-mail of the admin created on first start with an empty database.',
    default: 'admin@lantern.local',
    parse: email,
  },
  adminPassword: {
    env: 'ADMIN_PASSWORD',
    description: 'Password of that admin. Unset: generated and printed once.',
    parse: text(12),
  },
  compressAfter: {
    env: 'COMPRESS_AFTER',
    description: 'TimescaleDB: compress readings chunks older than this.',
    default: '7d',
    parse: duration(3_600_000),
  },
  rawRetention: {
    env: 'RAW_RETENTION',
    description: 'Raw readings older than this are dropped (chunks or partitions).',
    default: '90d',
    parse: duration(86_400_000),
  },
  rejectionRetention: {
    env: 'REJECTION_RETENTION',
    description:
      'Dead letters (GET /api/v1/ingest/rejections) older than this are deleted: they hold raw device payloads, that is patient data.',
    default: '30d',
    parse: duration(86_400_000),
  },
  rollupRetention: {
    env: 'ROLLUP_RETENTION',
    description: 'Rollups (1m, 1h) older than this are dropped.',
    default: '730d',
    parse: duration(86_400_000),
  },
  partitionsAhead: {
    env: 'PARTITIONS_AHEAD_DAYS',
    description: 'PostgreSQL mode: daily partitions created ahead of today.',
    default: '7',
    parse: int(1, 365),
  },
  rollupIntervalMs: {
    env: 'ROLLUP_INTERVAL_MS',
    description: 'PostgreSQL mode: how often the application folds new readings into the rollups.',
    default: '10000',
    parse: int(100, 3_600_000),
  },
  ingestMaxBackfill: {
    env: 'INGEST_MAX_BACKFILL',
    description: 'Readings older than this are rejected.',
    default: '30d',
    parse: duration(60_000),
  },
  ingestBatchSize: {
    env: 'INGEST_BATCH_SIZE',
    description: 'Readings per database batch at most.',
    default: '5000',
    parse: int(1, 20_000),
  },
  ingestBatchMaxWaitMs: {
    env: 'INGEST_BATCH_MAX_WAIT_MS',
    description: 'A batch is written at the latest this long after its first reading.',
    default: '50',
    parse: int(1, 10_000),
  },
  ingestMaxPendingMessages: {
    env: 'INGEST_MAX_PENDING_MESSAGES',
    description: 'Unacknowledged messages held in memory before the ingest stops reading (backpressure).',
    default: '50000',
    parse: int(100, 1_000_000),
  },
  ingestMetricsPort: {
    env: 'INGEST_METRICS_PORT',
    description:
      "Port of the ingest process's own Prometheus /metrics (0: any free port, logged). The api's /metrics on PORT is the api's own.",
    default: '9464',
    parse: int(0, 65535),
  },
  ingestMqttClientId: {
    env: 'INGEST_MQTT_CLIENT_ID',
    description:
      'Fixed MQTT client id of the ingest (its persistent session at the broker); unique per ingest instance.',
    default: 'lantern-ingest',
    parse: text(),
  },
  liveReadingMinIntervalMs: {
    env: 'LIVE_READING_MIN_INTERVAL_MS',
    description: 'Live readings per (patient, metric) are throttled to one per this interval; the latest wins.',
    default: '1000',
    parse: int(0, 60_000),
  },
  alertWebhookUrl: {
    env: 'ALERT_WEBHOOK_URL',
    description: 'When set, every alert transition is POSTed here, HMAC-signed: requires ALERT_WEBHOOK_SECRET.',
    parse: url('http:', 'https:'),
  },
  alertWebhookSecret: {
    env: 'ALERT_WEBHOOK_SECRET',
    description: 'Key of the webhook HMAC-SHA256 signature header (≥ 16 characters); required with ALERT_WEBHOOK_URL.',
    parse: text(16),
  },
  signalLossSweepMs: {
    env: 'SIGNAL_LOSS_SWEEP_MS',
    description: 'How often the ingest checks every device for signal loss and escalates alerts.',
    default: '10000',
    parse: int(100, 600_000),
  },
  logLevel: {
    env: 'LOG_LEVEL',
    description: 'error, warn, log, debug or verbose.',
    default: 'log',
    parse: oneOf('error', 'warn', 'log', 'debug', 'verbose'),
  },
  loginRateLimit: {
    env: 'LOGIN_RATE_LIMIT',
    description: 'Login attempts per minute per client address.',
    default: '10',
    parse: int(1, 10_000),
  },
} as const satisfies Record<string, Setting<unknown>>;

type Settings = typeof SETTINGS;

const isSet = (env: NodeJS.ProcessEnv, name: string): boolean => env[name] !== undefined && env[name] !== '';

/**
 * Rules between settings, checked beside the per-setting ones (every problem is listed at once).
 * Each looks at the raw environment, so a value already refused on its own is not reported twice.
 */
const CROSS_CHECKS: readonly ((env: NodeJS.ProcessEnv) => string | undefined)[] = [
  // Receivers authenticate alert deliveries by their signature: an unsigned webhook would let anyone forge alerts.
  (env) =>
    isSet(env, SETTINGS.alertWebhookUrl.env) && !isSet(env, SETTINGS.alertWebhookSecret.env)
      ? `${SETTINGS.alertWebhookSecret.env} must be set when ${SETTINGS.alertWebhookUrl.env} is set (webhook deliveries are always signed)`
      : undefined,
];
type ValueOf<S> = S extends Setting<infer T> ? T : never;
type HasDefault<S> = S extends { default: string } ? true : false;

/** The validated configuration: settings with a default are always present, the others optional. */
export type LanternConfig = {
  readonly [K in keyof Settings]: HasDefault<Settings[K]> extends true
    ? ValueOf<Settings[K]>
    : ValueOf<Settings[K]> | undefined;
};

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/** Reads and validates every setting from `env`, collecting all problems before failing. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): LanternConfig {
  const problems: string[] = [];
  const config: Record<string, unknown> = {};
  for (const [key, setting] of Object.entries(SETTINGS) as [string, Setting<unknown>][]) {
    const raw = env[setting.env];
    const value = raw === undefined || raw === '' ? setting.default : raw;
    if (value === undefined) continue;
    const parsed = setting.parse(value);
    if (parsed instanceof ParseError) problems.push(`${setting.env} ${parsed.message}`);
    else config[key] = parsed;
  }
  for (const check of CROSS_CHECKS) {
    const problem = check(env);
    if (problem !== undefined) problems.push(problem);
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return Object.freeze(config) as LanternConfig;
}

/** The declared settings, for documentation and checks. */
export function describeSettings(): { env: string; default?: string; description: string }[] {
  return Object.values(SETTINGS as Record<string, Setting<unknown>>).map(({ env, default: def, description }) => ({
    env,
    default: def,
    description,
  }));
}
