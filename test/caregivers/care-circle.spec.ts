import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createHash, randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { Bundle, Observation } from '@medplum/fhirtypes';
import type { MqttClient } from 'mqtt';
import type { AlertResource, LiveReadingEvent } from '@lantern/domain';
import type { Topics } from '@lantern/messaging';
import { ReadingRepository } from '@lantern/storage';
import type { LoginResponseDto } from '../../apps/api/src/auth/auth.dto.js';
import type {
  AccessLogEntryDto,
  CaregiverDto,
  InvitedCaregiverDto,
} from '../../apps/api/src/care-circle/care-circle.dto.js';
import type { PatientDto } from '../../apps/api/src/patients/patient.dto.js';
import { ApiData, TestData } from '../support/builders.js';
import { ADMIN_EMAIL, ADMIN_PASSWORD, startApi, type ApiFixture } from '../support/boot.js';
import { ask, connectLive, record, type LiveClient } from '../live/live-fixture.js';
import { bodyOf } from '../support/http.js';
import { connectMqtt } from '../support/mqtt.js';
import { waitFor } from '../support/wait.js';

/**
 * Contract §4.2 against the real api (as the app role, on PostgreSQL) and the broker: a patient
 * invites a caregiver with scopes; the invitation token is single use, expires and is stored only as
 * a hash; the caregiver sees — over REST, FHIR and `/live` — only the shared patient and, of it,
 * only the shared signals; a scope change applies at once and a revocation answers 404 at once and
 * stops the caregiver's sockets receiving within 5 s, on this api instance and on another one. The
 * patient reads who looked at their data in plain words. Times are measured and printed.
 */
describe('care circle: caregivers and sharing the patient owns (contract §4.2)', () => {
  const password = 'a-long-password-1';
  const auth = (token: string) => ({ Authorization: `Bearer ${token}` });
  let api: ApiFixture;
  let url: string;
  let second: ApiFixture;
  let topics: Topics;
  let publisher: MqttClient;
  const sockets: LiveClient[] = [];
  const timings: [string, number][] = [];

  let admin: string;
  let clinician: string;
  let patient: string;
  let otherPatient: string;
  const ids = { p: '', q: '', cgm: '', oximeter: '', glucoseAlert: '', heartAlert: '', deviceAlert: '' };

  async function invite(token: string, email: string, scopes: string[], name?: string): Promise<InvitedCaregiverDto> {
    const res = await api.http
      .post('/api/v1/me/caregivers')
      .set(auth(token))
      .send({ email, scopes, ...(name !== undefined && { name }) })
      .expect(201);
    return bodyOf<InvitedCaregiverDto>(res);
  }

  const accept = (token: string, pw = password, name?: string) =>
    api.http.post('/api/v1/auth/accept-invitation').send({ token, password: pw, ...(name !== undefined && { name }) });

  /** Invites a new address to P with `scopes` and accepts: the caregiver's share id and access token. */
  const caregiverOfP = (scopes: string[], name = 'Maria Souza'): Promise<{ shareId: string; token: string }> =>
    new ApiData(api.http, admin).caregiver(patient, {
      email: `carer-${randomUUID().slice(0, 8)}@family.test`,
      scopes,
      name,
      password,
    });

  async function live(token: string, at = url): Promise<LiveClient> {
    const socket = await connectLive(at, token);
    sockets.push(socket);
    return socket;
  }

  let seq = 0;
  async function publishReading(deviceId: string, metric: string, value: number): Promise<void> {
    // Each reading one second apart in device time, so none is a duplicate of another.
    const ts = new Date(Date.UTC(2026, 11, 1) + seq * 1000).toISOString();
    seq += 1;
    await publisher.publishAsync(
      topics.telemetry(deviceId),
      JSON.stringify({ seq, readings: [{ metric, value, ts }] }),
      {
        qos: 1,
      },
    );
  }

  function alertOf(metric: string | null, rule: string): AlertResource {
    const now = new Date().toISOString();
    return {
      id: randomUUID(),
      patientId: ids.p,
      rule,
      ...(metric !== null && { metric }),
      priority: 'high',
      state: 'open',
      message: `${rule} test`,
      openedAt: now,
      lastTriggeredAt: now,
      escalationLevel: 0,
      late: false,
    } as AlertResource;
  }

  beforeAll(async () => {
    // As deployed: the api runs as a member of lantern_app, so the new tables must be granted to it.
    api = await startApi({ LIVE_READING_MIN_INTERVAL_MS: '0' }, { asAppRole: true, listen: true });
    url = api.url;
    topics = api.topics;
    publisher = await connectMqtt(api.mqttUrl);
    admin = await api.login(ADMIN_EMAIL, ADMIN_PASSWORD);
    const data = new ApiData(api.http, admin);
    ({ patientId: ids.p, cgmId: ids.cgm } = await data.clinic(password));
    ids.q = await data.patient('Bruno Lima');
    await data.user({ email: 'bruno@home.test', password, role: 'patient', displayName: 'Bruno', patientId: ids.q });
    ids.oximeter = await data.device(ids.p, 'pulse_oximeter');
    const at = Date.now() - 3_600_000;
    await api.app.get(ReadingRepository).insertBatch([
      { deviceId: ids.cgm, patientId: ids.p, metric: 'glucose', value: 110, time: at, receivedAt: at },
      { deviceId: ids.oximeter, patientId: ids.p, metric: 'heart_rate', value: 72, time: at, receivedAt: at },
      { deviceId: ids.oximeter, patientId: ids.p, metric: 'spo2', value: 97, time: at, receivedAt: at },
    ]);
    const rows = new TestData(api.db);
    const alert = (metric: string | null, rule: string) => rows.alert(ids.p, { rule, metric, message: `${rule} test` });
    ids.glucoseAlert = await alert('glucose', 'glucose.low');
    ids.heartAlert = await alert('heart_rate', 'heart_rate.high');
    ids.deviceAlert = await alert(null, 'device.battery_low');
    clinician = await api.login('reyes@clinic.test', password);
    patient = await api.login('ana@home.test', password);
    otherPatient = await api.login('bruno@home.test', password);
    // Another api instance on the same database and broker, as behind a load balancer.
    second = await startApi({}, { alongside: api, listen: true });
  });

  afterAll(async () => {
    for (const socket of sockets) socket.close();
    await publisher?.endAsync();
    await second?.close();
    await api?.close();
    if (timings.length > 0)
      console.log(
        `caregiver live access after the change (ms):\n${timings.map(([w, ms]) => `  ${w}: ${ms}`).join('\n')}`,
      );
  });

  describe('invitation', () => {
    it('answers the token once, stores only its SHA-256, and lists the caregiver as invited', async () => {
      const invited = await invite(patient, 'Nurse.Lee@Care.test', ['glucose', 'alerts'], 'Nurse Lee');
      expect(invited).toEqual({
        id: expect.any(String),
        email: 'nurse.lee@care.test',
        name: 'Nurse Lee',
        scopes: ['glucose', 'alerts'],
        status: 'invited',
        invitedAt: expect.any(String),
        invitationExpiresAt: invited.invitation.expiresAt,
        invitation: { token: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/), expiresAt: expect.any(String) },
      });
      // Expires after 7 days.
      const ttl = Date.parse(invited.invitation.expiresAt) - Date.parse(invited.invitedAt);
      expect(Math.abs(ttl - 7 * 86_400_000)).toBeLessThan(60_000);
      const stored = await api.db.query<{ row: string; token_hash: string }[]>(
        `SELECT row_to_json(i)::text AS row, token_hash FROM caregiver_invitations i WHERE share_id = $1`,
        [invited.id],
      );
      expect(stored).toHaveLength(1);
      expect(stored[0].token_hash).toBe(createHash('sha256').update(invited.invitation.token).digest('hex'));
      expect(stored[0].row).not.toContain(invited.invitation.token);
      // Nor anywhere in the audit log.
      const audit = await api.db.query<{ n: number }[]>(
        `SELECT count(*)::int AS n FROM audit_log WHERE details::text LIKE '%' || $1 || '%'`,
        [invited.invitation.token],
      );
      expect(audit[0].n).toBe(0);
      const list = bodyOf<CaregiverDto[]>(await api.http.get('/api/v1/me/caregivers').set(auth(patient)).expect(200));
      expect(list.find((c) => c.id === invited.id)).toMatchObject({ status: 'invited', scopes: ['glucose', 'alerts'] });
      // Only a patient shares, and only their own data.
      await api.http
        .post('/api/v1/me/caregivers')
        .set(auth(clinician))
        .send({ email: 'x@y.test', scopes: ['glucose'] })
        .expect(403);
      await api.http
        .post('/api/v1/me/caregivers')
        .set(auth(patient))
        .send({ email: 'x@y.test', scopes: ['steps'] })
        .expect(400);
      await api.http
        .post('/api/v1/me/caregivers')
        .set(auth(patient))
        .send({ email: 'x@y.test', scopes: [] })
        .expect(400);
    });

    it('accepts once: the answer is a login of a new caregiver account; the same token again is refused', async () => {
      const invited = await invite(patient, 'daughter@family.test', ['glucose'], 'Maria');
      const res = await accept(invited.invitation.token, password, 'Maria Souza').expect(200);
      const login = bodyOf<LoginResponseDto>(res);
      expect(login).toEqual({
        accessToken: expect.any(String),
        refreshToken: expect.any(String),
        expiresIn: expect.any(Number),
        user: expect.objectContaining({ email: 'daughter@family.test', role: 'caregiver', displayName: 'Maria Souza' }),
      });
      expect(res.headers['cache-control']).toBe('no-store');
      expect(
        bodyOf<{ role: string }>(await api.http.get('/api/v1/me').set(auth(login.accessToken)).expect(200)).role,
      ).toBe('caregiver');
      // Single use, whatever the password.
      await accept(invited.invitation.token).expect(401);
      await accept(invited.invitation.token, 'another-password-9').expect(401);
      const list = bodyOf<CaregiverDto[]>(await api.http.get('/api/v1/me/caregivers').set(auth(patient)).expect(200));
      expect(list.find((c) => c.id === invited.id)).toMatchObject({ status: 'active', acceptedAt: expect.any(String) });
      // Inviting an address that already accepted is a conflict: change its scopes instead.
      await api.http
        .post('/api/v1/me/caregivers')
        .set(auth(patient))
        .send({ email: 'daughter@family.test', scopes: ['cardiac'] })
        .expect(409);
    });

    it('refuses an expired token, an unknown one, and the earlier token of an invitation sent again', async () => {
      const invited = await invite(patient, 'late@family.test', ['glucose']);
      await api.db.query(
        `UPDATE caregiver_invitations SET expires_at = now() - interval '1 second' WHERE share_id = $1`,
        [invited.id],
      );
      await accept(invited.invitation.token).expect(401);
      await accept('x'.repeat(43)).expect(401);
      // Invited again (the token was lost, or expired): a new token, and the old one is dead.
      const again = await invite(patient, 'late@family.test', ['glucose', 'weight']);
      expect(again.id).toBe(invited.id);
      expect(again.scopes).toEqual(['glucose', 'weight']);
      await accept(invited.invitation.token).expect(401);
      await accept(again.invitation.token).expect(200);
      const refusals = await api.db.query<{ n: number }[]>(
        `SELECT count(*)::int AS n FROM audit_log WHERE action = 'caregiver.accept_failed'`,
      );
      expect(refusals[0].n).toBeGreaterThanOrEqual(3);
    });

    it("links an existing caregiver account only with that account's password; staff addresses cannot be caregivers", async () => {
      const { token: carer } = await caregiverOfP(['glucose']);
      const me = bodyOf<{ id: string; email: string }>(await api.http.get('/api/v1/me').set(auth(carer)).expect(200));
      const fromBruno = await invite(otherPatient, me.email, ['weight']);
      await accept(fromBruno.invitation.token, 'not-the-password-1').expect(401);
      // The wrong password did not spend the token.
      const linked = bodyOf<LoginResponseDto>(await accept(fromBruno.invitation.token).expect(200));
      expect(linked.user.id).toBe(me.id);
      const patients = bodyOf<PatientDto[]>(
        await api.http.get('/api/v1/patients').set(auth(linked.accessToken)).expect(200),
      );
      expect(patients.map((p) => p.id).sort()).toEqual([ids.p, ids.q].sort());

      const toStaff = await invite(patient, 'reyes@clinic.test', ['glucose']);
      await accept(toStaff.invitation.token, password).expect(409);
      // A caregiver account is made only by an invitation, and stays one.
      await api.http
        .post('/api/v1/users')
        .set(auth(admin))
        .send({ email: 'c@x.test', password, role: 'caregiver', displayName: 'C' })
        .expect(400);
      await api.http.patch(`/api/v1/users/${me.id}`).set(auth(admin)).send({ role: 'clinician' }).expect(400);
    });
  });

  describe('what a caregiver sees', () => {
    it('with `glucose`: glucose of the shared patient over REST, never heart rate, alerts, devices or another patient', async () => {
      const { token } = await caregiverOfP(['glucose']);
      const get = (path: string) => api.http.get(path).set(auth(token));
      expect(bodyOf<PatientDto[]>(await get('/api/v1/patients').expect(200)).map((p) => p.id)).toEqual([ids.p]);
      await get(`/api/v1/patients/${ids.p}`).expect(200);
      await get(`/api/v1/patients/${ids.q}`).expect(404);
      await get(`/api/v1/patients/${ids.q}/latest`).expect(404);

      const latest = bodyOf<{ metric: string }[]>(await get(`/api/v1/patients/${ids.p}/latest`).expect(200));
      expect(latest.map((r) => r.metric)).toEqual(['glucose']);
      const since = new Date(Date.now() - 86_400_000).toISOString();
      const raw = bodyOf<{ readings: { metric: string }[] }>(
        await get(`/api/v1/patients/${ids.p}/readings?from=${since}`).expect(200),
      );
      expect(raw.readings.map((r) => r.metric)).toEqual(['glucose']);
      await get(`/api/v1/patients/${ids.p}/readings?metric=glucose&from=${since}`).expect(200);
      await get(`/api/v1/patients/${ids.p}/readings?metric=glucose&from=${since}&bucket=1h`).expect(200);
      // Not shared: exactly like an unknown patient.
      const hidden = await get(`/api/v1/patients/${ids.p}/readings?metric=heart_rate&from=${since}`).expect(404);
      const unknown = await get(`/api/v1/patients/${randomUUID()}/readings?metric=heart_rate&from=${since}`).expect(
        404,
      );
      expect((hidden.body as { error: string }).error).toBe((unknown.body as { error: string }).error);
      await get(`/api/v1/patients/${ids.p}/readings?metric=heart_rate&from=${since}&bucket=1h`).expect(404);
      const summary = bodyOf<{ metrics: { metric: string }[] }>(
        await get(`/api/v1/patients/${ids.p}/summary`).expect(200),
      );
      expect(summary.metrics.map((m) => m.metric)).toEqual(['glucose']);

      // Alerts and devices need their scopes.
      expect(bodyOf<{ total: number }>(await get('/api/v1/alerts').expect(200)).total).toBe(0);
      await get(`/api/v1/alerts?patientId=${ids.p}`).expect(404);
      await get(`/api/v1/alerts/${ids.glucoseAlert}`).expect(404);
      await get(`/api/v1/patients/${ids.p}/alert-rules`).expect(404);
      expect(bodyOf<unknown[]>(await get('/api/v1/devices').expect(200))).toEqual([]);
      await get(`/api/v1/devices?patientId=${ids.p}`).expect(404);
      await get(`/api/v1/devices/${ids.cgm}`).expect(404);
      // Nothing clinical, nothing of the patient's own.
      await api.http.post(`/api/v1/alerts/${ids.glucoseAlert}/acknowledge`).set(auth(token)).send({}).expect(403);
      await get('/api/v1/me/notifications').expect(403);
      await get('/api/v1/me/caregivers').expect(403);
      await get('/api/v1/me/access-log').expect(403);
    });

    it('with `glucose`: FHIR shows the shared patient and glucose Observations only', async () => {
      const { token } = await caregiverOfP(['glucose']);
      const get = (path: string) => api.http.get(path).set(auth(token));
      const observations = bodyOf<Bundle<Observation>>(await get(`/fhir/R4/Observation?patient=${ids.p}`).expect(200));
      expect(observations.total).toBe(1);
      expect(observations.entry?.map((e) => e.resource?.code?.coding?.[0]?.code)).toEqual(['99504-3']);
      const heart = bodyOf<Bundle>(
        await get(`/fhir/R4/Observation?patient=${ids.p}&code=http://loinc.org|8867-4`).expect(200),
      );
      expect(heart.total).toBe(0);
      const all = bodyOf<Bundle<Observation>>(
        await api.http.get(`/fhir/R4/Observation?patient=${ids.p}`).set(auth(admin)).expect(200),
      );
      const heartId = all.entry?.find((e) => e.resource?.code?.coding?.[0]?.code === '8867-4')?.resource?.id;
      expect(heartId).toBeDefined();
      await get(`/fhir/R4/Observation/${heartId}`).expect(404);
      expect(bodyOf<Bundle>(await get(`/fhir/R4/Flag?patient=${ids.p}`).expect(200)).total).toBe(0);
      await get(`/fhir/R4/Flag/${ids.glucoseAlert}`).expect(404);
      await get(`/fhir/R4/Device/${ids.cgm}`).expect(404);
      expect(bodyOf<Bundle>(await get(`/fhir/R4/Device?patient=${ids.p}`).expect(200)).total).toBe(0);
      await get(`/fhir/R4/Patient/${ids.q}`).expect(404);
      await get(`/fhir/R4/Group/${randomUUID()}/$export`).set('Prefer', 'respond-async').expect(403);
    });

    it('a scope change applies at once: with `alerts` and `devices`, alerts about shared signals (and device alerts) and devices', async () => {
      const { shareId, token } = await caregiverOfP(['glucose']);
      const get = (path: string) => api.http.get(path).set(auth(token));
      await get(`/api/v1/devices?patientId=${ids.p}`).expect(404);
      const changed = bodyOf<CaregiverDto>(
        await api.http
          .patch(`/api/v1/me/caregivers/${shareId}`)
          .set(auth(patient))
          .send({ scopes: ['glucose', 'alerts', 'devices'] })
          .expect(200),
      );
      expect(changed.scopes).toEqual(['glucose', 'alerts', 'devices']);
      const alerts = bodyOf<{ items: AlertResource[]; total: number }>(
        await get(`/api/v1/alerts?patientId=${ids.p}`).expect(200),
      );
      expect(alerts.items.map((a) => a.id).sort()).toEqual([ids.glucoseAlert, ids.deviceAlert].sort());
      expect(alerts.total).toBe(2);
      await get(`/api/v1/alerts/${ids.glucoseAlert}`).expect(200);
      await get(`/api/v1/alerts/${ids.heartAlert}`).expect(404);
      const rules = bodyOf<{ key: string; metric?: string }[]>(
        await get(`/api/v1/patients/${ids.p}/alert-rules`).expect(200),
      );
      expect(rules.length).toBeGreaterThan(0);
      expect(rules.every((r) => r.metric === undefined || r.metric === 'glucose')).toBe(true);
      const devices = bodyOf<{ id: string }[]>(await get(`/api/v1/devices?patientId=${ids.p}`).expect(200));
      expect(devices.map((d) => d.id).sort()).toEqual([ids.cgm, ids.oximeter].sort());
      await get(`/api/v1/devices/${ids.oximeter}`).expect(200);
      const flags = bodyOf<Bundle>(await get(`/fhir/R4/Flag?patient=${ids.p}`).expect(200));
      expect(flags.total).toBe(2);
      await get(`/fhir/R4/Flag/${ids.heartAlert}`).expect(404);
      // Another patient's share id is not the caller's to change.
      await api.http
        .patch(`/api/v1/me/caregivers/${shareId}`)
        .set(auth(otherPatient))
        .send({ scopes: ['weight'] })
        .expect(404);
    });

    it('revocation answers 404 at once', async () => {
      const { shareId, token } = await caregiverOfP(['glucose']);
      await api.http.get(`/api/v1/patients/${ids.p}/latest`).set(auth(token)).expect(200);
      await api.http.delete(`/api/v1/me/caregivers/${shareId}`).set(auth(patient)).expect(204);
      await api.http.get(`/api/v1/patients/${ids.p}/latest`).set(auth(token)).expect(404);
      await api.http.get(`/api/v1/patients/${ids.p}`).set(auth(token)).expect(404);
      expect(bodyOf<unknown[]>(await api.http.get('/api/v1/patients').set(auth(token)).expect(200))).toEqual([]);
      const list = bodyOf<CaregiverDto[]>(await api.http.get('/api/v1/me/caregivers').set(auth(patient)).expect(200));
      expect(list.some((c) => c.id === shareId)).toBe(false);
      await api.http.delete(`/api/v1/me/caregivers/${shareId}`).set(auth(patient)).expect(404);
      // The change and its audit entry were stored together.
      const audit = await api.db.query<{ action: string }[]>(
        `SELECT action FROM audit_log WHERE resource_id = $1 ORDER BY id`,
        [shareId],
      );
      expect(audit.map((a) => a.action)).toEqual(['caregiver.invite', 'caregiver.accept', 'caregiver.revoke']);
    });
  });

  describe('live', () => {
    it('delivers glucose and not heart rate to a `glucose` caregiver; alerts, devices and notifications only with their scopes', async () => {
      const { token } = await caregiverOfP(['glucose', 'alerts']);
      const carer = await live(token);
      const own = await live(patient);
      const seen = record(carer);
      const control = record(own);
      expect(await ask(carer, 'subscribe', { patientId: ids.p })).toEqual({ ok: true });
      expect(await ask(carer, 'subscribe', { patientId: ids.q })).toEqual({ ok: false, error: 'not_found' });
      expect(await ask(own, 'subscribe', { patientId: ids.p })).toEqual({ ok: true });
      await publishReading(ids.oximeter, 'heart_rate', 81);
      await publishReading(ids.cgm, 'glucose', 123);
      // Counted by id: the escalation chain also sends this patient's earlier alerts to the patient.
      const published = [alertOf('heart_rate', 'heart_rate.high'), alertOf('glucose', 'glucose.low')];
      const ours = (alerts: unknown[]) =>
        (alerts as AlertResource[]).filter((a) => published.some((p) => p.id === a.id));
      for (const alert of published) await publisher.publishAsync(topics.patientAlerts(ids.p), JSON.stringify(alert));
      const deviceEvent = {
        patientId: ids.p,
        deviceId: ids.cgm,
        online: true,
        battery: 50,
        lastSeenAt: new Date().toISOString(),
      };
      await publisher.publishAsync(topics.patientDevices(ids.p), JSON.stringify(deviceEvent));
      const note = {
        id: randomUUID(),
        patientId: ids.p,
        kind: 'battery_low',
        severity: 'info',
        title: 'Please charge your glucose sensor',
        body: 'Its battery is low.',
        createdAt: new Date().toISOString(),
      };
      await publisher.publishAsync(topics.patientNotifications(ids.p), JSON.stringify(note));
      // The patient's own socket gets everything: once it has, so would the caregiver's have.
      await waitFor(
        () =>
          control.reading.length === 2 &&
          ours(control.alert).length === 2 &&
          control.device.length === 1 &&
          control.notification.length === 1,
        'patient socket received every event',
        5000,
      );
      await waitFor(() => seen.reading.length === 1 && ours(seen.alert).length === 1, 'caregiver events', 5000);
      expect((seen.reading as LiveReadingEvent[]).map((r) => r.metric)).toEqual(['glucose']);
      expect(ours(seen.alert).map((a) => a.metric)).toEqual(['glucose']);
      expect(seen.device).toEqual([]);
      expect(seen.notification).toEqual([]);
    });

    it('a scope change swaps what the socket receives, without resubscribing', async () => {
      const { shareId, token } = await caregiverOfP(['glucose']);
      const carer = await live(token);
      const seen = record(carer);
      await ask(carer, 'subscribe', { patientId: ids.p });
      await api.http
        .patch(`/api/v1/me/caregivers/${shareId}`)
        .set(auth(patient))
        .send({ scopes: ['cardiac'] })
        .expect(200);
      const since = performance.now();
      // Until the first heart rate arrives: that is when the new scope is in force.
      await waitFor(
        async () => {
          await publishReading(ids.oximeter, 'heart_rate', 90);
          return (seen.reading as LiveReadingEvent[]).some((r) => r.metric === 'heart_rate');
        },
        'heart rate after the scope change',
        5000,
        50,
      );
      timings.push(['scope change, same instance: first cardiac reading', Math.round(performance.now() - since)]);
      const before = seen.reading.length;
      await publishReading(ids.cgm, 'glucose', 140);
      await publishReading(ids.oximeter, 'heart_rate', 91);
      await waitFor(() => seen.reading.length === before + 1, 'the heart rate after', 5000);
      expect((seen.reading as LiveReadingEvent[]).slice(before).map((r) => r.metric)).toEqual(['heart_rate']);
    });

    /**
     * Publishes a shared reading every 50 ms until the caregiver's socket has missed 5 in a row that
     * the patient's own socket received (at most 5 s): the time from the revoking request to the
     * first of those misses is when the caregiver stopped receiving.
     */
    async function stoppedReceiving(carer: LiveClient, own: LiveClient, revoke: () => Promise<void>): Promise<number> {
      const seen = record(carer);
      const control = record(own);
      const got = (events: unknown[], value: number) => (events as LiveReadingEvent[]).some((r) => r.value === value);
      await publishReading(ids.cgm, 'glucose', 100);
      await waitFor(() => got(seen.reading, 100) && got(control.reading, 100), 'caregiver receives before', 5000);
      const since = performance.now();
      await revoke();
      const sent: { value: number; at: number }[] = [];
      let value = 101;
      let stoppedAt: number | undefined;
      while (performance.now() - since < 6000) {
        sent.push({ value, at: performance.now() });
        await publishReading(ids.cgm, 'glucose', value);
        value += 1;
        await new Promise((resolve) => setTimeout(resolve, 50));
        const delivered = sent.filter((s) => got(control.reading, s.value));
        const missedRun = [];
        for (const s of delivered.reverse()) {
          if (got(seen.reading, s.value)) break;
          missedRun.unshift(s);
        }
        if (missedRun.length >= 5) {
          stoppedAt = missedRun[0].at - since;
          break;
        }
      }
      expect(stoppedAt).toBeDefined();
      // Nothing more arrives afterwards.
      const count = seen.reading.length;
      await publishReading(ids.cgm, 'glucose', 300);
      await waitFor(() => got(control.reading, 300), 'patient still receives', 5000);
      expect(seen.reading.length).toBe(count);
      return stoppedAt!;
    }

    it('revocation stops the caregiver socket receiving within 5 s (same api instance)', async () => {
      const { shareId, token } = await caregiverOfP(['glucose']);
      const carer = await live(token);
      const own = await live(patient);
      await ask(carer, 'subscribe', { patientId: ids.p });
      await ask(own, 'subscribe', { patientId: ids.p });
      const ms = await stoppedReceiving(carer, own, async () => {
        await api.http.delete(`/api/v1/me/caregivers/${shareId}`).set(auth(patient)).expect(204);
      });
      timings.push(['revocation, same instance: stopped receiving', Math.round(ms)]);
      expect(ms).toBeLessThan(5000);
      // The socket itself stays: the caregiver may watch other patients.
      expect(carer.connected).toBe(true);
      expect(await ask(carer, 'subscribe', { patientId: ids.p })).toEqual({ ok: false, error: 'not_found' });
    });

    it('revocation stops a socket on another api instance within 5 s', async () => {
      const { shareId, token } = await caregiverOfP(['glucose']);
      const carer = await live(token, second.url);
      const own = await live(patient);
      await ask(carer, 'subscribe', { patientId: ids.p });
      await ask(own, 'subscribe', { patientId: ids.p });
      const ms = await stoppedReceiving(carer, own, async () => {
        await api.http.delete(`/api/v1/me/caregivers/${shareId}`).set(auth(patient)).expect(204);
      });
      timings.push(['revocation, other instance: stopped receiving', Math.round(ms)]);
      expect(ms).toBeLessThan(5000);
    });
  });

  describe('access log', () => {
    it('tells the patient, newest first and in plain words, who read or watched their data — not their own reads', async () => {
      const { token } = await caregiverOfP(['glucose'], 'Maria Souza');
      const carer = await live(token);
      await ask(carer, 'subscribe', { patientId: ids.p });
      await api.http.get(`/api/v1/patients/${ids.p}/latest`).set(auth(patient)).expect(200);
      const since = new Date(Date.now() - 86_400_000).toISOString();
      await api.http
        .get(`/api/v1/patients/${ids.p}/readings?metric=glucose&from=${since}&bucket=1h`)
        .set(auth(clinician))
        .expect(200);
      const log = bodyOf<AccessLogEntryDto[]>(
        await api.http.get('/api/v1/me/access-log').set(auth(patient)).expect(200),
      );
      expect(log[0]).toEqual({
        id: expect.any(String),
        at: expect.any(String),
        actor: { id: expect.any(String), name: 'Dr Reyes', role: 'clinician' },
        action: 'readings.read',
        detail: 'Dr Reyes viewed your glucose (blood sugar) history',
      });
      expect(log[1]).toMatchObject({
        actor: { name: 'Maria Souza', role: 'caregiver' },
        action: 'live.subscribe',
        detail: 'Maria Souza started watching your readings as they arrive',
      });
      expect(log.find((e) => e.action === 'caregiver.accept')?.detail).toBe(
        'Maria Souza accepted your invitation to see your data',
      );
      const me = bodyOf<{ id: string }>(await api.http.get('/api/v1/me').set(auth(patient)).expect(200));
      expect(log.some((e) => e.actor.id === me.id)).toBe(false);
      expect(log.map((e) => Number(e.id))).toEqual([...log.map((e) => Number(e.id))].sort((a, b) => b - a));
      // Paged backwards by id.
      const first = bodyOf<AccessLogEntryDto[]>(
        await api.http.get('/api/v1/me/access-log?limit=2').set(auth(patient)).expect(200),
      );
      const next = bodyOf<AccessLogEntryDto[]>(
        await api.http.get(`/api/v1/me/access-log?limit=2&before=${first[1].id}`).set(auth(patient)).expect(200),
      );
      expect([...first, ...next].map((e) => e.id)).toEqual(log.slice(0, 4).map((e) => e.id));
      // Another patient's log does not show it.
      const others = bodyOf<AccessLogEntryDto[]>(
        await api.http.get('/api/v1/me/access-log').set(auth(otherPatient)).expect(200),
      );
      expect(others.some((e) => e.action === 'live.subscribe' && e.actor.name === 'Maria Souza')).toBe(false);
    });
  });
});
