import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { INestApplicationContext } from '@nestjs/common';
import type { MqttClient } from 'mqtt';
import type { PatientNotificationResource } from '@lantern/domain';
import { topicsFor, type Topics } from '@lantern/messaging';
import { PatientNotificationRepository } from '@lantern/storage';
import { ingestEnvironment, startIngest } from '../ingest/ingest-fixture.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { TestData } from '../support/builders.js';
import { connectMqtt } from '../support/mqtt.js';
import { waitFor } from '../support/wait.js';

/**
 * A scripted hypoglycaemia night through the real ingest (Mosquitto → ingest → PostgreSQL): a CGM
 * every 5 minutes, steady, then falling fast, low, urgent low, and recovery. Spec/alerting.md §5
 * asks that such an episode reach the patient as ONE thread that is updated; the count of separate
 * patient messages per episode is reported (docs/alerting.md, "One episode, one thread").
 */
export const HYPO_NIGHT_MG_DL = [
  160, 158, 156, 150, 135, 118, 100, 84, 70, 62, 55, 50, 47, 46, 49, 56, 66, 78, 92, 105, 116, 124, 128,
];

describe('a hypoglycaemia night (spec/alerting.md §5: one episode, one thread)', () => {
  let db: TestDatabase;
  let ingest: INestApplicationContext;
  let device: MqttClient;
  let topics: Topics;
  let patient: string;
  let cgm: string;
  /** The `notification` events the ingest emitted for the patient, in order. */
  const events: PatientNotificationResource[] = [];

  beforeAll(async () => {
    db = await createTestDatabase();
    const root = `test-hypo-${Math.random().toString(16).slice(2, 10)}/v1`;
    topics = topicsFor(root);
    const data = new TestData(db.dataSource);
    patient = await data.patient('Ada');
    cgm = await data.device(patient, 'cgm');
    ingest = await startIngest(
      ingestEnvironment({
        databaseUrl: db.url,
        mqttUrl: process.env.MQTT_URL!,
        topicRoot: root,
        extra: { SIGNAL_LOSS_SWEEP_MS: '600000' },
      }),
    );
    device = await connectMqtt(process.env.MQTT_URL!, { protocolVersion: 5 });
    await device.subscribeAsync(topics.patientNotifications(patient), { qos: 1 });
    device.on('message', (_topic, payload) =>
      events.push(JSON.parse(payload.toString('utf8')) as PatientNotificationResource),
    );
    // The night as it happened: one message per reading, 5 minutes of event time apart, ending now.
    const start = Date.now() - HYPO_NIGHT_MG_DL.length * 5 * 60_000;
    for (const [i, value] of HYPO_NIGHT_MG_DL.entries())
      await device.publishAsync(
        topics.telemetry(cgm),
        JSON.stringify({
          seq: i + 1,
          readings: [{ metric: 'glucose', value, unit: 'mg/dL', ts: new Date(start + i * 5 * 60_000).toISOString() }],
        }),
        { qos: 1 },
      );
    await waitFor(
      async () =>
        (
          await db.dataSource.query<{ n: number }[]>(`SELECT count(*)::int AS n FROM readings WHERE device_id = $1`, [
            cgm,
          ])
        )[0].n === HYPO_NIGHT_MG_DL.length,
      'every reading stored',
    );
    // Every alert the night raised has resolved (the low ones by themselves; urgent low latches).
    await waitFor(
      async () =>
        (
          await db.dataSource.query<{ n: number }[]>(
            `SELECT count(*)::int AS n FROM alerts WHERE patient_id = $1 AND cleared_at IS NULL AND state = 'open'`,
            [patient],
          )
        )[0].n === 0,
      'the episode over',
    );
  }, 60_000);

  afterAll(async () => {
    await device?.endAsync();
    await ingest?.close();
    await db?.drop();
  });

  it('reaches the patient as one thread that is updated, not as a message per alert', async () => {
    const alerts = await db.dataSource.query<{ rule: string }[]>(
      `SELECT rule FROM alerts WHERE patient_id = $1 ORDER BY opened_at, rule`,
      [patient],
    );
    const messages = await db.dataSource.query<{ n: number; threads: number }[]>(
      `SELECT count(*)::int AS n, count(DISTINCT coalesce(thread_id, id))::int AS threads
         FROM patient_notifications WHERE patient_id = $1`,
      [patient],
    );
    // Before threads (issue 16), each of these alerts was a separate patient message: 3 for this night.
    expect(alerts.map((a) => a.rule)).toEqual([
      'glucose.falling_fast',
      'glucose.urgent_low_soon',
      'glucose.urgent_low',
    ]);
    expect(messages[0]).toEqual({ n: 3, threads: 1 });

    // What the patient reads: one item, its latest words, two updates, the whole story in order.
    const page = await new PatientNotificationRepository(db.dataSource).listForPatient(patient, {
      limit: 50,
      offset: 0,
    });
    expect(page.total).toBe(1);
    expect(page.items).toHaveLength(1);
    const thread = page.items[0];
    expect(thread.updates).toBe(2);
    expect(thread.history).toHaveLength(3);
    expect(thread.id).toBe(thread.history[0].id);
    expect(thread.severity).toBe('urgent');
    expect(thread.updatedAt).toBeGreaterThanOrEqual(thread.createdAt);

    // Live: the first event starts the thread, the next two say they update it (same id).
    await waitFor(() => events.length >= 3, 'three notification events');
    expect(events.map((e) => e.id)).toEqual([thread.id, thread.id, thread.id]);
    expect(events.map((e) => e.update ?? false)).toEqual([false, true, true]);

    // Reading the thread reads every message in it; it is one item, read.
    const read = await new PatientNotificationRepository(db.dataSource).markRead(patient, thread.id, Date.now());
    expect(read?.readAt).not.toBeNull();
    expect(
      (
        await new PatientNotificationRepository(db.dataSource).listForPatient(patient, {
          limit: 50,
          offset: 0,
          unreadOnly: true,
        })
      ).total,
    ).toBe(0);
  });
});
