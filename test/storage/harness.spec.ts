import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { detectStorageMode } from '@lantern/storage';
import { createTestDatabase, type TestDatabase } from '../support/database.js';

describe('test database harness', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => {
    await db?.drop();
  });

  it('creates a migrated database of its own', async () => {
    const tables: { t: string }[] = await db.dataSource.query(`SELECT to_regclass('readings')::text AS t`);
    expect(tables[0].t).toBe('readings');
    expect(await detectStorageMode(db.dataSource)).toBe('postgres');
  });
});
