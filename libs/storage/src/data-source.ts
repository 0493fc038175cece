import { DataSource } from 'typeorm';
import { CoreSchema1764000000000 } from './migrations/1764000000000-core-schema.js';
import { ReadingsSchema1764000000100 } from './migrations/1764000000100-readings-schema.js';
import { AlertRaisedAt1764000000200 } from './migrations/1764000000200-alert-raised-at.js';
import { DeadLetterPayloads1765000000100 } from './migrations/1765000000100-dead-letter-payloads.js';
import { IngestHealth1765000000200 } from './migrations/1765000000200-ingest-health.js';
import { WebhookOutbox1765000000300 } from './migrations/1765000000300-webhook-outbox.js';
import { AlertsResolvedIndex1765000000400 } from './migrations/1765000000400-alerts-resolved-index.js';
import { Sessions1765000000500 } from './migrations/1765000000500-sessions.js';
import { AppRole1766000000000 } from './migrations/1766000000000-app-role.js';
import { CareCircle1766000000100 } from './migrations/1766000000100-care-circle.js';
import { AlertProvenance1766000001600 } from './migrations/1766000001600-alert-provenance.js';
import { NotificationThreads1766000001610 } from './migrations/1766000001610-notification-threads.js';
import { EscalationDeliveries1766000002000 } from './migrations/1766000002000-escalation-deliveries.js';
import { PatientSettings1766000002100 } from './migrations/1766000002100-patient-settings.js';
import { RollupLogTime1766000002200 } from './migrations/1766000002200-rollup-log-time.js';
import { ReadingsOneIndex1766000002300 } from './migrations/1766000002300-readings-one-index.js';

/** Every migration in order. An explicit list, not a glob: globs do not survive ESM and `nest build`. */
export const MIGRATIONS = [
  CoreSchema1764000000000,
  ReadingsSchema1764000000100,
  AlertRaisedAt1764000000200,
  DeadLetterPayloads1765000000100,
  IngestHealth1765000000200,
  WebhookOutbox1765000000300,
  AlertsResolvedIndex1765000000400,
  Sessions1765000000500,
  AppRole1766000000000,
  CareCircle1766000000100,
  AlertProvenance1766000001600,
  NotificationThreads1766000001610,
  EscalationDeliveries1766000002000,
  PatientSettings1766000002100,
  RollupLogTime1766000002200,
  ReadingsOneIndex1766000002300,
];

export interface DataSourceOptions {
  readonly url: string;
  /** Connections in the pg pool; 1 for PGlite over pglite-socket, which serves one connection at a time. */
  readonly poolSize: number;
  readonly applicationName?: string;
  /** Settings every connection of the pool starts with (`-c name=value` at connect), e.g. plan_cache_mode. */
  readonly sessionSettings?: Readonly<Record<string, string>>;
}

/** Builds (does not initialize) Lantern's TypeORM data source: PostgreSQL, no synchronize, explicit migrations. */
export function createDataSource({
  url,
  poolSize,
  applicationName = 'lantern',
  sessionSettings = {},
}: DataSourceOptions): DataSource {
  const options = Object.entries(sessionSettings)
    .map(([name, value]) => `-c ${name}=${value}`)
    .join(' ');
  return new DataSource({
    type: 'postgres',
    url,
    poolSize,
    applicationName,
    ...(options && { extra: { options } }),
    synchronize: false,
    migrationsRun: false,
    // Each migration in its own transaction; one that cannot run inside a transaction sets `transaction = false`.
    migrationsTransactionMode: 'each',
    migrations: MIGRATIONS,
    entities: [],
    // Not 'error': TypeORM would log every failed query with all its parameters (thousands per batch).
    logging: ['warn', 'migration'],
  });
}

// Any constant works; it only has to be the same in every Lantern process.
const MIGRATION_LOCK_KEY = 7_346_100_001;

/**
 * Runs the pending migrations on an initialized data source; returns the names of those it ran.
 * Both roles may start at once, so with more than one connection a session advisory lock
 * serializes them (with one connection — PGlite — there is nobody to race with).
 */
export async function runMigrations(dataSource: DataSource): Promise<string[]> {
  const poolSize = dataSource.options.poolSize ?? 10;
  if (poolSize < 2) return (await dataSource.runMigrations({ transaction: 'each' })).map((m) => m.name);
  const lock = dataSource.createQueryRunner();
  await lock.connect();
  try {
    await lock.query(`SELECT pg_advisory_lock($1)`, [MIGRATION_LOCK_KEY]);
    return (await dataSource.runMigrations({ transaction: 'each' })).map((m) => m.name);
  } finally {
    await lock.query(`SELECT pg_advisory_unlock($1)`, [MIGRATION_LOCK_KEY]).catch(() => undefined);
    await lock.release();
  }
}

/**
 * Runs the pending migrations as the database's owner: over `migrationUrl` (DATABASE_MIGRATION_URL)
 * on a connection of its own, closed when done; when unset, on `dataSource`, whose login is then
 * expected to own the schema (a development setup). Returns the names of those it ran.
 */
export async function migrateAsOwner(dataSource: DataSource, migrationUrl: string | undefined): Promise<string[]> {
  if (migrationUrl === undefined) return runMigrations(dataSource);
  const owner = createDataSource({ url: migrationUrl, poolSize: 2, applicationName: 'lantern-migrations' });
  await owner.initialize();
  try {
    return await runMigrations(owner);
  } finally {
    await owner.destroy();
  }
}
