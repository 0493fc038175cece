import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { INestApplicationContext } from '@nestjs/common';
import type { MqttClient } from 'mqtt';
import type { Topics } from '@lantern/messaging';
import type { Reading } from '@lantern/domain';
import { startIngestRig, type IngestRig } from '../support/boot.js';
import type { TestDatabase } from '../support/database.js';
import { collectMessages, connectMqtt } from '../support/mqtt.js';
import { waitFor } from '../support/wait.js';
import { startIngest, type SeededDevice } from './ingest-fixture.js';
import { ReadingStream } from '../../apps/ingest/src/pipeline/reading.stream.js';
import { IngestService } from '../../apps/ingest/src/ingest.service.js';
import {
  AlertStreamingService,
  EVALUATION_TIMED_EVERY,
} from '../../apps/ingest/src/alerting/alert-streaming.service.js';
import { StreamingCore } from '../../apps/ingest/src/alerting/streaming-core.js';
import { IngestMqttConnection } from '../../apps/ingest/src/consumer/ingest-mqtt.connection.js';

const iso = (ms: number): string => new Date(ms).toISOString();

describe('ingest: MQTT → store (real Mosquitto and PostgreSQL)', () => {
  let rig: IngestRig;
  let db: TestDatabase;
  let ingest: INestApplicationContext;
  let device: MqttClient;
  let observer: MqttClient;
  let topics: Topics;
  let oximeter: SeededDevice;
  let cgm: SeededDevice;
  let retired: SeededDevice;
  const streamed: Reading[] = [];

  beforeAll(async () => {
    rig = await startIngestRig('ingest');
    ({ db, topics } = rig);
    oximeter = await rig.data.patientWithDevice('pulse_oximeter');
    cgm = await rig.data.patientWithDevice('cgm');
    retired = await rig.data.patientWithDevice('cgm', { decommissioned: true });
    ingest = await startIngest(rig.env());
    ingest.get(ReadingStream).readings$.subscribe((r) => streamed.push(r));
    device = await rig.connect();
    observer = await rig.connect();
  });

  afterAll(async () => {
    await ingest?.close();
    await rig?.close();
  });

  const readingsOf = async (deviceId: string): Promise<{ metric: string; value: number; time: Date }[]> =>
    db.dataSource.query(`SELECT metric, value, time FROM readings WHERE device_id = $1 ORDER BY time, metric`, [
      deviceId,
    ]);
  const rejectionsOf = async (
    deviceId: string,
  ): Promise<
    {
      reason: string;
      reading_index: number | null;
      seq: string | null;
      payload_size: number;
      truncated: boolean;
      topic: string;
    }[]
  > =>
    db.dataSource.query(
      `SELECT reason, reading_index, seq::text, payload_size, truncated, topic FROM ingest_rejections WHERE device_id = $1 ORDER BY id`,
      [deviceId],
    );

  it('uses MQTT 5 on Mosquitto (one consumer per session: no shared subscription unless configured)', () => {
    const connection = ingest.get(IngestMqttConnection);
    expect(connection.protocolVersion).toBe(5);
    expect(connection.filtersFor(5).some((f) => f.startsWith('$share/'))).toBe(false);
  });

  it('stores published readings, converting units to canonical, and streams them before the commit', async () => {
    const now = Date.now() - 60_000;
    await device.publishAsync(
      topics.telemetry(cgm.id),
      JSON.stringify({
        seq: 1,
        ts: iso(now),
        readings: [
          { metric: 'glucose', value: 5.4, unit: 'mmol/L' },
          { metric: 'glucose', value: 110, ts: now - 300_000 },
        ],
      }),
      { qos: 1 },
    );
    const rows = await waitFor(
      async () => ((await readingsOf(cgm.id)).length === 2 ? readingsOf(cgm.id) : undefined),
      'two glucose readings',
    );
    expect(rows.map((r) => [r.metric, r.value, r.time.getTime()])).toEqual([
      ['glucose', 110, now - 300_000],
      ['glucose', expect.closeTo(97.2864, 6), now],
    ]);
    const [patientRow] = await db.dataSource.query<{ p: string }[]>(
      `SELECT DISTINCT patient_id::text AS p FROM readings WHERE device_id = $1`,
      [cgm.id],
    );
    expect(patientRow.p).toBe(cgm.patientId);
    expect(streamed.filter((r) => r.deviceId === cgm.id).map((r) => r.time)).toEqual([now, now - 300_000]);
  });

  it('stores a duplicate (same device, metric, time) once: the first value wins', async () => {
    const t = Date.now() - 10_000;
    const body = (value: number) => JSON.stringify({ readings: [{ metric: 'spo2', value, ts: t }] });
    await device.publishAsync(topics.telemetry(oximeter.id), body(95), { qos: 1 });
    await device.publishAsync(topics.telemetry(oximeter.id), body(91), { qos: 1 });
    await device.publishAsync(
      topics.telemetry(oximeter.id),
      JSON.stringify({ readings: [{ metric: 'heart_rate', value: 70, ts: t }] }),
      { qos: 1 },
    );
    await waitFor(
      async () => (await readingsOf(oximeter.id)).some((r) => r.metric === 'heart_rate'),
      'the marker reading',
    );
    const spo2 = (await readingsOf(oximeter.id)).filter((r) => r.metric === 'spo2');
    expect(spo2.map((r) => r.value)).toEqual([95]);
  });

  it('dead-letters every rejection reason and replies on the errors topic', async () => {
    const errors = await collectMessages(observer, topics.errors('+'));
    const now = Date.now();
    const telemetry = topics.telemetry(oximeter.id);
    const cases: { topic: string; payload: string | Buffer; expect: RegExp[] }[] = [
      { topic: telemetry, payload: '{"seq":5,"readings":[{"metric":"spo2","val', expect: [/not valid JSON/] },
      { topic: telemetry, payload: Buffer.from([0xff, 0xfe, 0xfd, 0x00]), expect: [/not valid UTF-8/] },
      { topic: telemetry, payload: Buffer.alloc(10 * 1024 * 1024, 0x7b), expect: [/exceeds the limit of 65536 bytes/] },
      { topic: telemetry, payload: JSON.stringify({ seq: 6, readings: [] }), expect: [/must not be empty/] },
      {
        topic: telemetry,
        payload: JSON.stringify({ seq: -1, readings: [{ metric: 'spo2', value: 97 }] }),
        expect: [/seq must be a non-negative integer/],
      },
      {
        topic: telemetry,
        payload: JSON.stringify({ ts: 'today', readings: [{ metric: 'spo2', value: 97 }] }),
        expect: [/ts must be an ISO-8601/],
      },
      {
        topic: telemetry,
        payload: JSON.stringify({ deviceId: cgm.id, readings: [{ metric: 'spo2', value: 97 }] }),
        expect: [/does not match the topic/],
      },
      {
        topic: telemetry,
        payload: JSON.stringify({
          seq: 1042,
          readings: [
            { metric: 'spo2', value: 97, ts: now - 1000 },
            { metric: 'glucose', value: 100, unit: 'mg' },
            { metric: 'cholesterol', value: 1 },
            { metric: 'spo2', value: 140 },
            { metric: 'heart_rate', value: 'NaN' },
            { metric: 'heart_rate', value: 60, ts: now + 3_600_000 },
            { metric: 'heart_rate', value: 60, ts: now - 40 * 86_400_000 },
          ],
        }),
        expect: [
          /unit 'mg' not convertible to mg\/dL/,
          /unknown metric 'cholesterol'/,
          /outside the plausible range/,
          /finite number/,
          /in the future/,
          /older than the backfill limit/,
        ],
      },
      { topic: topics.status(oximeter.id), payload: JSON.stringify({ battery: 300 }), expect: [/battery must be/] },
    ];
    for (const c of cases) await device.publishAsync(c.topic, c.payload, { qos: 1 });
    const expected = cases.reduce((n, c) => n + c.expect.length, 0);
    const rows = await waitFor(async () => {
      const r = await rejectionsOf(oximeter.id);
      return r.length >= expected ? r : undefined;
    }, `${expected} dead letters`);
    expect(rows).toHaveLength(expected);
    const reasons = rows.map((r) => r.reason);
    for (const pattern of cases.flatMap((c) => c.expect)) expect(reasons.some((r) => pattern.test(r))).toBe(true);
    const big = rows.find((r) => /exceeds the limit/.test(r.reason))!;
    expect(big).toMatchObject({ payload_size: 10 * 1024 * 1024, truncated: true });
    const partial = rows.filter((r) => r.seq === '1042');
    expect(partial.map((r) => r.reading_index)).toEqual([1, 2, 3, 4, 5, 6]);
    // The one valid reading of the partial message was stored.
    await waitFor(
      async () => (await readingsOf(oximeter.id)).some((r) => r.metric === 'spo2' && r.time.getTime() === now - 1000),
      'the valid reading of a partial message',
    );

    const replies = await waitFor(
      () => (errors.length >= cases.length ? errors : undefined),
      'one errors reply per refused message',
    );
    expect(replies.every((m) => m.topic === topics.errors(oximeter.id))).toBe(true);
    const reply = replies.find((m) => (m.body as { seq?: number }).seq === 1042)!.body as {
      seq: number;
      errors: { index?: number; reason: string }[];
    };
    expect(reply.errors.map((e) => e.index)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(reply.errors[0].reason).toBe("unit 'mg' not convertible to mg/dL");
    const jsonReply = replies.find((m) => /not valid JSON/.test(JSON.stringify(m.body)))!.body as {
      errors: { index?: number }[];
    };
    expect(jsonReply.errors[0].index).toBeUndefined();
  });

  it('dead-letters unknown, spoofed and decommissioned devices without storing anything', async () => {
    const unknown = '11111111-2222-4333-8444-555555555555';
    const body = JSON.stringify({ readings: [{ metric: 'glucose', value: 100 }] });
    await device.publishAsync(topics.telemetry(unknown), body, { qos: 1 });
    await device.publishAsync(topics.telemetry('not-a-uuid'), body, { qos: 1 });
    await device.publishAsync(topics.telemetry(retired.id), body, { qos: 1 });
    const rows = await waitFor(async () => {
      const r: { device_id: string; reason: string }[] = await db.dataSource.query(
        `SELECT device_id, reason FROM ingest_rejections WHERE device_id = ANY($1) ORDER BY id`,
        [[unknown, 'not-a-uuid', retired.id]],
      );
      return r.length === 3 ? r : undefined;
    }, 'three device refusals');
    expect(rows).toEqual([
      { device_id: unknown, reason: 'unknown device' },
      { device_id: 'not-a-uuid', reason: 'device id in the topic is not a canonical (lowercase) UUID' },
      { device_id: retired.id, reason: 'device is decommissioned' },
    ]);
    expect(await readingsOf(retired.id)).toEqual([]);
  });

  it('keeps device status on the device row and publishes a device event on change (last will included)', async () => {
    const events = await collectMessages(observer, `${topics.root}/events/patients/+/devices`);
    await device.publishAsync(
      topics.status(cgm.id),
      JSON.stringify({
        battery: 14,
        online: true,
        firmware: '2.3.1',
        rssi: -71,
        sensorExpiresAt: '2026-11-30T00:00:00Z',
      }),
      { qos: 1 },
    );
    // A device's last will, as the broker publishes it when the device vanishes.
    const will = await connectMqtt(rig.broker.url, {
      will: { topic: topics.status(cgm.id), payload: Buffer.from('{"online":false}'), qos: 1, retain: false },
    });
    will.stream.destroy();
    const offline = await waitFor(
      () => events.find((e) => (e.body as { online: boolean }).online === false),
      'the offline event',
    );
    expect(offline.topic).toBe(topics.patientDevices(cgm.patientId));
    expect(offline.body).toMatchObject({ patientId: cgm.patientId, deviceId: cgm.id, online: false, battery: 14 });
    const online = events.find((e) => (e.body as { online: boolean }).online === true)!;
    expect(online.body).toMatchObject({
      patientId: cgm.patientId,
      deviceId: cgm.id,
      online: true,
      battery: 14,
      lastSeenAt: expect.any(String),
    });
    interface DeviceRow {
      battery: number;
      online: boolean;
      firmware: string;
      rssi: number;
      sensor_expires_at: Date;
      last_seen_at: Date | null;
    }
    const row = await waitFor(async () => {
      const [r] = await db.dataSource.query<DeviceRow[]>(
        `SELECT battery, online, firmware, rssi, sensor_expires_at, last_seen_at FROM devices WHERE id = $1`,
        [cgm.id],
      );
      return r && r.online === false && r.battery === 14 ? r : undefined;
    }, 'the status on the device row');
    expect(row).toMatchObject({ firmware: '2.3.1', rssi: -71, sensor_expires_at: new Date('2026-11-30T00:00:00Z') });
    expect(row.last_seen_at).not.toBeNull();
  });

  it('serves Prometheus metrics on its own port', async () => {
    const port = ingest.get(IngestService).metricsPort!;
    const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    expect(text).toMatch(/lantern_ingest_readings_accepted_total \d+/);
    expect(text).toMatch(/lantern_ingest_rejections_total\{reason="invalid_unit",scope="reading"\} [1-9]/);
    expect(text).toMatch(/lantern_ingest_batch_size_bucket\{le="[^"]+",writer="readings"\}/);
    expect(text).toMatch(/lantern_ingest_commit_seconds_count\{writer="readings"\} [1-9]/);
    expect(text).toMatch(/lantern_ingest_ack_lag_seconds_count [1-9]/);
    expect(text).toMatch(/lantern_ingest_pending_messages \d+/);
    expect(text).toMatch(/lantern_ingest_queue_depth\{writer="readings"\} \d+/);

    // The streaming core (contract §3.6): evaluation latency per reading (one in EVALUATION_TIMED_EVERY
    // timed, the first of all among them), and alerts by priority.
    const streaming = ingest.get(AlertStreamingService);
    const evaluations = /lantern_ingest_alert_evaluation_seconds_count (\d+)/.exec(text);
    expect(Number(evaluations?.[1])).toBeGreaterThan(0);
    expect(Number(evaluations?.[1])).toBe(Math.ceil(streaming.evaluated / EVALUATION_TIMED_EVERY));
    expect(text).toMatch(/lantern_ingest_alert_evaluation_seconds_bucket\{le="0\.00001"\} \d+/);
    const { engine } = ingest.get(StreamingCore);
    const counts = engine.activeAlertCounts();
    for (const priority of ['high', 'medium', 'low'] as const) {
      for (const state of ['open', 'acknowledged'] as const) {
        expect(text).toContain(
          `lantern_ingest_active_alerts{priority="${priority}",state="${state}"} ${counts[priority][state]}\n`,
        );
      }
    }
    const held = engine.activeAlerts();
    expect(held.length).toBeGreaterThan(0);
    const medium = held.filter((a) => a.priority === 'medium' && a.state === 'open').length;
    expect(text).toContain(`lantern_ingest_active_alerts{priority="medium",state="open"} ${medium}\n`);
  });
});
