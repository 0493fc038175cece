import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { QueryFailedError } from 'typeorm';
import { classifyDatabaseError, inTransaction } from '@lantern/storage';
import { prepared, queryPrepared } from '../../libs/storage/src/prepared-statements.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';

const INSERT = prepared(
  'test_insert_lease',
  `INSERT INTO leases (name, holder, expires_at) VALUES ($1, $2, now()) RETURNING name`,
);
const COUNT = prepared('test_count_leases', `SELECT count(*)::int AS n FROM leases WHERE name LIKE $1`);
const PREPARED_HERE = `SELECT name FROM pg_prepared_statements WHERE name LIKE 'lantern_test_%' ORDER BY name`;

describe('queryPrepared: the hot statements as named prepared statements', () => {
  let db: TestDatabase;

  beforeAll(async () => {
    // One connection: every call below runs on it, so what it has prepared can be read back.
    db = await createTestDatabase({ poolSize: 1 });
  });

  afterAll(async () => {
    await db?.drop();
  });

  it('prepares a statement once per connection and runs it again with new values', async () => {
    for (let i = 0; i < 3; i++)
      expect(await queryPrepared<{ name: string }>(db.dataSource, INSERT, [`p-${i}`, 'test'])).toEqual([
        { name: `p-${i}` },
      ]);
    expect(await queryPrepared(db.dataSource, COUNT, ['p-%'])).toEqual([{ n: 3 }]);
    const names: { name: string }[] = await db.dataSource.query(PREPARED_HERE);
    expect(names.map((r) => r.name)).toEqual(['lantern_test_count_leases', 'lantern_test_insert_lease']);
  });

  it("runs inside the caller's unit of work: its rows are the transaction's, and roll back with it", async () => {
    await expect(
      inTransaction(db.dataSource, async () => {
        await queryPrepared(db.dataSource, INSERT, ['tx-1', 'test']);
        // Not committed yet, yet visible: the same connection and transaction.
        expect(await queryPrepared(db.dataSource, COUNT, ['tx-%'])).toEqual([{ n: 1 }]);
        throw new Error('roll back');
      }),
    ).rejects.toThrow('roll back');
    expect(await queryPrepared(db.dataSource, COUNT, ['tx-%'])).toEqual([{ n: 0 }]);
  });

  it('fails as TypeORM does: a QueryFailedError with the SQLSTATE, and the connection stays usable', async () => {
    const error = await queryPrepared(db.dataSource, INSERT, ['p-0', 'again']).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(QueryFailedError);
    expect((error as { code?: string }).code).toBe('23505');
    expect(classifyDatabaseError(error)).toBe('refused');
    expect(await queryPrepared(db.dataSource, COUNT, ['p-%'])).toEqual([{ n: 3 }]);
  });
});
