import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { JwtService } from '@nestjs/jwt';
import type { MqttClient } from 'mqtt';
import type { Principal } from '@lantern/auth';
import type { AlertResource, LiveDeviceEvent, LiveReadingEvent, PatientNotificationResource } from '@lantern/domain';
import type { Topics } from '@lantern/messaging';
import { DeviceRepository } from '@lantern/storage';
import { LiveSubscriptionsService } from '../../apps/api/src/live/live-subscriptions.service.js';
import { TestData } from '../support/builders.js';
import { startApi, type ApiFixture } from '../support/boot.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { connectMqtt } from '../support/mqtt.js';
import { ask, connectLive, record, type LiveClient } from './live-fixture.js';
import { waitFor } from '../support/wait.js';

const THROTTLE_MS = 400;

function alertFor(patientId: string, message = 'Glucose 48 mg/dL'): AlertResource {
  const now = new Date().toISOString();
  return {
    id: randomUUID(),
    patientId,
    rule: 'glucose.low',
    metric: 'glucose',
    priority: 'high',
    state: 'open',
    message,
    value: 48,
    openedAt: now,
    lastTriggeredAt: now,
    escalationLevel: 0,
    late: false,
  };
}

describe('Socket.IO /live', () => {
  let db: TestDatabase;
  let api: ApiFixture;
  let topics: Topics;
  let publisher: MqttClient;
  let people: TestData;
  const sockets: LiveClient[] = [];

  let patientA: string;
  let patientB: string;
  let deviceA: string;
  let clinician: Principal;
  let otherClinician: Principal;
  let admin: Principal;
  let patientUserA: Principal;

  async function live(principal: Principal): Promise<LiveClient> {
    const socket = await connectLive(api.url, await api.token(principal));
    sockets.push(socket);
    return socket;
  }

  async function publish(topic: string, body: unknown): Promise<void> {
    await publisher.publishAsync(topic, JSON.stringify(body), { qos: 1 });
  }

  beforeAll(async () => {
    db = await createTestDatabase();
    people = new TestData(db.dataSource);
    patientA = await people.patient('Ada');
    patientB = await people.patient('Bob');
    deviceA = await people.device(patientA, 'pulse_oximeter');
    clinician = await people.user('clinician');
    otherClinician = await people.user('clinician');
    admin = await people.user('admin');
    patientUserA = await people.user('patient', patientA);
    await people.careTeam(patientA, clinician.userId);
    await people.careTeam(patientB, otherClinician.userId);
    api = await startApi({ LIVE_READING_MIN_INTERVAL_MS: String(THROTTLE_MS) }, { database: db, listen: true });
    topics = api.topics;
    publisher = await connectMqtt(api.mqttUrl, { protocolVersion: 5 });
  });

  afterAll(async () => {
    for (const s of sockets) s.close();
    await publisher?.endAsync();
    await api?.close();
    await db?.drop();
  });

  describe('handshake', () => {
    it('refuses a missing, invalid or expired token with "unauthorized"', async () => {
      await expect(connectLive(api.url, undefined)).rejects.toThrow('unauthorized');
      await expect(connectLive(api.url, 'not-a-token')).rejects.toThrow('unauthorized');
      await expect(connectLive(api.url, 42)).rejects.toThrow('unauthorized');
      const expired = new JwtService().sign(
        { sub: clinician.userId, role: 'clinician', email: clinician.email, exp: Math.floor(Date.now() / 1000) - 60 },
        { secret: process.env.JWT_SECRET!, issuer: 'lantern', algorithm: 'HS256' },
      );
      await expect(connectLive(api.url, expired)).rejects.toThrow('unauthorized');
      const forged = new JwtService().sign(
        { sub: clinician.userId, role: 'admin', email: clinician.email },
        { secret: 'x'.repeat(40), issuer: 'lantern' },
      );
      await expect(connectLive(api.url, forged)).rejects.toThrow('unauthorized');
    });

    it('accepts a valid token', async () => {
      const socket = await live(clinician);
      expect(socket.connected).toBe(true);
    });
  });

  describe('subscribe', () => {
    it("answers ok for a patient on the caller's care team, and for oneself as a patient", async () => {
      expect(await ask(await live(clinician), 'subscribe', { patientId: patientA })).toEqual({ ok: true });
      expect(await ask(await live(patientUserA), 'subscribe', { patientId: patientA })).toEqual({ ok: true });
      expect(await ask(await live(admin), 'subscribe', { patientId: patientB })).toEqual({ ok: true });
    });

    it('answers a foreign patient exactly like an unknown one', async () => {
      const socket = await live(clinician);
      const foreign = await ask(socket, 'subscribe', { patientId: patientB });
      const unknown = await ask(socket, 'subscribe', { patientId: randomUUID() });
      expect(foreign).toEqual({ ok: false, error: 'not_found' });
      expect(unknown).toEqual(foreign);
      expect(await ask(await live(patientUserA), 'subscribe', { patientId: patientB })).toEqual({
        ok: false,
        error: 'not_found',
      });
      expect(await ask(await live(admin), 'subscribe', { patientId: randomUUID() })).toEqual({
        ok: false,
        error: 'not_found',
      });
    });

    it('answers bad_request to malformed messages and keeps the connection', async () => {
      const socket = await live(clinician);
      for (const body of [undefined, null, 'x', 42, [], {}, { patientId: 'not-a-uuid' }, { patientId: 7 }]) {
        expect(await ask(socket, 'subscribe', body)).toEqual({ ok: false, error: 'bad_request' });
        expect(await ask(socket, 'unsubscribe', body)).toEqual({ ok: false, error: 'bad_request' });
      }
      // Messages without an acknowledgement callback, and unknown events, are ignored.
      (socket as unknown as { emit(event: string, ...args: unknown[]): void }).emit('subscribe', {
        patientId: patientA,
      });
      (socket as unknown as { emit(event: string, ...args: unknown[]): void }).emit('no-such-event', 'junk');
      expect(socket.connected).toBe(true);
      expect(await ask(socket, 'subscribe', { patientId: patientA })).toEqual({ ok: true });
    });
  });

  describe('routing', () => {
    it("delivers a patient's alert to its subscribers only", async () => {
      const watcher = await live(clinician);
      const other = await live(otherClinician);
      const idle = await live(clinician);
      const seenWatcher = record(watcher);
      const seenOther = record(other);
      const seenIdle = record(idle);
      expect(await ask(watcher, 'subscribe', { patientId: patientA })).toEqual({ ok: true });
      expect(await ask(other, 'subscribe', { patientId: patientB })).toEqual({ ok: true });

      const alert = alertFor(patientA);
      await publish(topics.patientAlerts(patientA), alert);
      await waitFor(() => seenWatcher.alert.length === 1, 'alert on the watcher', 5000);
      expect(seenWatcher.alert[0]).toEqual(alert);

      // A marker for patient B arriving proves the broker had time to deliver anything else.
      await publish(topics.patientAlerts(patientB), alertFor(patientB));
      await waitFor(() => seenOther.alert.length === 1, 'marker alert', 5000);
      expect((seenOther.alert[0] as AlertResource).patientId).toBe(patientB);
      expect(seenIdle.alert).toHaveLength(0);
      expect(seenWatcher.alert).toHaveLength(1);
    });

    it("relays device status to watchers and notifications only to the patient's own sockets", async () => {
      const clin = await live(clinician);
      const self = await live(patientUserA);
      const seenClin = record(clin);
      const seenSelf = record(self);
      await ask(clin, 'subscribe', { patientId: patientA });
      await ask(self, 'subscribe', { patientId: patientA });

      const device: LiveDeviceEvent = {
        patientId: patientA,
        deviceId: deviceA,
        online: true,
        battery: 80,
        lastSeenAt: new Date().toISOString(),
      };
      await publish(topics.patientDevices(patientA), device);
      const notification: PatientNotificationResource = {
        id: randomUUID(),
        patientId: patientA,
        kind: 'alert_opened',
        severity: 'urgent',
        title: 'Your glucose is low',
        body: 'Your glucose (blood sugar) is 48 milligrams per decilitre.',
        createdAt: new Date().toISOString(),
      };
      await publish(topics.patientNotifications(patientA), notification);
      await waitFor(
        () => seenSelf.notification.length === 1 && seenClin.device.length === 1 && seenSelf.device.length === 1,
        'events',
        5000,
      );
      expect(seenSelf.notification[0]).toEqual(notification);
      expect(seenClin.device[0]).toEqual(device);
      // The clinician's socket sees the device event that came after the notification, so the notification was not sent to it.
      await publish(topics.patientDevices(patientA), { ...device, online: false });
      await waitFor(() => seenClin.device.length === 2, 'second device event', 5000);
      expect(seenClin.notification).toHaveLength(0);
    });

    it('drops event payloads that name another patient than their topic', async () => {
      const clin = await live(clinician);
      const seen = record(clin);
      await ask(clin, 'subscribe', { patientId: patientA });
      await publish(topics.patientAlerts(patientA), alertFor(patientB));
      await publisher.publishAsync(topics.patientAlerts(patientA), '{not json', { qos: 1 });
      const marker = alertFor(patientA, 'marker');
      await publish(topics.patientAlerts(patientA), marker);
      await waitFor(() => seen.alert.length > 0, 'marker', 5000);
      expect(seen.alert).toEqual([marker]);
    });

    it('relays live readings in canonical units, throttled per metric with the latest value winning', async () => {
      const clin = await live(clinician);
      const seen = record(clin);
      await ask(clin, 'subscribe', { patientId: patientA });
      const t0 = Date.now();
      const at = (i: number): string => new Date(t0 + i * 10).toISOString();
      // Sent in a burst, well within one throttle interval.
      for (let i = 0; i < 6; i++) {
        await publish(topics.telemetry(deviceA), {
          seq: i,
          readings: [
            { metric: 'heart_rate', value: 70 + i, ts: at(i) },
            { metric: 'spo2', value: 90 + i, ts: at(i) },
          ],
        });
      }
      const last = (metric: string): number | undefined =>
        (seen.reading as LiveReadingEvent[]).filter((r) => r.metric === metric).at(-1)?.value;
      await waitFor(() => last('heart_rate') === 75 && last('spo2') === 95, 'trailing readings', THROTTLE_MS * 5);
      const hr = (seen.reading as LiveReadingEvent[]).filter((r) => r.metric === 'heart_rate');
      const spo2 = (seen.reading as LiveReadingEvent[]).filter((r) => r.metric === 'spo2');
      // First emitted at once, then only the newest at the end of the interval.
      expect(hr.map((r) => r.value)).toEqual([70, 75]);
      expect(spo2.map((r) => r.value)).toEqual([90, 95]);
      expect(hr[1]).toEqual({
        patientId: patientA,
        deviceId: deviceA,
        metric: 'heart_rate',
        value: 75,
        unit: '/min',
        ts: at(5),
      });
      expect(spo2[1].unit).toBe('%');
    });

    it('drops readings the ingest would reject and converts units to canonical', async () => {
      const cgmPatient = await people.patient('Cy');
      const cgm = await people.device(cgmPatient, 'cgm');
      await people.careTeam(cgmPatient, clinician.userId);
      const clin = await live(clinician);
      const seen = record(clin);
      await ask(clin, 'subscribe', { patientId: cgmPatient });
      await publish(topics.telemetry(cgm), {
        readings: [
          { metric: 'glucose', value: 900 },
          { metric: 'glucose', value: 90, unit: 'mg' },
        ],
      });
      await publish(topics.telemetry(cgm), { readings: [{ metric: 'glucose', value: 5.4, unit: 'mmol/L' }] });
      await waitFor(() => seen.reading.length === 1, 'converted reading', 5000);
      expect((seen.reading[0] as LiveReadingEvent).value).toBeCloseTo(97.2864, 4);
      expect((seen.reading[0] as LiveReadingEvent).unit).toBe('mg/dL');
    });
  });

  describe('broker subscriptions', () => {
    it('subscribes while someone watches and drops the subscription when the last watcher leaves', async () => {
      const patient = await people.patient('Dee');
      const device = await people.device(patient, 'wearable_patch');
      await people.careTeam(patient, clinician.userId);
      const eventFilter = `${topics.root}/events/patients/${patient}/+`;
      const filters = (): string[] =>
        api.mqtt.activeFilters().filter((f) => f === eventFilter || f === topics.telemetry(device));
      expect(filters()).toEqual([]);

      const first = await live(clinician);
      const second = await live(clinician);
      const seenFirst = record(first);
      await Promise.all([
        ask(first, 'subscribe', { patientId: patient }),
        ask(first, 'subscribe', { patientId: patient }),
      ]);
      await ask(second, 'subscribe', { patientId: patient });
      // Subscribing again from one socket, even concurrently, counts once.
      await Promise.all([
        ask(second, 'subscribe', { patientId: patient }),
        ask(first, 'subscribe', { patientId: patient }),
      ]);
      expect(filters().sort()).toEqual([eventFilter, topics.telemetry(device)].sort());
      expect(api.routing.watched().get(patient)).toBe(2);

      expect(await ask(second, 'unsubscribe', { patientId: patient })).toEqual({ ok: true });
      expect(api.routing.watched().get(patient)).toBe(1);
      expect(filters()).toHaveLength(2);

      await publish(topics.patientAlerts(patient), alertFor(patient));
      await waitFor(() => seenFirst.alert.length === 1, 'alert before unsubscribe', 5000);

      expect(await ask(first, 'unsubscribe', { patientId: patient })).toEqual({ ok: true });
      expect(api.routing.watched().has(patient)).toBe(false);
      expect(filters()).toEqual([]);

      // The broker no longer sends us this patient's telemetry; its alert still comes — the escalation
      // chain follows every patient's alert events to start a new alert's tiers at once — but reaches
      // no socket: with the marker, two messages.
      const watcher = await live(clinician);
      const seenMarker = record(watcher);
      await ask(watcher, 'subscribe', { patientId: patientA });
      const before = api.mqtt.receivedCount;
      await publish(topics.patientAlerts(patient), alertFor(patient));
      await publish(topics.telemetry(device), { readings: [{ metric: 'heart_rate', value: 80 }] });
      await publish(topics.patientAlerts(patientA), alertFor(patientA, 'marker'));
      await waitFor(() => seenMarker.alert.length === 1, 'marker', 5000);
      expect(api.mqtt.receivedCount - before).toBe(2);
      expect(seenFirst.alert).toHaveLength(1);
      expect(seenMarker.alert).toHaveLength(1);
    });

    it("the periodic refresh follows every watched patient's devices in one query and one subscribe each way", async () => {
      const [p1, p2] = [await people.patient('Hal'), await people.patient('Ivy')];
      for (const p of [p1, p2]) await people.careTeam(p, clinician.userId);
      const kept = await people.device(p1, 'pulse_oximeter');
      const gone = await people.device(p2, 'wearable_patch');
      const moved = await people.device(p2, 'pulse_oximeter');
      const socket = await live(clinician);
      const seen = record(socket);
      for (const p of [p1, p2]) expect(await ask(socket, 'subscribe', { patientId: p })).toEqual({ ok: true });
      // Changed behind the api's back (no device event): only the refresh can see it. The moved device
      // leaves the later-watched patient for the earlier one: its new owner must survive its removal.
      const added = await people.device(p2, 'pulse_oximeter');
      await db.dataSource.query(`UPDATE devices SET decommissioned_at = now() WHERE id = $1`, [gone]);
      await db.dataSource.query(`UPDATE devices SET patient_id = $1 WHERE id = $2`, [p1, moved]);
      const telemetry = () =>
        api.mqtt
          .activeFilters()
          .filter((f) => [kept, gone, added, moved].some((d) => f === topics.telemetry(d)))
          .sort();
      expect(telemetry()).toEqual([kept, gone, moved].map((d) => topics.telemetry(d)).sort());
      const read = jest.spyOn(api.app.get(DeviceRepository), 'activeIdsByPatient');
      try {
        await api.routing.refreshAll();
        expect(telemetry()).toEqual([kept, added, moved].map((d) => topics.telemetry(d)).sort());
        // One device query for all the patients watched, however many there are.
        expect(read).toHaveBeenCalledTimes(1);
        expect(read.mock.calls[0][0]).toEqual(expect.arrayContaining([p1, p2]));
      } finally {
        read.mockRestore();
      }
      await publish(topics.telemetry(moved), { readings: [{ metric: 'heart_rate', value: 77 }] });
      await waitFor(() => seen.reading.length === 1, "the moved device's reading", 5000);
      expect(seen.reading[0]).toMatchObject({ patientId: p1, deviceId: moved, value: 77 });
    });

    it('an unsubscribe sent right after a subscribe leaves nothing subscribed', async () => {
      const patient = await people.patient('Flo');
      await people.careTeam(patient, clinician.userId);
      const socket = await live(clinician);
      // Both in flight at once: the unsubscribe is answered only after the grant has landed.
      const [granted, released] = await Promise.all([
        ask(socket, 'subscribe', { patientId: patient }),
        ask(socket, 'unsubscribe', { patientId: patient }),
      ]);
      expect([granted, released]).toEqual([{ ok: true }, { ok: true }]);
      expect(api.routing.watched().has(patient)).toBe(false);
      expect(api.mqtt.activeFilters().some((f) => f.includes(patient))).toBe(false);
    });

    it('releases the watch of a socket that disconnects', async () => {
      const patient = await people.patient('Eve');
      await people.careTeam(patient, clinician.userId);
      const socket = await live(clinician);
      await ask(socket, 'subscribe', { patientId: patient });
      expect(api.routing.watched().get(patient)).toBe(1);
      socket.close();
      await waitFor(() => !api.routing.watched().has(patient), 'watch released', 5000);
      expect(api.mqtt.activeFilters().some((f) => f.includes(patient))).toBe(false);
    });

    it('picks up a device provisioned while the patient is watched', async () => {
      const patient = await people.patient('Fay');
      await people.careTeam(patient, clinician.userId);
      const socket = await live(clinician);
      const seen = record(socket);
      await ask(socket, 'subscribe', { patientId: patient });
      const device = await people.device(patient, 'bp_monitor');
      // The ingest announces a device's first status; the api then subscribes to its telemetry.
      await publish(topics.patientDevices(patient), {
        patientId: patient,
        deviceId: device,
        online: true,
        battery: null,
        lastSeenAt: new Date().toISOString(),
      });
      await waitFor(() => api.mqtt.activeFilters().includes(topics.telemetry(device)), 'telemetry subscription', 5000);
      await publish(topics.telemetry(device), { readings: [{ metric: 'systolic_bp', value: 128 }] });
      await waitFor(() => seen.reading.length === 1, 'reading of the new device', 5000);
      expect(seen.reading[0]).toMatchObject({
        patientId: patient,
        deviceId: device,
        metric: 'systolic_bp',
        value: 128,
        unit: 'mm[Hg]',
      });
    });
  });

  describe('access over time', () => {
    it('stops delivery to a clinician taken off the care team at the next access check', async () => {
      const patient = await people.patient('Gus');
      await people.careTeam(patient, clinician.userId);
      const socket = await live(clinician);
      const seen = record(socket);
      expect(await ask(socket, 'subscribe', { patientId: patient })).toEqual({ ok: true });
      // A second socket of the same clinician, watching that patient (upper-case id) and one still on the team.
      const other = await live(clinician);
      expect(await ask(other, 'subscribe', { patientId: patient.toUpperCase() })).toEqual({ ok: true });
      expect(await ask(other, 'subscribe', { patientId: patientA })).toEqual({ ok: true });
      await db.dataSource.query(`DELETE FROM care_team_members WHERE patient_id = $1 AND clinician_id = $2`, [
        patient,
        clinician.userId,
      ]);
      const watchingA = api.routing.watched().get(patientA);
      await api.app.get(LiveSubscriptionsService).revalidate();
      expect(api.routing.watched().has(patient)).toBe(false);
      expect(api.routing.watched().has(patient.toUpperCase())).toBe(false);
      expect(api.routing.watched().get(patientA)).toBe(watchingA);
      other.disconnect();
      await publish(topics.patientAlerts(patient), alertFor(patient));
      // Still connected and served for the patients it may see.
      await ask(socket, 'subscribe', { patientId: patientA });
      await publish(topics.patientAlerts(patientA), alertFor(patientA, 'marker'));
      await waitFor(() => seen.alert.length > 0, 'marker', 5000);
      expect((seen.alert as AlertResource[]).map((a) => a.message)).toEqual(['marker']);
      expect(await ask(socket, 'subscribe', { patientId: patient })).toEqual({ ok: false, error: 'not_found' });
    });

    it('disconnects a socket when its access token expires, telling it why', async () => {
      const { sessionId } = await api.session(clinician);
      const shortLived = new JwtService().sign(
        {
          sub: clinician.userId,
          role: 'clinician',
          email: clinician.email,
          sid: sessionId,
          exp: Math.floor(Date.now() / 1000) + 2,
        },
        { secret: process.env.JWT_SECRET!, issuer: 'lantern', algorithm: 'HS256' },
      );
      const socket = await connectLive(api.url, shortLived);
      sockets.push(socket);
      const seen = record(socket);
      expect(await ask(socket, 'subscribe', { patientId: patientA })).toEqual({ ok: true });
      await waitFor(() => !socket.connected, 'disconnect at expiry', 5000);
      expect(seen.unauthorized).toEqual([{ reason: 'expired' }]);
    });
  });

  describe('two api instances', () => {
    it('each delivers to its own sockets through the broker alone', async () => {
      const second = await startApi({}, { alongside: api, listen: true });
      try {
        const a = await live(clinician);
        const b = await connectLive(second.url, await second.token(clinician));
        sockets.push(b);
        const seenA = record(a);
        const seenB = record(b);
        await ask(a, 'subscribe', { patientId: patientA });
        await ask(b, 'subscribe', { patientId: patientA });
        const alert = alertFor(patientA, 'both');
        await publish(topics.patientAlerts(patientA), alert);
        await waitFor(() => seenA.alert.length === 1 && seenB.alert.length === 1, 'alert on both instances', 5000);
        expect(seenA.alert[0]).toEqual(alert);
        expect(seenB.alert[0]).toEqual(alert);
        expect(second.routing.watched().get(patientA)).toBe(1);
      } finally {
        await second.close();
      }
    });
  });
});
