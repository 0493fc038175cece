import type { PoolClient } from 'pg';
import { QueryFailedError, type DataSource } from 'typeorm';
import { managerOf } from './transactions.js';

/**
 * A statement run often enough that PostgreSQL should parse and plan it once per connection rather
 * than on every call: a named prepared statement. The hot statements of the alert path and of the
 * escalation chain are long CTEs whose planning costs several times their execution (measured on
 * an idle server: the escalation pass's expiry 1.29 ms as an unnamed statement, 0.27 ms named;
 * docs/performance.md). The name must be unique in the process and always go with the same text.
 */
export interface PreparedStatement {
  readonly name: string;
  readonly text: string;
}

export function prepared(name: string, text: string): PreparedStatement {
  return { name: `lantern_${name}`, text };
}

/**
 * Runs `statement` with `values` on the connection `db`'s repositories use here ({@link managerOf}:
 * the unit of work's transaction when one is open) and returns its rows (the RETURNING rows of an
 * INSERT, UPDATE or DELETE). Errors come as TypeORM's would: a failed connection as it is, a failed
 * statement as a QueryFailedError carrying the driver's error (SQLSTATE).
 */
export async function queryPrepared<T>(
  db: DataSource,
  statement: PreparedStatement,
  values: readonly unknown[],
): Promise<T[]> {
  const manager = managerOf(db);
  const runner = manager.queryRunner ?? db.createQueryRunner();
  try {
    // TypeORM's PostgreSQL query runner hands out the pg pool client it holds.
    const client = (await runner.connect()) as PoolClient;
    try {
      const result = await client.query({ name: statement.name, text: statement.text, values: [...values] });
      return result.rows as T[];
    } catch (error) {
      throw new QueryFailedError(statement.text, [...values], error as Error);
    }
  } finally {
    if (runner !== manager.queryRunner) await runner.release();
  }
}
