import type { DataSource, QueryRunner } from 'typeorm';

/** Which time-series backend the database has: decided by the readings migration, detected at start. */
export type StorageMode = 'timescaledb' | 'postgres';

/** Injection token of the detected {@link StorageMode}. */
export const STORAGE_MODE = Symbol('STORAGE_MODE');

/**
 * Reads the storage mode from the migrated schema: a partitioned `readings` means PostgreSQL mode.
 * Takes the data source or a migration's query runner.
 */
export async function detectStorageMode(
  db: Pick<DataSource, 'query'> | Pick<QueryRunner, 'query'>,
): Promise<StorageMode> {
  const rows = (await db.query(`
    SELECT c.relkind::text AS relkind,
           EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'timescaledb') AS timescale
      FROM pg_class c
     WHERE c.oid = to_regclass('readings')`)) as { relkind: string; timescale: boolean }[];
  const row = rows[0];
  if (!row) throw new Error('Table readings does not exist: run the migrations first');
  if (row.relkind === 'p') return 'postgres';
  if (row.timescale) return 'timescaledb';
  throw new Error(`Table readings is neither partitioned nor a hypertable (relkind ${row.relkind})`);
}
