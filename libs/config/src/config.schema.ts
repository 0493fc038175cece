import { createECDH } from 'node:crypto';
import { isIP } from 'node:net';

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

const bool = (raw: string): boolean | ParseError =>
  raw === 'true' || raw === '1'
    ? true
    : raw === 'false' || raw === '0'
      ? false
      : new ParseError(`must be true or false, got '${raw}'`);

const email = (raw: string): string | ParseError =>
  /^[^@\s]+@[^@\s]+$/.test(raw) ? raw.toLowerCase() : new ParseError('must be an e-mail address');

/** "Lantern <alerts@example.org>" or a bare address: the sender of outgoing e-mail. */
const mailbox = (raw: string): string | ParseError =>
  /^([^<>\r\n]*<[^@\s<>]+@[^@\s<>]+>|[^@\s<>]+@[^@\s<>]+)$/.test(raw.trim())
    ? raw.trim()
    : new ParseError(`must be an address or Name <address>, got '${raw}'`);

/** smtp:// or smtps:// with a host. Its problems never quote the URL: it may hold a password. */
const smtpUrl = (raw: string): string | ParseError => {
  const checked = url('smtp:', 'smtps:')(raw);
  if (checked instanceof ParseError) return checked;
  return new URL(raw).hostname === '' ? new ParseError('must name a host') : checked;
};

/** "https://a.example.org, http://localhost:5173": browser origins, each exactly scheme://host[:port]. */
const origins = (raw: string): string[] | ParseError => {
  const list = raw
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item !== '');
  for (const item of list) {
    let origin: string | undefined;
    try {
      const parsed = new URL(item);
      origin = parsed.protocol === 'http:' || parsed.protocol === 'https:' ? parsed.origin : undefined;
    } catch {
      origin = undefined;
    }
    // Compared as the browser sends it in the Origin header: no path, no trailing slash, no default port.
    if (origin !== item)
      return new ParseError(
        `must list origins like https://dashboard.example.org (no path, no trailing slash), got '${item}'`,
      );
  }
  return list;
};

/** A VAPID key as push services and browsers exchange it: unpadded base64url of `bytes` bytes. */
const vapidKey =
  (bytes: number, what: string) =>
  (raw: string): string | ParseError =>
    /^[A-Za-z0-9_-]+$/.test(raw) && Buffer.from(raw, 'base64url').length === bytes
      ? raw
      : new ParseError(`must be ${what}: ${bytes} bytes in unpadded base64url`);

/** "broker.example.org, 192.168.1.20": host names and IP addresses, for a certificate's subjectAltName. */
const hostList = (raw: string): string[] | ParseError => {
  const list = raw
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item !== '');
  for (const item of list)
    if (isIP(item) === 0 && !/^(?!-)[a-z0-9-]{1,63}(?<!-)(\.(?!-)[a-z0-9-]{1,63}(?<!-))*$/i.test(item))
      return new ParseError(`must list host names or IP addresses, got '${item}'`);
  return list.length > 0 ? list : new ParseError('must name at least one host');
};

const PROXY_KEYWORDS = ['loopback', 'linklocal', 'uniquelocal'];
/** Express's `trust proxy`: a hop count, or the proxies' addresses, subnets and keywords (never "trust everyone"). */
const trustedProxies = (raw: string): number | string[] | ParseError => {
  if (/^\d+$/.test(raw.trim())) {
    const hops = Number(raw.trim());
    return hops >= 1 && hops <= 10 ? hops : new ParseError(`as a hop count must be between 1 and 10, got ${hops}`);
  }
  const list = raw
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item !== '');
  for (const item of list) {
    const [address, bits, extra] = item.split('/');
    const valid =
      PROXY_KEYWORDS.includes(item) ||
      (extra === undefined && isIP(address) !== 0 && (bits === undefined || /^\d{1,3}$/.test(bits)));
    if (!valid)
      return new ParseError(
        `must be a hop count, or addresses/subnets of the proxies (or ${PROXY_KEYWORDS.join(', ')}), got '${item}'`,
      );
  }
  return list.length > 0 ? list : new ParseError('must name at least one proxy');
};

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
  databaseMigrationUrl: {
    env: 'DATABASE_MIGRATION_URL',
    description:
      "The database owner's URL, used only to run migrations; the apps then work as DATABASE_URL's login, a member of lantern_app without DDL rights (docs/security.md). Unset: DATABASE_URL migrates.",
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
    description:
      "Lantern's service password at the broker (≥ 16 characters). Unset with the embedded broker: a random one (32 characters) per start.",
    parse: text(16),
  },
  mqttHookSecret: {
    env: 'MQTT_HOOK_SECRET',
    description:
      'Shared secret an external broker presents to the HTTP auth hooks /api/v1/mqtt/* (≥ 32 characters; docs/security.md). Unset: the hooks answer 401 to every call.',
    parse: text(32),
  },
  embeddedMqttPort: {
    env: 'EMBEDDED_MQTT_PORT',
    description: "Port of the embedded broker's plain (unencrypted) MQTT listener, on EMBEDDED_MQTT_HOST.",
    default: '1883',
    parse: int(0, 65535),
  },
  embeddedMqttHost: {
    env: 'EMBEDDED_MQTT_HOST',
    description:
      "Address of the embedded broker's plain MQTT listener: loopback, for Lantern's own processes and local tools. 0.0.0.0 puts device secrets and readings on the network in clear: devices use EMBEDDED_MQTTS_PORT.",
    default: '127.0.0.1',
    parse: text(),
  },
  embeddedMqttsPort: {
    env: 'EMBEDDED_MQTTS_PORT',
    description: "Port of the embedded broker's MQTT-over-TLS listener (mqtts://), the one devices use.",
    default: '8883',
    parse: int(0, 65535),
  },
  embeddedMqttsHost: {
    env: 'EMBEDDED_MQTTS_HOST',
    description: "Address of the embedded broker's TLS listener.",
    default: '0.0.0.0',
    parse: text(),
  },
  mqttTlsCertFile: {
    env: 'MQTT_TLS_CERT_FILE',
    description:
      "PEM certificate (chain allowed) of the embedded broker's TLS listener, with MQTT_TLS_KEY_FILE. Unset: a self-signed one generated into DATA_DIR/mqtt-tls/ on first start (its SHA-256 fingerprint printed at every start).",
    parse: text(),
  },
  mqttTlsKeyFile: {
    env: 'MQTT_TLS_KEY_FILE',
    description: 'PEM private key of MQTT_TLS_CERT_FILE (keep it at mode 0600).',
    parse: text(),
  },
  mqttTlsHostnames: {
    env: 'MQTT_TLS_HOSTNAMES',
    description:
      'Comma-separated host names and IP addresses devices use to reach the embedded broker, added to the generated certificate (beside localhost, loopback, the host name and its current addresses); a name missing from the kept certificate makes a new one.',
    parse: hostList,
  },
  mqttCaFile: {
    env: 'MQTT_CA_FILE',
    description:
      "PEM CA certificate(s) Lantern's own processes trust, instead of the system's, when MQTT_URL is mqtts:// or wss:// (a private CA, or the broker's self-signed certificate itself).",
    parse: text(),
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
  accessTokenTtl: {
    env: 'ACCESS_TOKEN_TTL',
    description:
      'Lifetime of an access token. Short: revocation is checked on every request anyway, and the dashboard renews it silently.',
    default: '15m',
    parse: duration(5_000),
  },
  refreshTokenTtl: {
    env: 'REFRESH_TOKEN_TTL',
    description:
      'Lifetime of a refresh token; each refresh issues a new one, so a login ends after this long without a refresh.',
    default: '30d',
    parse: duration(60_000),
  },
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
  ingestMaxPendingBytes: {
    env: 'INGEST_MAX_PENDING_BYTES',
    description:
      'Payload bytes of unfinished messages past which the ingest stops reading from the broker (with INGEST_MAX_PENDING_MESSAGES, whichever comes first).',
    default: '33554432',
    parse: int(65_536, 4_294_967_296),
  },
  ingestDeadLetterBudget: {
    env: 'INGEST_DEAD_LETTER_BUDGET',
    description:
      'Bytes of dead letters kept per device per hour (raw payloads, plus 256 per row); past it a message keeps one row counting its refusals, without the payload.',
    default: '1048576',
    parse: int(0, 1_073_741_824),
  },
  ingestMetricsPort: {
    env: 'INGEST_METRICS_PORT',
    description:
      "Port of the ingest process's own Prometheus /metrics (0: any free port, logged). The api's /metrics on PORT is the api's own.",
    default: '9464',
    parse: int(0, 65535),
  },
  ingestMetricsHost: {
    env: 'INGEST_METRICS_HOST',
    description:
      "Address the ingest's /metrics listens on. Without METRICS_TOKEN only loopback clients are answered anyway.",
    default: '127.0.0.1',
    parse: text(),
  },
  metricsToken: {
    env: 'METRICS_TOKEN',
    description:
      "Bearer token required by the api's and the ingest's /metrics (≥ 16 characters). Unset: /metrics answers loopback clients only.",
    parse: text(16),
  },
  ingestMqttClientId: {
    env: 'INGEST_MQTT_CLIENT_ID',
    description:
      'Fixed MQTT client id of the ingest (its persistent session at the broker); unique per ingest instance.',
    default: 'lantern-ingest',
    parse: text(),
  },
  ingestCanaryIntervalMs: {
    env: 'INGEST_CANARY_INTERVAL',
    description:
      'How often the ingest publishes a canary to itself through the broker, proving its subscription delivers.',
    default: '5s',
    parse: duration(500),
  },
  ingestSharedSubscription: {
    env: 'INGEST_SHARED_SUBSCRIPTION',
    description:
      'Subscribe to the device topics as the shared group $share/ingest/… (MQTT 5 brokers): only for several active ingests with their own client ids on EMQX (hash_clientid). Off: one consumer per session, standbys waiting on the lease.',
    default: 'false',
    parse: bool,
  },
  ingestStandby: {
    env: 'INGEST_STANDBY',
    description:
      '`npm start` runs a second ingest process that waits on the session lease and takes over when the first dies.',
    default: 'false',
    parse: bool,
  },
  ingestLeaseTtlMs: {
    env: 'INGEST_LEASE_TTL',
    description:
      "How long the consuming ingest's lease on its MQTT session lasts unrenewed: a standby takes over this long after the leader dies.",
    default: '5s',
    parse: duration(2000),
  },
  ingestStallAfterMs: {
    env: 'INGEST_STALL_AFTER',
    description:
      'The ingest counts as stalled (/health 503, system alert) when its heartbeat or canary is older than this, a message waits unacknowledged longer, or a writer keeps failing longer.',
    default: '30s',
    parse: duration(2000),
  },
  healthRequireIngest: {
    env: 'HEALTH_REQUIRE_INGEST',
    description:
      "The api's /health answers 503 unless an ingest is consuming; false only for an api run without an ingest (tests).",
    default: 'true',
    parse: bool,
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
  smtpUrl: {
    env: 'SMTP_URL',
    description:
      "SMTP server of the escalation chain's e-mail channel: smtp://host:587 (STARTTLS) or smtps://host:465, with user:password (percent-encoded) when it asks for a login. Unset: no e-mail deliveries.",
    parse: smtpUrl,
  },
  emailFrom: {
    env: 'EMAIL_FROM',
    description: 'Sender of alert e-mail: an address or Name <address> the SMTP server lets Lantern send as.',
    default: 'Lantern <alerts@localhost>',
    parse: mailbox,
  },
  smtpRequireTls: {
    env: 'SMTP_REQUIRE_TLS',
    description:
      'With an smtp:// SMTP_URL, send only over STARTTLS (alert e-mail carries patient data). false: only for a relay on the same host or a test server.',
    default: 'true',
    parse: bool,
  },
  vapidPublicKey: {
    env: 'VAPID_PUBLIC_KEY',
    description:
      'Web Push: the VAPID public key (base64url, 65 bytes uncompressed P-256), with VAPID_PRIVATE_KEY. Unset: a pair generated once and kept in DATA_DIR/vapid.json.',
    parse: vapidKey(65, 'an uncompressed P-256 public key'),
  },
  vapidPrivateKey: {
    env: 'VAPID_PRIVATE_KEY',
    description: 'Web Push: the VAPID private key (base64url, 32 bytes) of VAPID_PUBLIC_KEY. Keep it secret.',
    parse: vapidKey(32, 'a P-256 private key'),
  },
  vapidSubject: {
    env: 'VAPID_SUBJECT',
    description:
      'Web Push: how push services can reach the operator, a mailto: or https: URL sent in every VAPID token. Unset: mailto:ADMIN_EMAIL.',
    parse: url('mailto:', 'https:'),
  },
  signalLossSweepMs: {
    env: 'SIGNAL_LOSS_SWEEP_MS',
    description: 'How often the ingest checks every device for signal loss and escalates alerts.',
    default: '10000',
    parse: int(100, 600_000),
  },
  quietHoursReleaseMs: {
    env: 'QUIET_HOURS_RELEASE_MS',
    description: 'How often the ingest publishes patient messages held for quiet hours whose window is over.',
    default: '5000',
    parse: int(100, 600_000),
  },
  logLevel: {
    env: 'LOG_LEVEL',
    description: 'error, warn, log, debug or verbose.',
    default: 'log',
    parse: oneOf('error', 'warn', 'log', 'debug', 'verbose'),
  },
  loginMaxFailuresPerAccount: {
    env: 'LOGIN_MAX_FAILURES_PER_ACCOUNT',
    description:
      'Failed logins for one e-mail (from any address) within LOGIN_FAILURE_WINDOW before its logins answer 429 until the window ends; a success clears them.',
    default: '10',
    parse: int(1, 10_000),
  },
  loginMaxFailuresPerAddress: {
    env: 'LOGIN_MAX_FAILURES_PER_ADDRESS',
    description:
      'Failed logins from one client address (any e-mail) within LOGIN_FAILURE_WINDOW before its logins answer 429 until the window ends. Successes never count.',
    default: '100',
    parse: int(1, 1_000_000),
  },
  loginFailureWindowMs: {
    env: 'LOGIN_FAILURE_WINDOW',
    description: 'Window in which failed logins are counted (from the first failure).',
    default: '15m',
    parse: duration(10_000),
  },
  corsOrigins: {
    env: 'CORS_ORIGINS',
    description:
      'Comma-separated browser origins (https://host[:port]) allowed to call the REST API and Socket.IO from other pages. Unset: same-origin only.',
    parse: origins,
  },
  trustProxy: {
    env: 'TRUST_PROXY',
    description:
      "Reverse proxies whose X-Forwarded-For/-Proto the api believes: a hop count or their addresses/subnets (loopback, 10.0.0.0/8, …). Unset: none (the client's address is the socket's).",
    parse: trustedProxies,
  },
  roleRestarts: {
    env: 'LANTERN_ROLE_RESTARTS',
    description:
      "Set by npm start's supervisor, not by hand: how many times it has restarted this process's role (reported as lantern_role_restarts_total).",
    default: '0',
    parse: int(0, 1_000_000_000),
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
  // Browsers subscribed with the public key; signing with another private key gets every push refused (403).
  (env) => {
    const [pub, priv] = [env[SETTINGS.vapidPublicKey.env], env[SETTINGS.vapidPrivateKey.env]];
    if (isSet(env, SETTINGS.vapidPublicKey.env) !== isSet(env, SETTINGS.vapidPrivateKey.env))
      return `${SETTINGS.vapidPublicKey.env} and ${SETTINGS.vapidPrivateKey.env} must be set together`;
    if (!pub || !priv || typeof vapidKey(32, '')(priv) !== 'string' || typeof vapidKey(65, '')(pub) !== 'string')
      return undefined;
    const ecdh = createECDH('prime256v1');
    try {
      ecdh.setPrivateKey(Buffer.from(priv, 'base64url'));
    } catch {
      return `${SETTINGS.vapidPrivateKey.env} is not a valid P-256 private key`;
    }
    return ecdh.getPublicKey('base64url', 'uncompressed') === pub
      ? undefined
      : `${SETTINGS.vapidPublicKey.env} is not the public key of ${SETTINGS.vapidPrivateKey.env}`;
  },
  // Half a pair would silently fall back to the generated certificate: devices pinning the configured one fail.
  (env) =>
    isSet(env, SETTINGS.mqttTlsCertFile.env) !== isSet(env, SETTINGS.mqttTlsKeyFile.env)
      ? `${SETTINGS.mqttTlsCertFile.env} and ${SETTINGS.mqttTlsKeyFile.env} must be set together`
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
