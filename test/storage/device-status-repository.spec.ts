import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { DeviceStatusRepository } from '../../libs/storage/src/repositories/device-status.repository.js';
import { TestData } from '../support/builders.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';

describe('DeviceStatusRepository.touchLastSeen (binary array parameters) on PostgreSQL', () => {
  let db: TestDatabase;
  let repository: DeviceStatusRepository;
  let data: TestData;

  beforeAll(async () => {
    db = await createTestDatabase();
    repository = new DeviceStatusRepository(db.dataSource);
    data = new TestData(db.dataSource);
  });

  afterAll(async () => {
    await db?.drop();
  });

  const rowsOf = async (ids: string[]) =>
    (
      await db.dataSource.query<{ id: string; online: boolean; last_seen_at: Date | null }[]>(
        `SELECT id::text, online, last_seen_at FROM devices WHERE id = ANY($1::uuid[])`,
        [ids],
      )
    ).sort((a, b) => ids.indexOf(a.id) - ids.indexOf(b.id));

  it('moves last_seen_at forward to the millisecond, never back, and sets online only where given', async () => {
    const patientId = await data.patient();
    const ids = [
      await data.device(patientId, 'pulse_oximeter'),
      await data.device(patientId, 'cgm'),
      await data.device(patientId, 'bp_monitor'),
    ];
    await db.dataSource.query(`UPDATE devices SET online = true WHERE id = $1`, [ids[2]]);
    const t = Date.UTC(2026, 11, 7, 20, 0, 0, 123);
    await repository.touchLastSeen([
      { deviceId: ids[0], lastSeenAt: t, online: true },
      { deviceId: ids[1], lastSeenAt: t + 1 },
      { deviceId: ids[2], lastSeenAt: t + 2, online: false },
    ]);
    expect((await rowsOf(ids)).map((r) => [r.online, r.last_seen_at?.getTime()])).toEqual([
      [true, t],
      [false, t + 1],
      [false, t + 2],
    ]);

    // Older times leave last_seen_at alone; a null online leaves the flag as it is.
    await repository.touchLastSeen([
      { deviceId: ids[0], lastSeenAt: t - 60_000 },
      { deviceId: ids[1], lastSeenAt: t + 5_000, online: true },
    ]);
    expect((await rowsOf(ids)).map((r) => [r.online, r.last_seen_at?.getTime()])).toEqual([
      [true, t],
      [true, t + 5_000],
      [false, t + 2],
    ]);
  });

  it('writes 10,000 devices in one statement', async () => {
    const patientId = await data.patient();
    await db.dataSource.query(
      `INSERT INTO devices (patient_id, type, secret_hash) SELECT $1, 'pulse_oximeter', 'sha256:x' FROM generate_series(1, 10000)`,
      [patientId],
    );
    const ids = (
      await db.dataSource.query<{ id: string }[]>(`SELECT id::text FROM devices WHERE patient_id = $1`, [patientId])
    ).map((r) => r.id);
    const t = Date.UTC(2026, 11, 7, 21, 0, 0, 0);
    await repository.touchLastSeen(ids.map((deviceId, i) => ({ deviceId, lastSeenAt: t + i, online: i % 2 === 0 })));
    const [summary] = await db.dataSource.query<{ n: number; online: number; first: Date; last: Date }[]>(
      `SELECT count(*)::int AS n, count(*) FILTER (WHERE online)::int AS online,
              min(last_seen_at) AS first, max(last_seen_at) AS last
         FROM devices WHERE patient_id = $1`,
      [patientId],
    );
    expect(summary).toEqual({ n: 10_000, online: 5_000, first: new Date(t), last: new Date(t + 9_999) });
  });
});
