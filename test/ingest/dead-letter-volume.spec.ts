import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { INestApplicationContext } from '@nestjs/common';
import type { MqttClient } from 'mqtt';
import type { Topics } from '@lantern/messaging';
import { RejectionRepository } from '@lantern/storage';
import { startIngestRig, type IngestRig } from '../support/boot.js';
import type { TestDatabase } from '../support/database.js';
import { waitFor } from '../support/wait.js';
import { startIngest, type SeededDevice } from './ingest-fixture.js';
import { IngestMqttConnection } from '../../apps/ingest/src/consumer/ingest-mqtt.connection.js';
import { IngestMetrics } from '../../apps/ingest/src/metrics/ingest-metrics.js';
import { toIngestRejectionDto } from '../../apps/api/src/ingest/ingest-rejection.dto.js';

/** Enough for one 63 KiB message with 1000 dead-letter rows (256 bytes each against the budget), not for many. */
const BUDGET = 400_000;
const ROW_BYTES = 256;

/** A telemetry message whose `count` readings are all refused (value not a number), padded to about `bytes`. */
function refusedTelemetry(seq: number, count: number, bytes: number): string {
  const base = Date.now() - 3_600_000;
  const reading = (i: number, pad: number) => ({
    metric: 'heart_rate',
    value: `n/a ${'x'.repeat(pad)}`,
    ts: base + i * 1000,
  });
  const unpadded = JSON.stringify({ seq, readings: Array.from({ length: count }, (_, i) => reading(i, 0)) }).length;
  const pad = Math.max(0, Math.floor((bytes - unpadded) / count));
  return JSON.stringify({ seq, readings: Array.from({ length: count }, (_, i) => reading(i, pad)) });
}

/**
 * Dead letters must not multiply a message: its raw payload is stored once however many of its
 * readings are refused, and each device spends at most INGEST_DEAD_LETTER_BUDGET bytes an hour on
 * them (payloads, and 256 bytes a row) — past that a message's refusals are kept as one row that
 * counts them, without the payload.
 */
describe('ingest: dead letters store one payload per message, within a per-device budget', () => {
  let rig: IngestRig;
  let db: TestDatabase;
  let ingest: INestApplicationContext;
  let device: MqttClient;
  let topics: Topics;
  let metrics: IngestMetrics;

  beforeAll(async () => {
    rig = await startIngestRig('deadletters');
    ({ db, topics } = rig);
    ingest = await startIngest(rig.env({ INGEST_DEAD_LETTER_BUDGET: String(BUDGET) }));
    metrics = ingest.get(IngestMetrics);
    device = await rig.connect();
  });

  afterAll(async () => {
    await ingest?.close();
    await rig?.close();
  });

  const rejectionBatches = async (): Promise<number> =>
    (await metrics.batchSize.get()).values.find(
      (v) => v.metricName === 'lantern_ingest_batch_size_count' && v.labels.writer === 'rejections',
    )?.value ?? 0;

  const acksSent = async (): Promise<number> =>
    (await metrics.ackLagSeconds.get()).values.find((v) => v.metricName === 'lantern_ingest_ack_lag_seconds_count')
      ?.value ?? 0;

  it("stores a message's payload once for its 1000 refused readings; the next device's PUBACK waits one batch", async () => {
    const [noisy, next]: SeededDevice[] = await Promise.all([
      rig.data.patientWithDevice(),
      rig.data.patientWithDevice(),
    ]);
    const payload = refusedTelemetry(1, 1000, 63 * 1024);
    expect(payload.length).toBeGreaterThan(62 * 1024);
    expect(payload.length).toBeLessThanOrEqual(64 * 1024);
    const batchesBefore = await rejectionBatches();
    const acksBefore = await acksSent();

    await device.publishAsync(topics.telemetry(noisy.id), payload, { qos: 1 });
    await device.publishAsync(
      topics.telemetry(next.id),
      JSON.stringify({ seq: 1, readings: [{ metric: 'heart_rate', value: 72 }] }),
      { qos: 1 },
    );
    // The ingest acknowledges in arrival order: the next device's PUBACK waits for the noisy
    // message's dead letters, and that is one write of 1000 rows and one payload.
    await waitFor(async () => (await acksSent()) - acksBefore === 2, 'both PUBACKs sent by the ingest');
    expect(ingest.get(IngestMqttConnection).pendingMessages).toBe(0);
    expect((await rejectionBatches()) - batchesBefore).toBe(1);
    const [dead] = await db.dataSource.query<{ rows: number; payloads: number; indexes: number }[]>(
      `SELECT count(*)::int AS rows, count(DISTINCT payload_id)::int AS payloads, count(DISTINCT reading_index)::int AS indexes
         FROM ingest_rejections WHERE device_id = $1`,
      [noisy.id],
    );
    expect(dead).toEqual({ rows: 1000, payloads: 1, indexes: 1000 });
    const [stored] = await db.dataSource.query<{ bytes: number }[]>(
      `SELECT sum(octet_length(p.payload))::int AS bytes FROM ingest_rejected_payloads p
        WHERE p.id IN (SELECT payload_id FROM ingest_rejections WHERE device_id = $1)`,
      [noisy.id],
    );
    expect(stored.bytes).toBe(Buffer.byteLength(payload));

    // Each dead letter still reads back with the whole payload.
    const records = await new RejectionRepository(db.dataSource).find({ deviceId: noisy.id, limit: 1000 });
    expect(records).toHaveLength(1000);
    expect(records.every((r) => r.payload.toString() === payload && !r.payloadDropped)).toBe(true);
  });

  it('past the budget keeps a message as one row counting its refusals, without the payload, and counts what was dropped', async () => {
    const chatty = await rig.data.patientWithDevice();
    const messages = [1, 2, 3, 4, 5].map((seq) => refusedTelemetry(seq, 200, 40_000));
    const sizes = messages.map((m) => Buffer.byteLength(m));
    const cost = (n: number): number => sizes.slice(0, n).reduce((sum, size) => sum + size + 200 * ROW_BYTES, 0);
    expect(cost(4)).toBeLessThanOrEqual(BUDGET);
    expect(cost(4) + sizes[4]).toBeGreaterThan(BUDGET);
    const droppedBefore = (await metrics.deadLetterPayloadBytesDropped.get()).values[0]?.value ?? 0;
    const summarizedBefore = (await metrics.deadLettersSummarized.get()).values[0]?.value ?? 0;

    // In order: the budget is spent by the first four messages.
    for (const m of messages) await device.publishAsync(topics.telemetry(chatty.id), m, { qos: 1 });
    await waitFor(async () => {
      const [n] = await db.dataSource.query<{ n: number }[]>(
        `SELECT count(*)::int AS n FROM ingest_rejections WHERE device_id = $1`,
        [chatty.id],
      );
      return n.n === 801;
    }, 'the five messages dead-lettered');

    const rows = await db.dataSource.query<
      { seq: string; rows: number; payloads: number; dropped: number; size: number; indexes: number }[]
    >(
      `SELECT seq::text, count(*)::int AS rows, count(payload_id)::int AS payloads,
              count(*) FILTER (WHERE payload_dropped)::int AS dropped, max(payload_size) AS size,
              count(DISTINCT reading_index)::int AS indexes
         FROM ingest_rejections WHERE device_id = $1 GROUP BY seq ORDER BY seq`,
      [chatty.id],
    );
    expect(rows).toEqual([
      ...[0, 1, 2, 3].map((i) => ({
        seq: String(i + 1),
        rows: 200,
        payloads: 200,
        dropped: 0,
        size: sizes[i],
        indexes: 200,
      })),
      { seq: '5', rows: 1, payloads: 0, dropped: 1, size: sizes[4], indexes: 0 },
    ]);
    const [summary] = await db.dataSource.query<{ reason: string }[]>(
      `SELECT reason FROM ingest_rejections WHERE device_id = $1 AND seq = 5`,
      [chatty.id],
    );
    expect(summary.reason).toBe(
      '200 refusals (invalid_value ×200); kept as one: the device is over its dead-letter budget for the hour',
    );
    expect(((await metrics.deadLetterPayloadBytesDropped.get()).values[0]?.value ?? 0) - droppedBefore).toBe(sizes[4]);
    expect(((await metrics.deadLettersSummarized.get()).values[0]?.value ?? 0) - summarizedBefore).toBe(200);

    // What the admin API makes of such a dead letter: the count and sizes, no payload, and says so.
    const [newest] = await new RejectionRepository(db.dataSource).find({ deviceId: chatty.id, limit: 1 });
    const dto = toIngestRejectionDto(newest);
    expect(dto).toMatchObject({ seq: 5, payloadSize: sizes[4], truncated: false, payloadDropped: true });
    expect(dto).not.toHaveProperty('index');
    expect(dto).not.toHaveProperty('payload');
    expect(dto).not.toHaveProperty('payloadBase64');
  });
});
