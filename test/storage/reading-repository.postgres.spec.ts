import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Reading } from '@lantern/domain';
import {
  ReadingHistoryRepository,
  ReadingPartitions,
  ReadingRepository,
  ReadingRollupService,
  RejectionRepository,
  StorageMaintenanceService,
  classifyDatabaseError,
  partitionName,
  type BucketSize,
} from '@lantern/storage';
import { ReadingsOneIndex1766000002300 } from '../../libs/storage/src/migrations/1766000002300-readings-one-index.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import {
  ageRollupLog,
  DAY,
  HOUR,
  MINUTE,
  bucketsOf,
  newPatient,
  rounded,
  seeded,
  series,
  MAINTENANCE_SETTINGS,
} from './readings-fixture.js';

const settings = MAINTENANCE_SETTINGS;

describe('ReadingRepository on PostgreSQL (daily partitions, application rollups)', () => {
  let db: TestDatabase;
  let readings: ReadingRepository;
  let history: ReadingHistoryRepository;
  let rollup: ReadingRollupService;
  let maintenance: StorageMaintenanceService;

  beforeAll(async () => {
    db = await createTestDatabase();
    const partitions = new ReadingPartitions(db.dataSource);
    readings = new ReadingRepository(db.dataSource, 'postgres', partitions);
    history = new ReadingHistoryRepository(db.dataSource, 'postgres');
    rollup = new ReadingRollupService(db.dataSource);
    maintenance = new StorageMaintenanceService(db.dataSource, 'postgres', settings, rollup, partitions);
  });
  afterAll(async () => {
    await db?.drop();
  });

  const count = async (sql: string, params: unknown[] = []): Promise<number> =>
    (await db.dataSource.query<{ n: number }[]>(sql, params))[0].n;
  const partitions = async (): Promise<string[]> =>
    (
      await db.dataSource.query<
        { name: string }[]
      >(`SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
       WHERE i.inhparent = 'readings'::regclass ORDER BY 1`)
    ).map((r) => r.name);

  it('stores a duplicated reading once and keeps the first value', async () => {
    const p = newPatient();
    const t = Date.UTC(2026, 10, 20, 10, 0, 0);
    const first: Reading = { ...p, metric: 'heart_rate', time: t, value: 70, receivedAt: t + 1000 };
    const batch: Reading[] = [first, { ...first, value: 99 }, { ...first, time: t + 1000, value: 71 }];
    expect(await readings.insertBatch(batch)).toBe(2);
    expect(
      await readings.insertBatch([
        { ...first, value: 120 },
        { ...first, time: t + 1000, value: 121 },
      ]),
    ).toBe(0);
    const page = await history.raw(p.patientId, { from: t - HOUR, to: t + HOUR });
    expect(page.readings.map((r) => [r.time, r.value])).toEqual([
      [t, 70],
      [t + 1000, 71],
    ]);
    expect(page.readings[0]).toEqual({ ...first });
  });

  it('stores times to the millisecond and values bit for bit (binary array parameters), and refuses a malformed id as the database would', async () => {
    const p = newPatient();
    const t = Date.UTC(2026, 10, 20, 23, 59, 59, 999);
    const values = [-0.000123, 1e300, 5e-324, 98.6, -273.15, 0];
    const batch: Reading[] = values.map((value, i) => ({
      ...p,
      metric: i % 2 ? 'heart_rate' : 'body_temperature',
      time: t + i * 1001 + 0.7, // a fraction of a millisecond is dropped, as Date drops it
      value,
      receivedAt: t + 5000 + i,
    }));
    expect(await readings.insertBatch(batch)).toBe(values.length);
    const rows = await db.dataSource.query<
      { metric: string; time: string; value: number; received_at: string; device_id: string; patient_id: string }[]
    >(
      `SELECT metric, to_char(time AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US') AS time, value,
              to_char(received_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US') AS received_at,
              device_id::text, patient_id::text
         FROM readings WHERE patient_id = $1 ORDER BY time`,
      [p.patientId],
    );
    expect(rows).toEqual(
      batch.map((r) => ({
        metric: r.metric,
        time: new Date(r.time).toISOString().replace('Z', '000'),
        value: r.value,
        received_at: new Date(r.receivedAt).toISOString().replace('Z', '000'),
        device_id: p.deviceId,
        patient_id: p.patientId,
      })),
    );
    const malformed = { ...batch[0], deviceId: p.deviceId.replace(/^./, 'g') };
    await expect(readings.insertBatch([malformed])).rejects.toMatchObject({ code: '22P02' });
    expect(classifyDatabaseError(await readings.insertBatch([malformed]).catch((e: unknown) => e))).toBe('refused');
  });

  it('inserts a large batch in one statement (far above the bind-parameter limit as rows × columns)', async () => {
    const p = newPatient();
    const from = Date.UTC(2026, 10, 21, 0, 0, 0);
    const batch = series(p, 'heart_rate', from, from + 20_000 * 1000, 1000, (i) => 60 + (i % 40));
    expect(await readings.insertBatch(batch)).toBe(20_000);
    expect(await count(`SELECT count(*)::int AS n FROM readings WHERE patient_id = $1`, [p.patientId])).toBe(20_000);
  });

  it('keeps one index on readings, unique on (patient_id, metric, time, device_id) in every partition; the migration converts stored readings', async () => {
    const indexes = async (q: { query: (sql: string) => Promise<unknown> }, table: string) =>
      (
        (await q.query(`SELECT indexdef FROM pg_indexes WHERE tablename = '${table}'`)) as {
          indexdef: string;
        }[]
      )
        .map((r) => r.indexdef.replace(/^.* USING btree /, ''))
        .sort();
    const p = newPatient();
    const t = Date.UTC(2026, 10, 22, 10, 0, 0);
    const day = partitionName(t);
    await readings.insertBatch([{ ...p, metric: 'spo2', time: t, value: 97, receivedAt: t }]);
    expect(await indexes(db.dataSource, 'readings')).toEqual(['(patient_id, metric, "time", device_id)']);
    expect(await indexes(db.dataSource, day)).toEqual(['(patient_id, metric, "time", device_id)']);
    const migration = new ReadingsOneIndex1766000002300();
    const runner = db.dataSource.createQueryRunner();
    try {
      await runner.startTransaction();
      await migration.down(runner);
      expect(await indexes(runner, day)).toEqual(['(device_id, metric, "time")', '(patient_id, metric, "time")']);
      await migration.up(runner);
      expect(await indexes(runner, day)).toEqual(['(patient_id, metric, "time", device_id)']);
      const [{ n }] = (await runner.query(`SELECT count(*)::int AS n FROM readings WHERE patient_id = $1`, [
        p.patientId,
      ])) as { n: number }[];
      expect(n).toBe(1);
    } finally {
      await runner.rollbackTransaction();
      await runner.release();
    }
  });

  it('creates the partition of a back-filled day on demand', async () => {
    const p = newPatient();
    const old = Date.now() - 25 * DAY;
    const day = Math.floor(old / DAY) * DAY;
    expect(await partitions()).not.toContain(partitionName(day));
    expect(await readings.insertBatch([{ ...p, metric: 'spo2', time: old, value: 97, receivedAt: Date.now() }])).toBe(
      1,
    );
    expect(await partitions()).toContain(partitionName(day));
  });

  it('deletes dead letters older than REJECTION_RETENTION at housekeeping', async () => {
    const now = Date.now();
    const insert = (receivedAt: number, reason: string) =>
      new RejectionRepository(db.dataSource).insertMany([
        {
          receivedAt,
          deviceId: 'not-a-device',
          topic: 'lantern/v1/devices/not-a-device/telemetry',
          reason,
          payload: Buffer.from('{}'),
          payloadSize: 2,
        },
      ]);
    await insert(now - settings.rejectionRetention - HOUR, 'old');
    await insert(now - settings.rejectionRetention + HOUR, 'kept');

    const { rejectionsDeleted } = await maintenance.housekeeping(now);

    expect(rejectionsDeleted).toBe(1);
    const left = await db.dataSource.query<{ reason: string }[]>(
      `SELECT reason FROM ingest_rejections WHERE device_id = 'not-a-device'`,
    );
    expect(left.map((r) => r.reason)).toEqual(['kept']);
  });

  it('creates partitions ahead and drops the ones past retention', async () => {
    const now = Date.now();
    const today = Math.floor(now / DAY) * DAY;
    const p = newPatient();
    const expired = now - 95 * DAY;
    const kept = now - 89 * DAY;
    await readings.insertBatch([
      { ...p, metric: 'heart_rate', time: expired, value: 60, receivedAt: now },
      { ...p, metric: 'heart_rate', time: kept, value: 61, receivedAt: now },
    ]);
    expect(await partitions()).toContain(partitionName(Math.floor(expired / DAY) * DAY));

    const { dropped } = await maintenance.housekeeping(now);

    const after = await partitions();
    expect(dropped).toContain(partitionName(Math.floor(expired / DAY) * DAY));
    expect(after).not.toContain(partitionName(Math.floor(expired / DAY) * DAY));
    expect(after).toContain(partitionName(Math.floor(kept / DAY) * DAY));
    for (let i = 0; i <= settings.partitionsAhead; i++) expect(after).toContain(partitionName(today + i * DAY));
    const left = await history.raw(p.patientId, { from: now - 100 * DAY, to: now });
    expect(left.readings.map((r) => r.value)).toEqual([61]);
    // A reading for the dropped day still inserts: the partition comes back on demand.
    expect(
      await readings.insertBatch([{ ...p, metric: 'heart_rate', time: expired, value: 62, receivedAt: now }]),
    ).toBe(1);
  });

  it('keeps rollups equal to the raw rows, late readings included, and runs idempotently', async () => {
    const p = newPatient();
    const rnd = seeded(7);
    const from = Date.UTC(2026, 10, 18, 22, 30, 0);
    const to = from + 3 * HOUR;
    const all = series(p, 'glucose', from, to, 15_000, () => 60 + Math.round(rnd() * 1800) / 10);
    await readings.insertBatch(all);
    await ageRollupLog(db.dataSource);
    await rollup.run();
    expect(await count(`SELECT count(*)::int AS n FROM readings_rollup_pending`)).toBe(0);

    const stored = async (table: string) =>
      db.dataSource.query<{ bucket: Date; min: number; max: number; avg: number; count: number }[]>(
        `SELECT bucket, min, max, sum / count AS avg, count::int AS count FROM ${table} WHERE patient_id = $1 AND metric = 'glucose' ORDER BY bucket`,
        [p.patientId],
      );
    const asBuckets = (rows: Awaited<ReturnType<typeof stored>>) =>
      rows.map((r) => ({ ts: r.bucket.getTime(), min: r.min, max: r.max, avg: r.avg, count: r.count }));
    // Whole tables: the partial first hour (22:30–23:00) is a rollup row too.
    expect(rounded(asBuckets(await stored('readings_1m')))).toEqual(
      rounded(bucketsOf(all, 'glucose', from - DAY, to, '1m')),
    );
    expect(rounded(asBuckets(await stored('readings_1h')))).toEqual(
      rounded(bucketsOf(all, 'glucose', from - DAY, to, '1h')),
    );

    // Late readings into minutes (and an hour) already rolled up, plus a redelivered duplicate.
    const late: Reading[] = [
      { ...p, metric: 'glucose', time: from + 5 * MINUTE + 7_000, value: 400, receivedAt: Date.now() },
      { ...p, metric: 'glucose', time: from + 95 * MINUTE + 3_000, value: 41, receivedAt: Date.now() },
      { ...all[10], value: 1 },
    ];
    expect(await readings.insertBatch(late)).toBe(2);
    const withLate = [...all, late[0], late[1]];
    // Before the rollup runs, queries already include them.
    for (const bucket of ['1m', '15m', '1h', '1d'] as BucketSize[]) {
      expect(rounded(await history.bucketed(p.patientId, { metric: 'glucose', from, to, bucket }))).toEqual(
        rounded(bucketsOf(withLate, 'glucose', from, to, bucket)),
      );
    }
    await ageRollupLog(db.dataSource);
    const first = await rollup.run();
    expect(first).toEqual({ minutes: 2, hours: 2, ran: true });
    const again = await rollup.run();
    expect(again).toEqual({ minutes: 0, hours: 0, ran: true });
    expect(rounded(asBuckets(await stored('readings_1m')))).toEqual(
      rounded(bucketsOf(withLate, 'glucose', from - DAY, to, '1m')),
    );
    expect(rounded(asBuckets(await stored('readings_1h')))).toEqual(
      rounded(bucketsOf(withLate, 'glucose', from - DAY, to, '1h')),
    );
  });

  it('answers bucketed queries from rollups plus the newest, not yet rolled-up minutes', async () => {
    const p = newPatient();
    const rnd = seeded(11);
    const now = Date.now();
    const from = now - 2 * DAY - 17 * MINUTE;
    const older = series(p, 'heart_rate', from, now - 90_000, 10_000, () => 50 + Math.round(rnd() * 800) / 10);
    await readings.insertBatch(older);
    await ageRollupLog(db.dataSource);
    await rollup.run();
    // The newest minute arrives after the last rollup.
    const newest = series(p, 'heart_rate', now - 90_000, now, 5_000, () => 50 + Math.round(rnd() * 800) / 10);
    await readings.insertBatch(newest);
    const all = [...older, ...newest];
    for (const bucket of ['1m', '5m', '15m', '1h', '1d'] as BucketSize[]) {
      const got = await history.bucketed(p.patientId, { metric: 'heart_rate', from, to: now + 1, bucket });
      expect(rounded(got)).toEqual(rounded(bucketsOf(all, 'heart_rate', from, now + 1, bucket)));
    }
    // The minute of the newest reading (not "now - 1 min": in a minute's first seconds that range
    // holds no reading yet), not rolled up, is answered from raw rows.
    const newestMinute = Math.floor(newest.at(-1)!.time / MINUTE) * MINUTE;
    const lastMinute = await history.bucketed(p.patientId, {
      metric: 'heart_rate',
      from: newestMinute,
      to: now + 1,
      bucket: '1m',
    });
    expect(lastMinute.map((b) => b.ts)).toContain(newestMinute);
    expect(lastMinute.at(-1)!.ts).toBe(newestMinute);
  });

  it('folds a minute in once its log entry has settled (ROLLUP_SETTLE, 3 min); until then queries read it raw', async () => {
    const p = newPatient();
    const now = Date.now();
    const older = now - 10 * MINUTE;
    const fresh = now - 5_000;
    await readings.insertBatch([{ ...p, metric: 'heart_rate', time: older, value: 60, receivedAt: now }]);
    await ageRollupLog(db.dataSource);
    await readings.insertBatch([{ ...p, metric: 'heart_rate', time: fresh, value: 70, receivedAt: now }]);
    await rollup.run();
    const minuteOf = (t: number) => Math.floor(t / MINUTE) * MINUTE;
    const pending = await db.dataSource.query<{ bucket: Date }[]>(
      `SELECT bucket FROM readings_rollup_pending WHERE patient_id = $1`,
      [p.patientId],
    );
    expect(pending.map((r) => r.bucket.getTime())).toEqual([minuteOf(fresh)]);
    const folded = await db.dataSource.query<{ bucket: Date }[]>(
      `SELECT bucket FROM readings_1m WHERE patient_id = $1`,
      [p.patientId],
    );
    expect(folded.map((r) => r.bucket.getTime())).toEqual([minuteOf(older)]);
    const answer = await history.bucketed(p.patientId, {
      metric: 'heart_rate',
      from: now - HOUR,
      to: now + 1,
      bucket: '1m',
    });
    expect(answer.map((b) => [b.ts, b.avg, b.count])).toEqual([
      [minuteOf(older), 60, 1],
      [minuteOf(fresh), 70, 1],
    ]);
  });

  it('logs a minute for the rollups once within LOG_ONCE_WITHIN (1 min), late minutes too, and again after', async () => {
    const p = newPatient();
    const now = Date.now();
    const late = now - 10 * MINUTE;
    const reading = (time: number, value: number): Reading => ({ ...p, metric: 'spo2', time, value, receivedAt: now });
    const logged = async () =>
      (
        await db.dataSource.query<{ bucket: Date; n: number }[]>(
          `SELECT bucket, count(*)::int AS n FROM readings_rollup_pending WHERE patient_id = $1 GROUP BY bucket ORDER BY bucket`,
          [p.patientId],
        )
      ).map((r) => [r.bucket.getTime(), r.n]);
    const minuteOf = (t: number) => Math.floor(t / MINUTE) * MINUTE;
    await readings.insertBatch([reading(now, 97), reading(late, 95)]);
    await readings.insertBatch([reading(now + 1, 96), reading(late + 1, 94)]);
    await readings.insertBatch([reading(now + 2, 98)]);
    expect(await logged()).toEqual([
      [minuteOf(late), 1],
      [minuteOf(now), 1],
    ]);
    // Logged over a minute ago: a new reading of the minute logs it again (a run may have claimed it).
    await db.dataSource.query(
      `UPDATE readings_rollup_pending SET logged_at = logged_at - INTERVAL '61 seconds' WHERE patient_id = $1`,
      [p.patientId],
    );
    await readings.insertBatch([reading(late + 2, 93)]);
    expect(await logged()).toEqual([
      [minuteOf(late), 2],
      [minuteOf(now), 1],
    ]);
    const answer = await history.bucketed(p.patientId, { metric: 'spo2', from: now - HOUR, to: now + 3, bucket: '1m' });
    expect(answer.map((b) => [b.ts, b.count])).toEqual([
      [minuteOf(late), 3],
      [minuteOf(now), 3],
    ]);
  });

  it('pages raw readings with a cursor, time ascending, across metrics', async () => {
    const p = newPatient();
    const from = Date.UTC(2026, 10, 19, 12, 0, 0);
    const hr = series(p, 'heart_rate', from, from + 10 * MINUTE, 2_000, (i) => 60 + (i % 30));
    const spo2 = series(p, 'spo2', from, from + 10 * MINUTE, 2_000, (i) => 90 + (i % 10));
    await readings.insertBatch([...spo2, ...hr]);
    const seen: Reading[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const page = await history.raw(p.patientId, { from, to: from + HOUR, limit: 37, cursor });
      seen.push(...page.readings);
      cursor = page.nextCursor;
      pages++;
    } while (cursor);
    expect(pages).toBe(Math.ceil(600 / 37));
    expect(seen).toHaveLength(600);
    const expected = [...hr, ...spo2].sort((a, b) => a.time - b.time || a.metric.localeCompare(b.metric));
    expect(seen.map((r) => [r.time, r.metric, r.value])).toEqual(expected.map((r) => [r.time, r.metric, r.value]));
    const onlySpo2 = await history.raw(p.patientId, { metric: 'spo2', from, to: from + HOUR });
    expect(onlySpo2.readings).toHaveLength(300);
    expect(onlySpo2.nextCursor).toBeUndefined();
    await expect(history.raw(p.patientId, { from, to: from + HOUR, cursor: 'bogus' })).rejects.toThrow(
      'Invalid cursor',
    );
    await expect(history.raw(p.patientId, { from, to: from + HOUR, limit: 10_001 })).rejects.toThrow(RangeError);
  });

  it('reports the latest reading per metric and per-metric statistics', async () => {
    const p = newPatient();
    const from = Date.UTC(2026, 10, 19, 0, 0, 0);
    const glucose = [40, 50, 65, 70, 120, 180, 181, 240, 260, 300];
    const g = series(p, 'glucose', from, from + glucose.length * 5 * MINUTE, 5 * MINUTE, (i) => glucose[i]);
    const hr = series(p, 'heart_rate', from, from + 4 * MINUTE, MINUTE, (i) => [60, 62, 64, 66][i]);
    await readings.insertBatch([...g, ...hr]);

    expect(await history.latest(p.patientId)).toEqual([
      { metric: 'glucose', value: 300, time: g.at(-1)!.time, deviceId: p.deviceId, receivedAt: g.at(-1)!.receivedAt },
      {
        metric: 'heart_rate',
        value: 66,
        time: hr.at(-1)!.time,
        deviceId: p.deviceId,
        receivedAt: hr.at(-1)!.receivedAt,
      },
    ]);

    const stats = await history.statsByMetric(p.patientId, from, from + DAY);
    const mean = glucose.reduce((a, b) => a + b, 0) / glucose.length;
    const sd = Math.sqrt(glucose.reduce((a, b) => a + (b - mean) ** 2, 0) / (glucose.length - 1));
    expect(stats).toHaveLength(2);
    expect(stats[0]).toMatchObject({
      metric: 'glucose',
      count: 10,
      min: 40,
      max: 300,
      first: from,
      last: g.at(-1)!.time,
    });
    expect(stats[0].mean).toBeCloseTo(mean, 9);
    expect(stats[0].stddev).toBeCloseTo(sd, 9);
    expect(stats[0].glucose).toEqual({ below54: 2, below70: 3, inRange70To180: 3, above180: 4, above250: 2 });
    expect(stats[1]).toMatchObject({ metric: 'heart_rate', count: 4, min: 60, max: 66, mean: 63 });
    expect(stats[1].glucose).toBeUndefined();
  });
});
