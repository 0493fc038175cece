import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { INestApplicationContext } from '@nestjs/common';
import type { MqttClient } from 'mqtt';
import type { AlertRecord, EngineOutput } from '@lantern/alerting';
import type { Topics } from '@lantern/messaging';
import type { DeviceStatusUpdate, NewIngestRejection } from '@lantern/storage';
import { startIngestRig, type IngestRig } from '../support/boot.js';
import type { TestDatabase } from '../support/database.js';
import { collectMessages } from '../support/mqtt.js';
import { waitFor } from '../support/wait.js';
import { startIngest, type SeededDevice } from './ingest-fixture.js';
import { AlertOutputWriter } from '../../apps/ingest/src/alerting/alert-output.writer.js';
import { IngestMqttConnection } from '../../apps/ingest/src/consumer/ingest-mqtt.connection.js';
import { PendingMessage } from '../../apps/ingest/src/consumer/pending-message.js';
import { IngestMetrics } from '../../apps/ingest/src/metrics/ingest-metrics.js';
import { IngestPipeline } from '../../apps/ingest/src/pipeline/ingest.pipeline.js';

/**
 * One value the database refuses must not jam a writer: the refused item is set aside (a dead
 * letter, or a logged and counted loss) and everything behind it is written and acknowledged.
 * The codec may refuse such values earlier; these tests put them past it on purpose.
 */
describe('ingest: a value the database refuses does not jam its writer', () => {
  let rig: IngestRig;
  let db: TestDatabase;
  let ingest: INestApplicationContext;
  let device: MqttClient;
  let topics: Topics;
  let pipeline: IngestPipeline;
  let metrics: IngestMetrics;

  beforeAll(async () => {
    rig = await startIngestRig('isolation');
    ({ db, topics } = rig);
    ingest = await startIngest(rig.env());
    pipeline = ingest.get(IngestPipeline);
    metrics = ingest.get(IngestMetrics);
    device = await rig.connect();
  });

  afterAll(async () => {
    await ingest?.close();
    await rig?.close();
  });

  const counter = async (name: 'storageRefused' | 'deadLettersLost', labels: Record<string, string> = {}) =>
    (await metrics[name].get()).values
      .filter((v) => Object.entries(labels).every(([k, l]) => v.labels[k as never] === l))
      .reduce((sum, v) => sum + v.value, 0);

  /** A message of the test's own making, as the MQTT connection would hand it over. */
  const pendingMessage = () => {
    const state = { complete: false };
    const message = new PendingMessage(undefined, 0, Date.now(), () => (state.complete = true));
    return { message, state };
  };

  it("stores other devices' statuses, dead-letters the refused one with its payload, and acknowledges it", async () => {
    const [poisoned, second, third] = await Promise.all([1, 2, 3].map(() => rig.data.patientWithDevice()));
    // Past the codec, into the status writer: the firmware text the database refuses (U+0000).
    const statuses = pipeline.statuses;
    const add = statuses.add.bind(statuses);
    statuses.add = (item: DeviceStatusUpdate, message?: PendingMessage) =>
      add(item.firmware === 'POISON' ? { ...item, firmware: '2.\u00001' } : item, message);
    const errors = await collectMessages(device, topics.errors(poisoned.id));

    const poisonPayload = JSON.stringify({ firmware: 'POISON', battery: 50 });
    // Not awaited: on a jammed writer the PUBACKs never come, and the waits below say what is missing.
    const acks = [
      device.publishAsync(topics.status(poisoned.id), poisonPayload, { qos: 1 }),
      device.publishAsync(topics.status(second.id), JSON.stringify({ battery: 61, firmware: '1.2.0' }), { qos: 1 }),
      device.publishAsync(topics.status(third.id), JSON.stringify({ battery: 62 }), { qos: 1 }),
    ];

    const applied = await waitFor(async () => {
      const rows = await db.dataSource.query<{ id: string; battery: number | null; firmware: string | null }[]>(
        `SELECT id::text, battery, firmware FROM devices WHERE id = ANY($1) ORDER BY battery`,
        [[second.id, third.id]],
      );
      return rows.every((r) => r.battery !== null) ? rows : undefined;
    }, "the other devices' statuses applied");
    expect(applied.map((r) => [r.id, r.battery, r.firmware])).toEqual([
      [second.id, 61, '1.2.0'],
      [third.id, 62, null],
    ]);
    const dead = await waitFor(
      async () =>
        (
          await db.dataSource.query<{ reason: string; topic: string; payload: Buffer; payload_dropped: boolean }[]>(
            `SELECT r.reason, r.topic, p.payload, r.payload_dropped
               FROM ingest_rejections r LEFT JOIN ingest_rejected_payloads p ON p.id = r.payload_id
              WHERE r.device_id = $1`,
            [poisoned.id],
          )
        )[0],
      'the refused status dead-lettered',
    );
    expect(dead.reason).toBe('the database refused the status: invalid byte sequence for encoding "UTF8": 0x00');
    expect(dead.topic).toBe(topics.status(poisoned.id));
    expect(dead.payload.toString()).toBe(poisonPayload);
    expect(dead.payload_dropped).toBe(false);
    // The refused status changed nothing on its device.
    const [untouched] = await db.dataSource.query<{ battery: number | null }[]>(
      `SELECT battery FROM devices WHERE id = $1`,
      [poisoned.id],
    );
    expect(untouched.battery).toBeNull();

    await Promise.all(acks);
    await waitFor(() => ingest.get(IngestMqttConnection).pendingMessages === 0, 'every message acknowledged');
    expect(await counter('storageRefused', { writer: 'statuses' })).toBe(1);
    expect((await metrics.rejections.get()).values).toContainEqual(
      expect.objectContaining({ labels: { reason: 'storage_refused', scope: 'message' }, value: 1 }),
    );
    const reply = await waitFor(() => errors[0], 'the errors reply to the device');
    expect(reply.body).toEqual({ errors: [{ reason: dead.reason }] });
    expect(pipeline.statuses.retrying).toBeUndefined();
  });

  it('stores a refused dead letter again escaped and without payload, and goes on with the next ones', async () => {
    const receivedAt = Date.now();
    const deviceId = randomUUID();
    const deadLetter = (reason: string, extra: Partial<NewIngestRejection> = {}): NewIngestRejection => ({
      receivedAt,
      deviceId,
      topic: `x/devices/${deviceId}/telemetry`,
      reason,
      payload: Buffer.from(`{"reason":"${reason}"}`),
      payloadSize: 20,
      ...extra,
    });
    const bad = pendingMessage();
    const lost = pendingMessage();
    const good = pendingMessage();
    pipeline.rejections.add(deadLetter("unknown metric 'x\u0000y'", { topic: 'x/\u0000/telemetry' }), bad.message);
    // Refused however it is escaped: an index out of the column's range (SQLSTATE 22003).
    pipeline.rejections.add(deadLetter('index out of range', { readingIndex: 2 ** 40 }), lost.message);
    pipeline.rejections.add(deadLetter('a plain one'), good.message);
    for (const m of [bad, lost, good]) m.message.seal();

    await waitFor(() => bad.state.complete && lost.state.complete && good.state.complete, 'all three acknowledged');
    const rows = await db.dataSource.query<
      { reason: string; topic: string; payload: Buffer | null; payload_dropped: boolean }[]
    >(
      `SELECT r.reason, r.topic, p.payload, r.payload_dropped
         FROM ingest_rejections r LEFT JOIN ingest_rejected_payloads p ON p.id = r.payload_id
        WHERE r.device_id = $1 ORDER BY r.id`,
      [deviceId],
    );
    expect(rows).toEqual([
      {
        reason: 'a plain one',
        topic: `x/devices/${deviceId}/telemetry`,
        payload: expect.any(Buffer),
        payload_dropped: false,
      },
      {
        reason:
          'unknown metric \'x\\u0000y\' (stored without its payload: the database refused this dead letter: invalid byte sequence for encoding "UTF8": 0x00)',
        topic: 'x/\\u0000/telemetry',
        payload: null,
        payload_dropped: true,
      },
    ]);
    expect(await counter('deadLettersLost')).toBe(1);
    expect(await counter('storageRefused', { writer: 'rejections' })).toBe(3);
    expect(pipeline.rejections.retrying).toBeUndefined();
  });

  it('skips only the alert output the database refuses; the others are stored and emitted', async () => {
    const writer = ingest.get(AlertOutputWriter);
    const owner: SeededDevice = await rig.data.patientWithDevice();
    const now = Date.now();
    const alert = (rule: string, message: string): AlertRecord => ({
      id: randomUUID(),
      patientId: owner.patientId,
      deviceId: owner.id,
      rule,
      metric: 'spo2',
      priority: 'high',
      state: 'open',
      message,
      value: 85,
      peakValue: 85,
      openedAt: now,
      lastTriggeredAt: now,
      clearedAt: null,
      acknowledgedAt: null,
      acknowledgedBy: null,
      acknowledgeNote: null,
      resolvedAt: null,
      resolvedBy: null,
      resolveNote: null,
      escalationLevel: 0,
      escalatedAt: null,
      raisedAt: now,
      measuredAt: now,
      receivedAt: now,
      evaluatedAt: now,
      late: false,
    });
    const opened = (a: AlertRecord): EngineOutput => ({
      transitions: [{ kind: 'opened', alert: a }],
      notifications: [],
    });
    const before = writer.refused;
    const first = alert('spo2_low', 'SpO2 85 %');
    const refused = alert('hr_high', 'heart rate \u0000 high');
    const last = alert('spo2_critical', 'SpO2 85 %, critical');
    // One batch: the refused output sits between two good ones.
    for (const a of [first, refused, last]) writer.enqueue(opened(a));
    const stored = await waitFor(async () => {
      const rows = await db.dataSource.query<{ id: string }[]>(`SELECT id::text FROM alerts WHERE patient_id = $1`, [
        owner.patientId,
      ]);
      return rows.length >= 2 ? rows : undefined;
    }, 'the two good alerts stored');
    await writer.drained();
    expect(stored.map((r) => r.id).sort()).toEqual([first.id, last.id].sort());
    expect(writer.refused - before).toBe(1);
    expect(await counter('storageRefused', { writer: 'alerts' })).toBe(1);
    expect(writer.retrying).toBeUndefined();

    // And the writer is not stuck: the next output goes through.
    const next = alert('rr_high', 'respiratory rate high');
    writer.enqueue(opened(next));
    await writer.drained();
    const [row] = await db.dataSource.query<{ n: number }[]>(`SELECT count(*)::int AS n FROM alerts WHERE id = $1`, [
      next.id,
    ]);
    expect(row.n).toBe(1);
  });
});
