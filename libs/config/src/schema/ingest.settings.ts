import { bool, duration, int, text } from './parsers.js';
import type { Setting } from './setting.js';

/**
 * The ingest role: which readings it takes, how it batches and throttles them, its dead letters,
 * its own /metrics listener, its MQTT session and the lease, canary and stall checks around it.
 */
export const INGEST_SETTINGS = {
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
} as const satisfies Record<string, Setting<unknown>>;
