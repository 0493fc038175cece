import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { INestApplicationContext } from '@nestjs/common';
import type { MqttClient } from 'mqtt';
import { acknowledgedNotificationText, effectiveRules, notificationCause, toAlertResource } from '@lantern/alerting';
import { topicsFor } from '@lantern/messaging';
import { AlertRepository, idFromCause } from '@lantern/storage';
import { ADMIN_EMAIL, ADMIN_PASSWORD, startApi, type ApiFixture } from '../api/api-fixture.js';
import { bodyOf } from '../support/http.js';
import { connectMqtt, uniqueTopicRoot } from '../support/mqtt.js';
import { waitFor } from '../support/wait.js';
import { ingestEnvironment, seedDevice, startIngest, type SeededDevice } from '../ingest/ingest-fixture.js';
import { AlertOutputWriter } from '../../apps/ingest/src/alerting/alert-output.writer.js';
import type { AlertDto, NotificationPageDto } from '../../apps/api/src/alerts/alert.dto.js';
import { useSpecGlucoseRules } from '../support/spec-glucose-rules.js';

const MIN = 60_000;
const auth = (token: string) => ({ Authorization: `Bearer ${token}` });

/**
 * One owner of the alert lifecycle: the api's acknowledge reaches libs/alerting as a command and the
 * stored row and the patient's words are what it decided; when the streaming core meets the row
 * changed under it, libs/alerting reconciles (no latching rule in SQL).
 */
describe('alert lifecycle: one owner, libs/alerting', () => {
  let api: ApiFixture;
  let ingest: INestApplicationContext;
  let device: MqttClient;
  let admin: string;
  let adminId: string;
  let cgm: SeededDevice;
  let ingestRoot: string;

  beforeAll(async () => {
    api = await startApi();
    admin = await api.login(ADMIN_EMAIL, ADMIN_PASSWORD);
    [{ id: adminId }] = await api.db.query<{ id: string }[]>(`SELECT id::text FROM users WHERE email = $1`, [
      ADMIN_EMAIL,
    ]);
    cgm = await seedDevice(api.db, 'cgm');
    // Written against spec §4's glucose parameters (glucose.low opens beside urgent_low, not covered by it).
    await useSpecGlucoseRules(api.db, cgm.patientId);
    // The ingest listens under another topic root: the api's alert-changed announcements never reach
    // it, as when one is lost — the core meets the changed row when it next writes.
    ingestRoot = uniqueTopicRoot('one-owner');
    ingest = await startIngest(
      ingestEnvironment({
        databaseUrl: (api.db.options as { url: string }).url,
        mqttUrl: api.mqttUrl,
        topicRoot: ingestRoot,
        extra: {
          SIGNAL_LOSS_SWEEP_MS: '600000',
          // Nobody listens there: the outbox keeps what it was given, which is what this test reads.
          ALERT_WEBHOOK_URL: 'http://127.0.0.1:9/hook',
          ALERT_WEBHOOK_SECRET: 'webhook-secret-0123456789',
        },
      }),
    );
    device = await connectMqtt(api.mqttUrl, { protocolVersion: 5 });
  });

  afterAll(async () => {
    await device?.endAsync();
    await ingest?.close();
    await api?.close();
  });

  async function publishGlucose(value: number, ts: number): Promise<void> {
    await device.publishAsync(
      topicsFor(ingestRoot).telemetry(cgm.id),
      JSON.stringify({ ts: new Date(ts).toISOString(), readings: [{ metric: 'glucose', value }] }),
      { qos: 1 },
    );
  }

  it('acknowledge: the stored row and the notification are decided by libs/alerting; a clear the core saw meanwhile resolves it', async () => {
    const t = Date.now() - 10 * MIN;
    await publishGlucose(50, t);
    const alerts = new AlertRepository(api.db);
    const urgent = await waitFor(
      async () =>
        (await alerts.findActive()).find((a) => a.patientId === cgm.patientId && a.rule === 'glucose.urgent_low'),
      'glucose.urgent_low stored',
    );

    const before = Date.now();
    const res = await api.http
      .post(`/api/v1/alerts/${urgent.id}/acknowledge`)
      .set(auth(admin))
      .send({ note: 'called' });
    expect(res.status).toBe(200);
    const acknowledged = bodyOf<AlertDto>(res);
    const row = (await alerts.findById(urgent.id))!;
    expect(row.acknowledgedAt).toBeGreaterThanOrEqual(before);
    // Exactly acknowledgeAlert of libs/alerting on the row as it was, nothing else changed.
    expect(row).toEqual({
      ...urgent,
      state: 'acknowledged',
      acknowledgedAt: row.acknowledgedAt,
      acknowledgedBy: adminId,
      acknowledgeNote: 'called',
    });
    expect(acknowledged).toEqual(toAlertResource(row));
    const rule = effectiveRules().find((r) => r.key === 'glucose.urgent_low')!;
    const words = acknowledgedNotificationText(rule, { value: 50, deviceType: 'cgm' });
    const [notification] = await api.db.query<{ id: string; kind: string; title: string; body: string }[]>(
      `SELECT id::text, kind, title, body FROM patient_notifications WHERE alert_id = $1 AND kind = 'alert_acknowledged'`,
      [urgent.id],
    );
    expect(notification).toEqual({
      id: idFromCause(notificationCause(urgent.id, 'acknowledged')),
      kind: words.kind,
      title: words.title,
      body: words.body,
    });
    expect(notification.body).toBe(
      'Your care team has seen the alert: your glucose (blood sugar) is very low. Please keep following your care plan.',
    );

    // The core still holds the alert as open (it never heard of the acknowledgement) and sees it clear.
    await publishGlucose(100, t + 5 * MIN);
    await waitFor(
      async () => ((await alerts.findById(urgent.id))?.state === 'resolved' ? true : undefined),
      'the acknowledged alert resolved by the clear',
    );
    await ingest.get(AlertOutputWriter).drained();
    const resolved = (await alerts.findById(urgent.id))!;
    expect(resolved).toMatchObject({
      state: 'resolved',
      acknowledgedBy: adminId,
      clearedAt: t + 5 * MIN,
      resolvedBy: null,
    });
    // clearedAt is the clearing reading's event time; resolvedAt the wall clock, never before the acknowledgement.
    expect(resolved.resolvedAt!).toBeGreaterThanOrEqual(row.acknowledgedAt!);
    // Announced as what it is, a resolution — not as the "cleared" the core first decided.
    const deliveries = await api.db.query<{ event: string; body: string }[]>(
      `SELECT event, body FROM webhook_deliveries ORDER BY seq`,
    );
    const aboutUrgent = deliveries
      .filter((d) => (JSON.parse(d.body) as { alert: { id: string } }).alert.id === urgent.id)
      .map((d) => d.event);
    expect(aboutUrgent).toEqual(['alert.opened', 'alert.resolved']);

    // The patient heard of the alert once and of the acknowledgement once.
    const patientUser = await api.http.post('/api/v1/users').set(auth(admin)).send({
      email: 'owner@home.test',
      password: 'a-long-password-1',
      role: 'patient',
      displayName: 'Owner',
      patientId: cgm.patientId,
    });
    expect(patientUser.status).toBe(201);
    const mine = bodyOf<NotificationPageDto>(
      await api.http
        .get('/api/v1/me/notifications')
        .set(auth(await api.login('owner@home.test', 'a-long-password-1')))
        .expect(200),
    );
    // One episode, one thread (spec/alerting.md §5): the low, the very low and the acknowledgement
    // are one message the patient sees updated, its latest words the acknowledgement's.
    expect(mine.items).toHaveLength(1);
    expect(mine.items[0]).toMatchObject({ title: 'Your care team has seen your alert', updates: 2 });
    expect((mine.items[0].history ?? []).map((n) => n.title).sort()).toEqual([
      'Your care team has seen your alert',
      'Your glucose (blood sugar) is low',
      'Your glucose (blood sugar) is very low',
    ]);
  });
});
