import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { INestApplicationContext } from '@nestjs/common';
import type { MqttClient } from 'mqtt';
import request from 'supertest';
import type { Principal } from '@lantern/auth';
import type { NotificationSeverity, PatientNotificationResource } from '@lantern/domain';
import { topicsFor, type Topics } from '@lantern/messaging';
import { PatientNotificationRepository } from '@lantern/storage';
import type { PatientSettingsDto } from '../../apps/api/src/settings/settings.dto.js';
import type { NotificationPageDto } from '../../apps/api/src/alerts/alert.dto.js';
import { startTcpProxy, type TcpProxy } from '../../bench/src/infra/tcp-proxy.js';
import { QuietHoursReleaseService } from '../../apps/ingest/src/alerting/quiet-hours-release.service.js';
import { ingestEnvironment, startIngest } from '../ingest/ingest-fixture.js';
import { TestData } from '../support/builders.js';
import { startLiveStack, type ApiFixture, type LiveStack } from '../support/boot.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { connectMqtt } from '../support/mqtt.js';
import { bodyOf } from '../support/http.js';
import { waitFor } from '../support/wait.js';
import { ask, connectLive, record, type LiveClient } from '../live/live-fixture.js';

/** Wall-clock time of `at` in `timeZone`, 'HH:MM' or with seconds 'HH:MM:SS'. */
function wallTime(at: number, timeZone: string, seconds = false): string {
  return new Intl.DateTimeFormat('en-GB', {
    timeZone,
    hourCycle: 'h23',
    hour: '2-digit',
    minute: '2-digit',
    ...(seconds && { second: '2-digit' }),
  }).format(at);
}

const ZONE = 'America/New_York';

/**
 * Quiet hours (spec/alerting.md §5) through the real stack: Mosquitto → ingest → PostgreSQL →
 * Mosquitto → api → the patient's socket. A low-priority message created inside the patient's
 * window is held (not on the socket, not listed) until the window ends, then arrives once; an
 * urgent one in the same window arrives at once.
 */
describe('quiet hours: low-priority patient messages wait, urgent ones never do', () => {
  let stack: LiveStack;
  let db: TestDatabase;
  let api: ApiFixture;
  let device: MqttClient;
  let topics: Topics;
  let patient: string;
  let cgm: string;
  let patientUser: Principal;
  let clinician: Principal;
  let caregiver: Principal;
  let patientToken: string;
  const sockets: LiveClient[] = [];
  // The api points DATABASE_URL at this file's database; the next block needs the server's again.
  const serverUrl = process.env.DATABASE_URL;

  beforeAll(async () => {
    stack = await startLiveStack(
      async (data) => {
        patient = await data.patient('Ada');
        cgm = await data.device(patient, 'cgm');
        patientUser = await data.user('patient', patient);
        clinician = await data.user('clinician');
        caregiver = await data.user('caregiver');
        await data.careTeam(patient, clinician.userId);
      },
      { ingestEnv: { QUIET_HOURS_RELEASE_MS: '300' } },
    );
    ({ db, api, device, topics } = stack);
    patientToken = await api.token(patientUser);
  });

  afterAll(async () => {
    for (const s of sockets) s.close();
    await stack?.close();
    process.env.DATABASE_URL = serverUrl;
  });

  const put = (token: string | undefined, body: unknown): request.Test => {
    const req = request(api.url)
      .put('/api/v1/me/settings')
      .send(body as object);
    return token === undefined ? req : req.set('Authorization', `Bearer ${token}`);
  };

  it('GET and PUT /me/settings: defaults, validation (400 saying why), roles (403), audit', async () => {
    const initial = await request(api.url).get('/api/v1/me/settings').set('Authorization', `Bearer ${patientToken}`);
    expect(initial.status).toBe(200);
    expect(bodyOf<PatientSettingsDto>(initial)).toEqual({ quietHours: null, updatedAt: null });

    const bad: [unknown, RegExp][] = [
      [{ quietHours: { start: '7:00', end: '22:00', timeZone: ZONE } }, /start must be a time as HH:MM/],
      [{ quietHours: { start: '22:00', end: '24:00', timeZone: ZONE } }, /end must be a time as HH:MM/],
      [{ quietHours: { start: '22:00', end: '22:00', timeZone: ZONE } }, /must differ/],
      [{ quietHours: { start: '22:00', end: '07:00', timeZone: 'Mars/Olympus' } }, /IANA time zone/],
      [{ quietHours: { start: '22:00', end: '07:00' } }, /timeZone/],
      [{}, /quietHours/],
      [{ quietHours: null, extra: 1 }, /extra/],
    ];
    for (const [body, message] of bad) {
      const res = await put(patientToken, body);
      expect({ body, status: res.status }).toEqual({ body, status: 400 });
      expect(JSON.stringify(res.body)).toMatch(message);
    }

    for (const who of [clinician, caregiver]) {
      const token = await api.token(who);
      expect((await put(token, { quietHours: null })).status).toBe(403);
      expect((await request(api.url).get('/api/v1/me/settings').set('Authorization', `Bearer ${token}`)).status).toBe(
        403,
      );
    }
    expect((await put(undefined, { quietHours: null })).status).toBe(401);

    // Across midnight is the usual window; the zone is stored by its canonical name.
    const saved = await put(patientToken, { quietHours: { start: '22:00', end: '07:00', timeZone: 'europe/paris' } });
    expect(saved.status).toBe(200);
    expect(bodyOf<PatientSettingsDto>(saved).quietHours).toEqual({
      start: '22:00',
      end: '07:00',
      timeZone: 'Europe/Paris',
    });
    const read = await request(api.url).get('/api/v1/me/settings').set('Authorization', `Bearer ${patientToken}`);
    expect(bodyOf<PatientSettingsDto>(read).quietHours?.timeZone).toBe('Europe/Paris');
    const audit = await db.dataSource.query<{ action: string; patient_id: string }[]>(
      `SELECT action, patient_id::text FROM audit_log WHERE action = 'patient_settings.update'`,
    );
    expect(audit).toEqual([{ action: 'patient_settings.update', patient_id: patient }]);

    // null clears them.
    const cleared = await put(patientToken, { quietHours: null });
    expect(bodyOf<PatientSettingsDto>(cleared).quietHours).toBeNull();
  });

  it('holds a low battery message until the window ends while an urgent low arrives at once; then it arrives once', async () => {
    const now = Date.now();
    // A window around now in the patient's zone, set through the API...
    const saved = await put(patientToken, {
      quietHours: {
        start: wallTime(now - 2 * 3_600_000, ZONE),
        end: wallTime(now + 2 * 3_600_000, ZONE),
        timeZone: ZONE,
      },
    });
    expect(saved.status).toBe(200);
    // ...then ended a few seconds from now (the API takes whole minutes; the column takes seconds).
    const endsAt = Math.ceil((Date.now() + 12_000) / 1000) * 1000;
    await db.dataSource.query(`UPDATE patient_settings SET quiet_end = $2::time WHERE patient_id = $1`, [
      patient,
      wallTime(endsAt, ZONE, true),
    ]);

    const self = await connectLive(api.url, patientToken);
    sockets.push(self);
    const seen = record(self);
    expect(await ask(self, 'subscribe', { patientId: patient })).toEqual({ ok: true });

    // Low priority (device.battery_low, severity info): held.
    await device.publishAsync(topics.status(cgm), JSON.stringify({ battery: 12 }), { qos: 1 });
    const held = await waitFor(
      async () =>
        (
          await db.dataSource.query<{ id: string; deliver_at: Date | null; released_at: Date | null }[]>(
            `SELECT id::text, deliver_at, released_at FROM patient_notifications WHERE patient_id = $1 AND kind = 'battery_low'`,
            [patient],
          )
        )[0],
      'the battery message stored',
      10_000,
    );
    expect(held.deliver_at?.getTime()).toBe(endsAt);
    expect(held.released_at).toBeNull();

    // High priority (glucose.urgent_low, severity urgent) in the same window: at once.
    await device.publishAsync(
      topics.telemetry(cgm),
      JSON.stringify({
        seq: 1,
        readings: [{ metric: 'glucose', value: 2.5, unit: 'mmol/L', ts: new Date().toISOString() }],
      }),
      { qos: 1 },
    );
    const urgent = await waitFor(
      () => (seen.notification as PatientNotificationResource[]).find((n) => n.severity === 'urgent'),
      'the urgent message on the socket',
      10_000,
    );
    expect(urgent).toMatchObject({ kind: 'alert_opened', patientId: patient });
    expect(Date.now()).toBeLessThan(endsAt);
    const urgentRow = await db.dataSource.query<{ deliver_at: Date | null }[]>(
      `SELECT deliver_at FROM patient_notifications WHERE patient_id = $1 AND severity = 'urgent'`,
      [patient],
    );
    expect(urgentRow).toEqual([{ deliver_at: null }]);

    // Still inside the window: the battery message is neither on the socket nor listed.
    const list = async (): Promise<PatientNotificationResource[]> =>
      bodyOf<NotificationPageDto>(
        await request(api.url).get('/api/v1/me/notifications').set('Authorization', `Bearer ${patientToken}`),
      ).items;
    expect((await list()).map((n) => n.kind)).toEqual(['alert_opened']);
    expect(seen.notification.map((n) => (n as PatientNotificationResource).kind)).toEqual(['alert_opened']);
    expect(Date.now()).toBeLessThan(endsAt);

    // The window ends: the ingest publishes it, once, as a message of its own.
    const released = await waitFor(
      () => (seen.notification as PatientNotificationResource[]).find((n) => n.kind === 'battery_low'),
      'the held message on the socket',
      30_000,
    );
    expect(Date.now()).toBeGreaterThanOrEqual(endsAt);
    expect(released).toMatchObject({ id: held.id, severity: 'info', patientId: patient });
    expect(released.update).toBeUndefined();
    expect((await list()).map((n) => n.kind).sort()).toEqual(['alert_opened', 'battery_low']);
    // A few more release ticks: still exactly once.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(seen.notification.filter((n) => (n as PatientNotificationResource).kind === 'battery_low')).toHaveLength(1);
    const after = await db.dataSource.query<{ released_at: Date | null }[]>(
      `SELECT released_at FROM patient_notifications WHERE id = $1`,
      [held.id],
    );
    expect(after[0].released_at).not.toBeNull();
  }, 60_000);
});

describe('quiet hours: storage (no ingest running, so the test is the only one releasing)', () => {
  let db: TestDatabase;

  beforeAll(async () => {
    db = await createTestDatabase();
  });

  afterAll(async () => {
    await db?.drop();
  });

  it('keeps threads: an update of a held thread waits with it, an urgent one does not and supersedes it', async () => {
    const who = await new TestData(db.dataSource).patient('Dee');
    const repository = new PatientNotificationRepository(db.dataSource);
    const message = (severity: NotificationSeverity, threadId: string | null, deliverAt: number | null) => ({
      id: randomUUID(),
      patientId: who,
      kind: 'signal_lost' as const,
      severity,
      title: `${severity} message`,
      body: 'b',
      alertId: null,
      deviceId: null,
      createdAt: Date.now(),
      threadId,
      deliverAt,
    });
    const stored = async (id: string): Promise<{ deliver_at: Date | null; thread: string }> =>
      (
        await db.dataSource.query<{ deliver_at: Date | null; thread: string }[]>(
          `SELECT deliver_at, coalesce(thread_id, id)::text AS thread FROM patient_notifications WHERE id = $1`,
          [id],
        )
      )[0];
    const dueAt = Date.now() + 3_600_000;
    const first = message('info', null, dueAt);
    await repository.insertMany([first]);
    // "Back again" outside the window (no deliverAt of its own) joins the held thread: it waits with it.
    const update = message('info', first.id, null);
    await repository.insertMany([update]);
    expect(await stored(update.id)).toEqual({ deliver_at: new Date(dueAt), thread: first.id });
    const listed = async (): Promise<string[]> =>
      (await repository.listForPatient(who, { limit: 10, offset: 0 })).items.flatMap((t) => t.history.map((m) => m.id));
    expect(await listed()).toEqual([]);

    // An urgent message of the same thread is never held, even with a deliverAt.
    const urgent = message('urgent', first.id, dueAt);
    await repository.insertMany([urgent]);
    expect(await stored(urgent.id)).toEqual({ deliver_at: null, thread: first.id });
    expect(await listed()).toEqual([urgent.id]);
    // Nor is a later info message of a thread that had an urgent one.
    const after = message('info', first.id, dueAt);
    await repository.insertMany([after]);
    expect((await stored(after.id)).deliver_at).toBeNull();

    // Due: both held ones are released, superseded by the messages after them (not published),
    // and the thread lists its whole history in order.
    await db.dataSource.query(
      `UPDATE patient_notifications SET deliver_at = now() WHERE patient_id = $1 AND deliver_at IS NOT NULL`,
      [who],
    );
    const released = (await repository.releaseDue(500)).filter((n) => n.patientId === who);
    expect(released.map((n) => [n.id, n.threadId, n.superseded])).toEqual([
      [first.id, first.id, true],
      [update.id, first.id, true],
    ]);
    expect(await listed()).toEqual([first.id, update.id, urgent.id, after.id]);
  });

  it('two ingests releasing at once claim each due message exactly once', async () => {
    const other = await new TestData(db.dataSource).patient('Bea');
    await db.dataSource.query(
      `INSERT INTO patient_notifications (patient_id, kind, severity, title, body, created_at, deliver_at)
       SELECT $1, 'battery_low', 'info', 'Please charge ' || i, 'b', now() - interval '1 hour', now() - interval '1 second'
         FROM generate_series(1, 200) AS i`,
      [other],
    );
    const repository = new PatientNotificationRepository(db.dataSource);
    const claims = await Promise.all([0, 1, 2, 3].map(() => repository.releaseDue(60)));
    const ids = claims
      .flat()
      .filter((n) => n.patientId === other)
      .map((n) => n.id);
    const rest = (await repository.releaseDue(500)).filter((n) => n.patientId === other).map((n) => n.id);
    expect(new Set([...ids, ...rest]).size).toBe(200);
    expect(ids.length + rest.length).toBe(200);
    expect(await repository.releaseDue(500)).toEqual([]);
  });
});

describe('quiet hours: the release survives a database outage', () => {
  let db: TestDatabase;
  let proxy: TcpProxy;
  let ingest: INestApplicationContext;
  let listener: MqttClient;

  beforeAll(async () => {
    db = await createTestDatabase();
    const target = new URL(db.url);
    proxy = await startTcpProxy(target.hostname, Number(target.port || 5432));
    listener = await connectMqtt(process.env.MQTT_URL!, { protocolVersion: 5 });
  });

  afterAll(async () => {
    await listener?.endAsync();
    await ingest?.close();
    await proxy?.close();
    await db?.drop();
  });

  it('skips ticks while the database is unreachable, then publishes what came due meanwhile, once', async () => {
    const env = ingestEnvironment({
      databaseUrl: proxy.urlFor(db.url),
      mqttUrl: process.env.MQTT_URL!,
      extra: { SIGNAL_LOSS_SWEEP_MS: '600000', QUIET_HOURS_RELEASE_MS: '200' },
    });
    ingest = await startIngest(env);
    const release = ingest.get(QuietHoursReleaseService);
    const patient = await new TestData(db.dataSource).patient('Cy');
    const seen: PatientNotificationResource[] = [];
    await listener.subscribeAsync(topicsFor(env.MQTT_TOPIC_ROOT).patientNotifications(patient), { qos: 1 });
    listener.on('message', (_topic, payload) =>
      seen.push(JSON.parse(payload.toString('utf8')) as PatientNotificationResource),
    );

    proxy.cut();
    // Due two seconds from now, while the ingest cannot reach the database.
    const [row] = await db.dataSource.query<{ id: string }[]>(
      `INSERT INTO patient_notifications (patient_id, kind, severity, title, body, deliver_at)
       VALUES ($1, 'battery_low', 'info', 'Please charge your sensor', 'b', now() + interval '2 seconds')
       RETURNING id::text`,
      [patient],
    );
    await new Promise((resolve) => setTimeout(resolve, 3000));
    expect(seen).toEqual([]);
    // A tick during the outage neither throws nor claims anything; the service says it is failing.
    await expect(release.tick()).resolves.toBeUndefined();
    expect(release.failing).toBeGreaterThan(0);

    proxy.restore();
    await waitFor(() => seen.length > 0, 'the held message published after the outage', 15_000);
    await new Promise((resolve) => setTimeout(resolve, 1000));
    expect(seen.map((n) => n.id)).toEqual([row.id]);
    expect(release.released).toBe(1);
    expect(release.failing).toBeUndefined();
  }, 60_000);
});
