import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { RejectionRepository } from '@lantern/storage';
import type { AuditEntryDto } from '../../apps/api/src/audit/audit.dto.js';
import type { DeviceDto } from '../../apps/api/src/devices/device.dto.js';
import type { PatientDto } from '../../apps/api/src/patients/patient.dto.js';
import type { UserDto } from '../../apps/api/src/users/user.dto.js';
import { bodyOf } from '../support/http.js';
import { ADMIN_EMAIL, ADMIN_PASSWORD, startApi, type ApiFixture } from './api-fixture.js';

/**
 * Every read and change of a patient's alerts, rules, notifications and dead letters leaves an
 * audit entry that `GET /audit?patientId=` finds — lists across patients included (one entry per
 * patient shown), so an admin can see who saw a patient in a list.
 */
describe('audit of patient data (real PostgreSQL)', () => {
  const password = 'a-long-password-1';
  const auth = (token: string) => ({ Authorization: `Bearer ${token}` });
  let api: ApiFixture;
  let admin: string;
  /** Clinician A: care team of P and Q. */
  let clinician: string;
  let clinicianId: string;
  /** Clinician C: on no care team. */
  let lonely: string;
  let lonelyId: string;
  let patientToken: string;
  let adminId: string;
  let patientUserId: string;
  const patient = { P: '', Q: '', R: '' };
  let deviceOfP: string;

  async function createUser(body: Record<string, unknown>): Promise<string> {
    const res = await api.http
      .post('/api/v1/users')
      .set(auth(admin))
      .send({ password, displayName: String(body.email), ...body })
      .expect(201);
    return bodyOf<UserDto>(res).id;
  }

  async function createPatient(name: string): Promise<string> {
    return bodyOf<PatientDto>(
      await api.http.post('/api/v1/patients').set(auth(admin)).send({ displayName: name }).expect(201),
    ).id;
  }

  async function insertAlert(patientId: string, rule: string): Promise<string> {
    const [row] = await api.db.query<{ id: string }[]>(
      `INSERT INTO alerts (patient_id, rule, metric, priority, state, message, value, opened_at, last_triggered_at)
       VALUES ($1, $2, 'glucose', 'medium', 'open', 'Glucose 65 mg/dL — below 70 (low)', 65, now() - interval '5 minutes', now())
       RETURNING id::text`,
      [patientId, rule],
    );
    return row.id;
  }

  /** The audit log of one patient (or of one actor), newest first, as an admin reads it. */
  async function audit(query: { patientId?: string; actorId?: string }): Promise<AuditEntryDto[]> {
    const res = await api.http
      .get(`/api/v1/audit?${new URLSearchParams({ ...query, limit: '1000' }).toString()}`)
      .set(auth(admin))
      .expect(200);
    return bodyOf<AuditEntryDto[]>(res);
  }

  /** The newest entry of `patientId` with this action by this actor, or undefined. */
  async function latestEntry(patientId: string, action: string, actorId: string): Promise<AuditEntryDto | undefined> {
    return (await audit({ patientId })).find((e) => e.action === action && e.actorId === actorId);
  }

  beforeAll(async () => {
    api = await startApi();
    admin = await api.login(ADMIN_EMAIL, ADMIN_PASSWORD);
    patient.P = await createPatient('Pat P');
    patient.Q = await createPatient('Pat Q');
    patient.R = await createPatient('Pat R');
    clinicianId = await createUser({ email: 'a@clinic.test', role: 'clinician' });
    lonelyId = await createUser({ email: 'c@clinic.test', role: 'clinician' });
    patientUserId = await createUser({ email: 'p@home.test', role: 'patient', patientId: patient.P });
    for (const id of [patient.P, patient.Q])
      await api.http.post(`/api/v1/patients/${id}/care-team`).set(auth(admin)).send({ clinicianId }).expect(201);
    deviceOfP = bodyOf<DeviceDto>(
      await api.http.post('/api/v1/devices').set(auth(admin)).send({ patientId: patient.P, type: 'cgm' }).expect(201),
    ).id;
    clinician = await api.login('a@clinic.test', password);
    lonely = await api.login('c@clinic.test', password);
    patientToken = await api.login('p@home.test', password);
    adminId = bodyOf<UserDto>(await api.http.get('/api/v1/me').set(auth(admin)).expect(200)).id;
  });

  afterAll(async () => {
    await api?.close();
  });

  it('a list of alerts across the care team is found under each patient it showed, and only those', async () => {
    await insertAlert(patient.P, 'glucose.low');
    await insertAlert(patient.P, 'glucose.high');
    await insertAlert(patient.Q, 'glucose.low');
    await insertAlert(patient.R, 'glucose.low');
    await api.http.get('/api/v1/alerts?state=open').set(auth(clinician)).expect(200);

    const ofP = await latestEntry(patient.P, 'alert.list', clinicianId);
    expect(ofP).toMatchObject({
      actorRole: 'clinician',
      patientId: patient.P,
      resource: 'alert',
      details: { count: 2, total: 3, state: 'open', patients: 2 },
    });
    expect(ofP?.ip).toMatch(/127\.0\.0\.1|::1/);
    expect(await latestEntry(patient.Q, 'alert.list', clinicianId)).toMatchObject({
      patientId: patient.Q,
      details: { count: 1 },
    });
    // R is not on A's team: A's list never showed R.
    expect(await latestEntry(patient.R, 'alert.list', clinicianId)).toBeUndefined();
  });

  it('a list that showed no patient is still recorded', async () => {
    await api.http.get('/api/v1/alerts').set(auth(lonely)).expect(200);
    const entries = await audit({ actorId: lonelyId });
    expect(entries[0]).toMatchObject({ action: 'alert.list', actorRole: 'clinician', details: { total: 0 } });
    expect(entries[0].patientId).toBeUndefined();
  });

  it("one patient's alert list, one alert, acknowledge and resolve are recorded with the patient", async () => {
    // A rule outside the catalog: acknowledging it sends the patient no notification (counted below).
    const id = await insertAlert(patient.P, 'test.not_in_catalog');
    await api.http.get(`/api/v1/alerts?patientId=${patient.P}`).set(auth(clinician)).expect(200);
    expect(await latestEntry(patient.P, 'alert.list', clinicianId)).toMatchObject({
      patientId: patient.P,
      details: { count: 3, total: 3 },
    });

    await api.http.get(`/api/v1/alerts/${id}`).set(auth(clinician)).expect(200);
    expect(await latestEntry(patient.P, 'alert.read', clinicianId)).toMatchObject({
      resource: 'alert',
      resourceId: id,
    });

    await api.http.post(`/api/v1/alerts/${id}/acknowledge`).set(auth(clinician)).send({}).expect(200);
    expect(await latestEntry(patient.P, 'alert.acknowledge', clinicianId)).toMatchObject({
      resource: 'alert',
      resourceId: id,
      details: { state: 'acknowledged' },
    });

    await api.http.post(`/api/v1/alerts/${id}/resolve`).set(auth(admin)).send({}).expect(200);
    expect(await latestEntry(patient.P, 'alert.resolve', adminId)).toMatchObject({
      actorRole: 'admin',
      resourceId: id,
      details: { state: 'resolved' },
    });
  });

  it('alert rules: reading, overriding and reverting are recorded', async () => {
    await api.http.get(`/api/v1/patients/${patient.P}/alert-rules`).set(auth(patientToken)).expect(200);
    expect(await latestEntry(patient.P, 'alert_rule.list', patientUserId)).toMatchObject({
      actorRole: 'patient',
      resource: 'alert_rule',
    });

    await api.http
      .put(`/api/v1/patients/${patient.P}/alert-rules/glucose.low`)
      .set(auth(clinician))
      .send({ threshold: 65 })
      .expect(200);
    expect(await latestEntry(patient.P, 'alert_rule.update', clinicianId)).toMatchObject({
      resourceId: 'glucose.low',
      details: { params: { threshold: 65 } },
    });

    await api.http.delete(`/api/v1/patients/${patient.P}/alert-rules/glucose.low`).set(auth(clinician)).expect(200);
    expect(await latestEntry(patient.P, 'alert_rule.revert', clinicianId)).toMatchObject({
      resourceId: 'glucose.low',
      details: { removed: true },
    });
  });

  it("a patient's notifications: listing and marking one read are recorded", async () => {
    const [row] = await api.db.query<{ id: string }[]>(
      `INSERT INTO patient_notifications (patient_id, kind, severity, title, body)
       VALUES ($1, 'battery_low', 'info', 'Please charge your glucose sensor', 'Its battery is low.') RETURNING id::text`,
      [patient.P],
    );
    await api.http.get('/api/v1/me/notifications').set(auth(patientToken)).expect(200);
    expect(await latestEntry(patient.P, 'notification.list', patientUserId)).toMatchObject({
      patientId: patient.P,
      resource: 'notification',
      details: { count: 1, total: 1, unreadOnly: false },
    });

    await api.http.post(`/api/v1/me/notifications/${row.id}/read`).set(auth(patientToken)).expect(200);
    expect(await latestEntry(patient.P, 'notification.read', patientUserId)).toMatchObject({
      resource: 'notification',
      resourceId: row.id,
    });
  });

  it('reading dead letters is recorded under the patient whose device sent them', async () => {
    await new RejectionRepository(api.db).insertMany([
      {
        receivedAt: Date.now() - 60_000,
        deviceId: deviceOfP,
        topic: `x/devices/${deviceOfP}/telemetry`,
        reason: 'payload is not valid JSON',
        payload: Buffer.from('{"readings":[{"metric":"glucose","value":'),
        payloadSize: 40,
      },
      {
        receivedAt: Date.now() - 30_000,
        deviceId: 'not-a-device',
        topic: 'x/devices/not-a-device/telemetry',
        reason: 'unknown device',
        payload: Buffer.from('{}'),
        payloadSize: 2,
      },
    ]);
    await api.http.get('/api/v1/ingest/rejections').set(auth(admin)).expect(200);
    expect(await latestEntry(patient.P, 'ingest_rejection.list', adminId)).toMatchObject({
      actorRole: 'admin',
      resource: 'ingest_rejection',
      details: { returned: 2, patients: 1 },
    });
    expect(await latestEntry(patient.Q, 'ingest_rejection.list', adminId)).toBeUndefined();

    // A page holding only unknown devices' dead letters is recorded without a patient.
    await api.http.get('/api/v1/ingest/rejections?deviceId=not-a-device').set(auth(admin)).expect(200);
    const [newest] = await audit({ actorId: adminId });
    expect(newest).toMatchObject({
      action: 'ingest_rejection.list',
      details: { returned: 1, deviceId: 'not-a-device' },
    });
    expect(newest.patientId).toBeUndefined();
  });

  it('lists of patients and of devices are found under each patient they showed', async () => {
    await api.http.get('/api/v1/patients').set(auth(clinician)).expect(200);
    for (const id of [patient.P, patient.Q])
      expect(await latestEntry(id, 'patient.list', clinicianId)).toMatchObject({ patientId: id, resource: 'patient' });
    expect(await latestEntry(patient.R, 'patient.list', clinicianId)).toBeUndefined();

    await api.http.get('/api/v1/devices').set(auth(clinician)).expect(200);
    expect(await latestEntry(patient.P, 'device.list', clinicianId)).toMatchObject({ details: { count: 1 } });
    // Q has no device: a list of devices never showed Q.
    expect(await latestEntry(patient.Q, 'device.list', clinicianId)).toBeUndefined();
  });
});
