import { duration, int } from './parsers.js';
import type { Setting } from './setting.js';

/** How long stored data is kept and how it is maintained: compression, retention, partitions, rollups. */
export const RETENTION_SETTINGS = {
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
} as const satisfies Record<string, Setting<unknown>>;
