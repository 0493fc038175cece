import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { topicsFor } from '@lantern/messaging';
import {
  detectStorageMode,
  ReadingPartitions,
  ReadingRepository,
  RejectionRepository,
  type NewIngestRejection,
} from '@lantern/storage';
import pg from 'pg';
import { seedDevices, type SeededDevice } from '../../bench/src/infra/bench-database.js';
import type { Expectation } from '../../bench/src/fuzz/fuzz-expectation.js';
import { FuzzLedger } from '../../bench/src/fuzz/fuzz-ledger.js';
import { verifyHostile, verifyValid } from '../../bench/src/fuzz/fuzz-verification.js';
import type { HostileCategory, HostileMessage } from '../../bench/src/fuzz/hostile-payload.generator.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';

const topics = topicsFor('acct/v1');
const T = Date.UTC(2026, 11, 1, 10, 0, 0);

// The fuzz's accounting on its own, against real PostgreSQL: every way a message can end up
// (stored, partly stored, dead-lettered) is recognised, and every loss is caught — a harness whose
// checks cannot fail would prove nothing.
describe('fuzz accounting', () => {
  let db: TestDatabase;
  let pool: pg.Pool;
  let device: SeededDevice;
  let other: SeededDevice;
  let readings: ReadingRepository;
  let rejections: RejectionRepository;

  beforeAll(async () => {
    db = await createTestDatabase();
    pool = new pg.Pool({ connectionString: db.url, max: 2 });
    [device, other] = await seedDevices(pool, 2, 'pulse_oximeter', 'Accounting');
    readings = new ReadingRepository(
      db.dataSource,
      await detectStorageMode(db.dataSource),
      new ReadingPartitions(db.dataSource),
    );
    rejections = new RejectionRepository(db.dataSource);
  });

  afterAll(async () => {
    await pool?.end();
    await db?.drop();
  });

  const message = (seq: number, category: HostileCategory = 'semantic', topic = topics.telemetry(device.deviceId)) =>
    ({ category, variant: 'test', kind: 'telemetry', topic, payload: Buffer.alloc(0), seq }) as HostileMessage;
  const store = (...items: [string, number][]) =>
    readings.insertBatch(
      items.map(([metric, time]) => ({
        deviceId: device.deviceId,
        patientId: device.patientId,
        metric: metric as 'heart_rate',
        value: 70,
        time,
        receivedAt: T,
      })),
    );
  const deadLetter = (topic: string, seq?: number, readingIndex?: number, reason = 'refused') =>
    ({
      receivedAt: T,
      deviceId: device.deviceId,
      topic,
      reason,
      payloadSize: 10,
      ...(seq === undefined ? {} : { seq }),
      ...(readingIndex === undefined ? {} : { readingIndex }),
    }) as NewIngestRejection;

  it('recognises each outcome and catches each kind of loss', async () => {
    const telemetry = topics.telemetry(device.deviceId);
    const unknown = topics.telemetry('00000000-0000-4000-8000-000000000000');
    const unrouted = `${telemetry}/extra`;
    const ledger = new FuzzLedger([device.deviceId]);
    const add = (seq: number, e: Expectation, topic = telemetry, category?: HostileCategory) =>
      ledger.add(0, message(seq, category, topic), topic, e);
    // 1: both readings stored. 2: one stored, one refused by the codec and dead-lettered by index.
    add(1, {
      kind: 'readings',
      seq: 1,
      whole: false,
      readings: [
        { index: 0, metric: 'heart_rate', time: T },
        { index: 1, metric: 'spo2', time: T },
      ],
    });
    add(2, {
      kind: 'readings',
      seq: 2,
      whole: false,
      readings: [{ index: 0, metric: 'heart_rate', time: T + 10_000 }, { index: 1 }],
    });
    // 3: refused whole. 4: accepted by the codec, refused by admission (a dead letter with its index).
    add(3, { kind: 'readings', seq: 3, whole: true, readings: [{ index: 0 }] });
    add(4, {
      kind: 'readings',
      seq: 4,
      whole: false,
      readings: [{ index: 0, metric: 'heart_rate', time: T + 30_000 }],
    });
    // 5: a reading neither stored nor dead-lettered. 6: refused whole, no dead letter.
    add(5, {
      kind: 'readings',
      seq: 5,
      whole: false,
      readings: [{ index: 0, metric: 'heart_rate', time: T + 40_000 }],
    });
    add(6, { kind: 'readings', seq: 6, whole: true, readings: [] });
    // Seq-less: two refusals due on an unknown device's topic (only one stored), one unrouted message.
    add(7, { kind: 'single' }, unknown, 'unexpected_topic');
    add(8, { kind: 'single' }, unknown, 'unexpected_topic');
    add(9, { kind: 'unrouted' }, unrouted, 'unexpected_topic');

    await store(['heart_rate', T], ['spo2', T], ['heart_rate', T + 10_000]);
    await rejections.insertMany([
      deadLetter(telemetry, 2, 1),
      deadLetter(telemetry, 3),
      deadLetter(telemetry, 4, 0),
      deadLetter(unknown),
      // Strays: a seq nobody sent, and a dead letter on a topic the broker never delivers to the ingest.
      deadLetter(telemetry, 99),
      deadLetter(unrouted),
    ]);

    const result = await verifyHostile(pool, ledger, [device.deviceId]);
    expect(result.categories.semantic).toEqual({
      messages: 6,
      stored: 1,
      partlyStored: 1,
      deadLettered: 2,
      statusApplied: 0,
      notRouted: 0,
      unaccounted: 2,
    });
    expect(result.categories.unexpected_topic).toMatchObject({
      messages: 3,
      deadLettered: 1,
      notRouted: 1,
      unaccounted: 1,
    });
    expect(result.unaccounted).toBe(3);
    expect(result.strayDeadLetters).toBe(2);
    expect(result.examples.map((e) => e.seq ?? e.topic)).toEqual([5, 6, unknown, unrouted]);
    expect(result.examples[0].detail).toContain('reading 0 (heart_rate at');
  });

  it('finds a valid reading missing, one too many, and a dead letter of a valid device', async () => {
    const base = T + 3_600_000;
    const series = (count: number) => [
      { deviceId: other.deviceId, metric: 'heart_rate', count, first: base, last: base + (count - 1) * 1000 },
    ];
    await readings.insertBatch(
      [0, 1, 2].map((k) => ({
        deviceId: other.deviceId,
        patientId: other.patientId,
        metric: 'heart_rate' as const,
        value: 70,
        time: base + k * 1000,
        receivedAt: T,
      })),
    );
    expect(await verifyValid(pool, series(3))).toEqual({
      readingsExpected: 3,
      readingsStored: 3,
      deadLetters: 0,
      problems: [],
    });
    expect((await verifyValid(pool, series(4))).problems).toHaveLength(1);
    expect((await verifyValid(pool, series(2))).problems).toHaveLength(1);
    await rejections.insertMany([{ ...deadLetter(topics.telemetry(other.deviceId)), deviceId: other.deviceId }]);
    const withDeadLetter = await verifyValid(pool, series(3));
    expect(withDeadLetter.deadLetters).toBe(1);
    expect(withDeadLetter.problems).toEqual([expect.stringContaining('1 dead letters of valid devices')]);
  });
});
