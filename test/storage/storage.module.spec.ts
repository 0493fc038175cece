import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Test, type TestingModule } from '@nestjs/testing';
import { DataSource } from 'typeorm';
import { ConfigModule } from '@lantern/config';
import { ALERT_LANE, ReadingRepository, STORAGE_MODE, StorageModule, partitionName } from '@lantern/storage';
import { createTestDatabase, type TestDatabase } from '../support/database.js';

describe('StorageModule', () => {
  let db: TestDatabase;
  let moduleRef: TestingModule;

  /** A storage module on the test database, with these variables set while it is built. */
  async function storageModule(env: Record<string, string>, options: Parameters<typeof StorageModule.forRoot>[0]) {
    const saved = Object.fromEntries(Object.keys(env).map((name) => [name, process.env[name]]));
    Object.assign(process.env, env);
    try {
      const built = await Test.createTestingModule({
        imports: [ConfigModule, StorageModule.forRoot(options)],
      }).compile();
      await built.init();
      return built;
    } finally {
      for (const [name, value] of Object.entries(saved))
        if (value === undefined) delete process.env[name];
        else process.env[name] = value;
    }
  }

  beforeAll(async () => {
    db = await createTestDatabase();
    moduleRef = await storageModule({ DATABASE_URL: db.url }, { maintenance: true, alertLane: true });
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

  const show = async (dataSource: DataSource, name: string): Promise<string> =>
    (await dataSource.query<Record<string, string>[]>(`SHOW ${name}`))[0][name];
  const flushAfter = (dataSource: DataSource) => show(dataSource, 'backend_flush_after');

  it('asks PostgreSQL to write out what its backends write, on the pool and on the alert lane', async () => {
    const lane = moduleRef.get<DataSource>(ALERT_LANE);
    expect(lane).not.toBe(moduleRef.get(DataSource));
    expect(await flushAfter(moduleRef.get(DataSource))).toBe('256kB');
    expect(await flushAfter(lane)).toBe('256kB');
    expect(await show(lane, 'plan_cache_mode')).toBe('force_generic_plan');

    const tuned = await storageModule(
      { DATABASE_URL: db.url, DATABASE_BACKEND_FLUSH_AFTER_KB: '64' },
      { migrate: false, alertLane: true },
    );
    try {
      expect(await flushAfter(tuned.get(DataSource))).toBe('64kB');
      expect(await flushAfter(tuned.get<DataSource>(ALERT_LANE))).toBe('64kB');
    } finally {
      await tuned.close();
    }
  });
});
