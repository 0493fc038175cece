import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { DataSource } from 'typeorm';
import {
  ReadingPartitions,
  ReadingRollupService,
  RejectionRepository,
  StorageMaintenanceService,
  createDataSource,
  runMigrations,
  type NewIngestRejection,
  type StorageMode,
} from '@lantern/storage';
import { DeadLetterPayloads1765000000100 } from '../../libs/storage/src/migrations/1765000000100-dead-letter-payloads.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { startTimescale, type TimescaleServer } from '../support/timescale.js';
import { HOUR, MAINTENANCE_SETTINGS } from './readings-fixture.js';

const settings = MAINTENANCE_SETTINGS;

const count = async (ds: DataSource, sql: string, params: unknown[] = []): Promise<number> =>
  (await ds.query<{ n: number }[]>(sql, params))[0].n;

/** Dead letters of one message with `readings` refused readings, sharing the message's payload. */
function messageDeadLetters(
  deviceId: string,
  receivedAt: number,
  readings: number,
  payload?: Buffer,
): NewIngestRejection[] {
  return Array.from({ length: readings }, (_, i) => ({
    receivedAt,
    deviceId,
    topic: `lantern/v1/devices/${deviceId}/telemetry`,
    reason: `reading ${i} refused`,
    readingIndex: i,
    seq: 7,
    ...(payload === undefined ? {} : { payload }),
    payloadSize: 100_000,
  }));
}

/** The retention and one-payload-per-message checks, run on each storage mode. */
function retentionChecks(mode: StorageMode, open: () => Promise<DataSource>): void {
  describe(`dead-letter payloads on ${mode}`, () => {
    let ds: DataSource;
    let repository: RejectionRepository;
    let maintenance: StorageMaintenanceService;

    beforeAll(async () => {
      ds = await open();
      repository = new RejectionRepository(ds);
      maintenance = new StorageMaintenanceService(
        ds,
        mode,
        settings,
        new ReadingRollupService(ds),
        new ReadingPartitions(ds),
      );
    });

    it('stores each distinct payload once and returns it with every dead letter of its message', async () => {
      const now = Date.now();
      const payload = Buffer.alloc(64 * 1024, 0x7b);
      const other = Buffer.from('{"other":true}');
      await repository.insertMany([
        ...messageDeadLetters(`${mode}-one`, now, 1000, payload),
        ...messageDeadLetters(`${mode}-one`, now + 1, 2, other),
        ...messageDeadLetters(`${mode}-one`, now + 2, 3),
      ]);
      expect(
        await count(
          ds,
          `SELECT count(DISTINCT payload_id)::int AS n FROM ingest_rejections WHERE device_id = $1 AND payload_id IS NOT NULL`,
          [`${mode}-one`],
        ),
      ).toBe(2);
      expect(
        await count(
          ds,
          `SELECT sum(octet_length(payload))::int AS n FROM ingest_rejected_payloads
            WHERE id IN (SELECT payload_id FROM ingest_rejections WHERE device_id = $1)`,
          [`${mode}-one`],
        ),
      ).toBe(payload.length + other.length);

      const records = await repository.find({ deviceId: `${mode}-one`, limit: 1000 });
      expect(records.slice(0, 3).map((r) => [r.readingIndex, r.payload.length, r.payloadDropped, r.truncated])).toEqual(
        [
          [2, 0, true, false],
          [1, 0, true, false],
          [0, 0, true, false],
        ],
      );
      expect(records.slice(3, 5).map((r) => [r.readingIndex, r.payload.toString(), r.payloadDropped])).toEqual([
        [1, '{"other":true}', false],
        [0, '{"other":true}', false],
      ]);
      // Newest first: the 1000 of the first message, highest index first, each with the whole payload.
      const first = records.slice(5);
      expect(first.map((r) => r.readingIndex)).toEqual(Array.from({ length: 995 }, (_, i) => 999 - i));
      expect(first.every((r) => r.payload.equals(payload) && r.truncated && !r.payloadDropped)).toBe(true);
    });

    it('deletes dead letters past REJECTION_RETENTION with their payloads, and orphaned old payloads', async () => {
      const now = Date.now();
      const old = now - settings.rejectionRetention - HOUR;
      const recent = now - settings.rejectionRetention + HOUR;
      const oldPayload = Buffer.from('{"old":1}');
      const keptPayload = Buffer.from('{"kept":1}');
      await repository.insertMany([
        ...messageDeadLetters(`${mode}-retention`, old, 3, oldPayload),
        ...messageDeadLetters(`${mode}-retention`, recent, 2, keptPayload),
      ]);
      // A payload no dead letter uses (its rows deleted by hand), old enough to go.
      await ds.query(`INSERT INTO ingest_rejected_payloads (received_at, payload) VALUES ($1, '\\x00')`, [
        new Date(old),
      ]);

      const { rejectionsDeleted, payloadsDeleted } = await maintenance.housekeeping(now);

      expect(rejectionsDeleted).toBe(3);
      expect(payloadsDeleted).toBe(2);
      const left = await repository.find({ deviceId: `${mode}-retention`, limit: 10 });
      expect(left.map((r) => r.payload.toString())).toEqual(['{"kept":1}', '{"kept":1}']);
      expect(
        await count(ds, `SELECT count(*)::int AS n FROM ingest_rejected_payloads WHERE received_at < $1`, [
          new Date(now - settings.rejectionRetention),
        ]),
      ).toBe(0);
    });
  });
}

describe('dead-letter payload storage', () => {
  let pg: TestDatabase;
  let server: TimescaleServer;
  let ts: DataSource;

  beforeAll(async () => {
    pg = await createTestDatabase();
    server = await startTimescale();
    // PGlite serves one connection at a time.
    ts = createDataSource({ url: server.url, poolSize: 1 });
    await ts.initialize();
    await runMigrations(ts);
  });
  afterAll(async () => {
    await ts?.destroy();
    await server?.stop();
    await pg?.drop();
  });

  retentionChecks('postgres', () => Promise.resolve(pg.dataSource));
  retentionChecks('timescaledb', () => Promise.resolve(ts));

  it('moves the payloads of existing dead letters into one row per message (migration)', async () => {
    const migration = new DeadLetterPayloads1765000000100();
    const runner = pg.dataSource.createQueryRunner();
    try {
      await runner.startTransaction();
      await runner.query(`DELETE FROM ingest_rejections`);
      await runner.query(`DELETE FROM ingest_rejected_payloads`);
      await migration.down(runner);
      // As the previous schema stored them: a message with three refused readings (three copies),
      // another message with the same bytes at another time, and one without a payload.
      await runner.query(
        `INSERT INTO ingest_rejections (received_at, device_id, topic, reason, reading_index, payload, payload_size, truncated)
         VALUES ('2026-11-20T10:00:00Z', 'd', 't/a', 'r0', 0, '\\x7b7d', 2, false),
                ('2026-11-20T10:00:00Z', 'd', 't/a', 'r1', 1, '\\x7b7d', 2, false),
                ('2026-11-20T10:00:00Z', 'd', 't/a', 'r2', 2, '\\x7b7d', 2, false),
                ('2026-11-20T11:00:00Z', 'd', 't/a', 'r3', NULL, '\\x7b7d', 2, false),
                ('2026-11-20T12:00:00Z', 'd', 't/a', 'r4', NULL, NULL, 0, false)`,
      );
      await migration.up(runner);
      const rows = (await runner.query(
        `SELECT r.reason, r.payload_id::text, p.payload FROM ingest_rejections r
           LEFT JOIN ingest_rejected_payloads p ON p.id = r.payload_id ORDER BY r.reason`,
      )) as { reason: string; payload_id: string | null; payload: Buffer | null }[];
      expect(rows.map((r) => [r.reason, r.payload?.toString() ?? null])).toEqual([
        ['r0', '{}'],
        ['r1', '{}'],
        ['r2', '{}'],
        ['r3', '{}'],
        ['r4', null],
      ]);
      expect(new Set(rows.slice(0, 3).map((r) => r.payload_id)).size).toBe(1);
      expect(rows[3].payload_id).not.toBe(rows[0].payload_id);
      const [{ n }] = (await runner.query(`SELECT count(*)::int AS n FROM ingest_rejected_payloads`)) as {
        n: number;
      }[];
      expect(n).toBe(2);
      const columns = (await runner.query(
        `SELECT column_name FROM information_schema.columns WHERE table_name = 'ingest_rejections' AND column_name = 'payload'`,
      )) as { column_name: string }[];
      expect(columns).toEqual([]);
    } finally {
      await runner.rollbackTransaction();
      await runner.release();
    }
  });
});
