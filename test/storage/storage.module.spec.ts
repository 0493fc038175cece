import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Test, type TestingModule } from '@nestjs/testing';
import { DataSource } from 'typeorm';
import { ConfigModule } from '@lantern/config';
import { ReadingRepository, STORAGE_MODE, StorageModule, partitionName } from '@lantern/storage';
import { createTestDatabase, type TestDatabase } from '../support/database.js';

describe('StorageModule', () => {
  let db: TestDatabase;
  let moduleRef: TestingModule;
  const saved = process.env.DATABASE_URL;

  beforeAll(async () => {
    db = await createTestDatabase();
    process.env.DATABASE_URL = db.url;
    try {
      moduleRef = await Test.createTestingModule({
        imports: [ConfigModule, StorageModule.forRoot({ maintenance: true })],
      }).compile();
      await moduleRef.init();
    } finally {
      process.env.DATABASE_URL = saved;
    }
  });
  afterAll(async () => {
    await moduleRef?.close();
    await db?.drop();
  });

  it('provides the data source, the detected mode and the reading repository, and runs maintenance', async () => {
    expect(moduleRef.get(STORAGE_MODE)).toBe('postgres');
    const readings = moduleRef.get(ReadingRepository);
    expect(readings.mode).toBe('postgres');
    const dataSource = moduleRef.get(DataSource);
    const rows: { name: string }[] = await dataSource.query(
      `SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'readings'::regclass`,
    );
    // Maintenance created today's partition and PARTITIONS_AHEAD_DAYS (default 7) more at start.
    const today = Math.floor(Date.now() / 86_400_000) * 86_400_000;
    expect(rows.map((r) => r.name)).toEqual(
      expect.arrayContaining([partitionName(today), partitionName(today + 7 * 86_400_000)]),
    );
  });
});
