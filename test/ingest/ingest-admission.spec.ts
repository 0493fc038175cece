import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { INestApplicationContext, LoggerService } from '@nestjs/common';
import type { MqttClient } from 'mqtt';
import type { AlertResource, Reading } from '@lantern/domain';
import type { Topics } from '@lantern/messaging';
import { startIngestRig, type IngestRig } from '../support/boot.js';
import type { TestDatabase } from '../support/database.js';
import { waitFor } from '../support/wait.js';
import { startIngest, type SeededDevice } from './ingest-fixture.js';
import { ReadingStream } from '../../apps/ingest/src/pipeline/reading.stream.js';
import { IngestService } from '../../apps/ingest/src/ingest.service.js';

const MIN = 60_000;

/**
 * Admission hardening end to end (real Mosquitto and PostgreSQL): readings a device cannot have
 * produced (too frequent, a metric its type does not measure), times no Date can hold and text
 * PostgreSQL refuses are dead-lettered with a clear reason, one reading at a time, while everything
 * else — the rest of the message, other devices — goes on.
 */
describe('ingest admission (real Mosquitto and PostgreSQL)', () => {
  let rig: IngestRig;
  let db: TestDatabase;
  let ingest: INestApplicationContext;
  let device: MqttClient;
  let topics: Topics;
  let flooder: SeededDevice;
  let neighbour: SeededDevice;
  let oximeter: SeededDevice;
  const streamed: Reading[] = [];
  const alerts: AlertResource[] = [];
  const loggedErrors: string[] = [];

  beforeAll(async () => {
    rig = await startIngestRig('admission');
    ({ db, topics } = rig);
    flooder = await rig.data.patientWithDevice('cgm');
    neighbour = await rig.data.patientWithDevice('cgm');
    oximeter = await rig.data.patientWithDevice('pulse_oximeter');
    // Every refused reading kept as its own row here (dead-letter-volume.spec.ts covers the budget).
    ingest = await startIngest(rig.env({ INGEST_DEAD_LETTER_BUDGET: String(64 * 1024 * 1024) }));
    const capture: LoggerService = {
      log: () => undefined,
      warn: () => undefined,
      error: (message: unknown) => loggedErrors.push(String(message)),
      fatal: (message: unknown) => loggedErrors.push(String(message)),
    };
    ingest.useLogger(capture);
    ingest.get(ReadingStream).readings$.subscribe((r) => streamed.push(r));
    await rig.observe(alerts);
    device = await rig.connect();
  });

  afterAll(async () => {
    await ingest?.close();
    await rig?.close();
  });

  const storedTimes = async (deviceId: string, metric?: string): Promise<number[]> =>
    (
      await db.dataSource.query<{ t: Date }[]>(
        `SELECT time AS t FROM readings WHERE device_id = $1 AND ($2::text IS NULL OR metric = $2) ORDER BY time`,
        [deviceId, metric ?? null],
      )
    ).map((r) => r.t.getTime());
  const deadLetters = async (deviceId: string): Promise<{ reason: string; reading_index: number | null }[]> =>
    db.dataSource.query(`SELECT reason, reading_index FROM ingest_rejections WHERE device_id = $1 ORDER BY id`, [
      deviceId,
    ]);
  const metricsText = async (): Promise<string> =>
    (await fetch(`http://127.0.0.1:${ingest.get(IngestService).metricsPort!}/metrics`)).text();

  it('stores 1 of 1000 glucose readings 1 ms apart and dead-letters 999 as too_frequent; another device is stored and evaluated meanwhile', async () => {
    const t0 = Date.now() - 30 * MIN;
    const flood = (k: number) =>
      JSON.stringify({
        seq: k,
        readings: Array.from({ length: 1000 }, (_, i) => ({ metric: 'glucose', value: 110, ts: t0 + k * 1000 + i })),
      });
    // Five floods (5000 readings within 5 s of event time) interleaved with a neighbour's fall to 45 mg/dL.
    const published: Promise<unknown>[] = [];
    for (let k = 0; k < 5; k++) {
      published.push(device.publishAsync(topics.telemetry(flooder.id), flood(k), { qos: 1 }));
      published.push(
        device.publishAsync(
          topics.telemetry(neighbour.id),
          JSON.stringify({ readings: [{ metric: 'glucose', value: 110 - 16 * k, ts: t0 + k * 5 * MIN }] }),
          { qos: 1 },
        ),
      );
    }
    await Promise.all(published);

    // The neighbour: every reading stored and evaluated (urgent low at 46 mg/dL opened).
    const urgent = await waitFor(
      () => alerts.find((a) => a.deviceId === neighbour.id && a.rule === 'glucose.urgent_low'),
      "the neighbour's urgent-low alert",
    );
    expect(urgent).toMatchObject({ patientId: neighbour.patientId, value: 46, state: 'open' });
    await waitFor(async () => (await storedTimes(neighbour.id)).length === 5, "the neighbour's five readings");

    // The flooder: the first reading of the first message only; each later flood starts 1 s after it,
    // less than glucose's 55 s, so all of them are refused too.
    const rows = await waitFor(async () => {
      const r = await deadLetters(flooder.id);
      return r.length >= 4999 ? r : undefined;
    }, '4999 dead letters');
    expect(rows).toHaveLength(4999);
    expect(await storedTimes(flooder.id)).toEqual([t0]);
    expect(streamed.filter((r) => r.deviceId === flooder.id).map((r) => r.time)).toEqual([t0]);
    expect(rows[0]).toEqual({
      reading_index: 1,
      reason:
        `glucose at ${new Date(t0 + 1).toISOString()} is 1 ms after the one at ${new Date(t0).toISOString()}; ` +
        'glucose readings must be at least 55000 ms apart',
    });
    expect(rows.slice(0, 999).map((r) => r.reading_index)).toEqual(Array.from({ length: 999 }, (_, i) => i + 1));
    expect(await metricsText()).toMatch(
      /^lantern_ingest_rejections_total\{reason="too_frequent",scope="reading"\} 4999$/m,
    );
  });

  it('dead-letters a metric the device type does not measure as metric_not_for_device, and stores the rest', async () => {
    const t = Date.now() - MIN;
    await device.publishAsync(
      topics.telemetry(oximeter.id),
      JSON.stringify({
        seq: 7,
        readings: [
          { metric: 'spo2', value: 97, ts: t },
          { metric: 'glucose', value: 100, ts: t },
        ],
      }),
      { qos: 1 },
    );
    const rows = await waitFor(async () => {
      const r = await deadLetters(oximeter.id);
      return r.length > 0 ? r : undefined;
    }, 'the dead letter');
    expect(rows).toEqual([
      { reading_index: 1, reason: 'device type pulse_oximeter (Pulse oximeter) does not measure glucose' },
    ]);
    await waitFor(async () => (await storedTimes(oximeter.id, 'spo2')).includes(t), 'the spo2 reading');
    expect(await storedTimes(oximeter.id, 'glucose')).toEqual([]);
    expect(await metricsText()).toMatch(
      /^lantern_ingest_rejections_total\{reason="metric_not_for_device",scope="reading"\} 1$/m,
    );
  });

  it('"ts": 1e17 refuses that reading only: the others of the message are stored, and nothing is logged as an error', async () => {
    const t = Date.now() - 2 * MIN;
    const before = (await deadLetters(oximeter.id)).length;
    await device.publishAsync(
      topics.telemetry(oximeter.id),
      `{"seq":8,"readings":[{"metric":"heart_rate","value":71,"ts":${t}},{"metric":"heart_rate","value":72,"ts":1e17},` +
        `{"metric":"spo2","value":96,"ts":${t}}]}`,
      { qos: 1 },
    );
    const rows = await waitFor(async () => {
      const r = await deadLetters(oximeter.id);
      return r.length > before ? r.slice(before) : undefined;
    }, 'the dead letter');
    expect(rows).toEqual([
      {
        reading_index: 1,
        reason: 'ts must lie between 2000-01-01T00:00:00.000Z and 9999-12-31T23:59:59.999Z; got 100000000000000000',
      },
    ]);
    await waitFor(async () => (await storedTimes(oximeter.id, 'heart_rate')).includes(t), 'the heart rate');
    expect(await storedTimes(oximeter.id, 'spo2')).toContain(t);
    expect(loggedErrors).toEqual([]);
  });

  it('dead-letters a status whose firmware holds U+0000 with a clear reason, and applies the next good status', async () => {
    const firmware = async (): Promise<string | null> =>
      (
        await db.dataSource.query<{ firmware: string | null }[]>(`SELECT firmware FROM devices WHERE id = $1`, [
          oximeter.id,
        ])
      )[0].firmware;
    const before = (await deadLetters(oximeter.id)).length;
    await device.publishAsync(topics.status(oximeter.id), '{"firmware":"2.\\u00001","battery":80}', { qos: 1 });
    await device.publishAsync(topics.status(oximeter.id), '{"firmware":"2.4.0","battery":79}', { qos: 1 });
    await waitFor(async () => (await firmware()) === '2.4.0', 'the good status on the device row');
    const rows = (await deadLetters(oximeter.id)).slice(before);
    expect(rows).toEqual([
      { reading_index: null, reason: 'firmware contains the control character U+0000 at index 2' },
    ]);
    // An unknown metric name with U+0000 is refused as text too, and echoed escaped in the stored reason.
    await device.publishAsync(
      topics.telemetry(oximeter.id),
      `{"readings":[{"metric":"sp\\u0000o2","value":97,"ts":${Date.now() - 3 * MIN}}]}`,
      { qos: 1 },
    );
    const escaped = await waitFor(async () => {
      const r = (await deadLetters(oximeter.id)).slice(before + 1);
      return r.length > 0 ? r : undefined;
    }, 'the dead letter of the metric name');
    expect(escaped).toEqual([
      { reading_index: 0, reason: "metric 'sp\\u0000o2' contains the control character U+0000 at index 2" },
    ]);
    expect(loggedErrors).toEqual([]);
  });
});
