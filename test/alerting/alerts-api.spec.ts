import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { MqttClient } from 'mqtt';
import { topicsFor } from '@lantern/messaging';
import { ADMIN_EMAIL, ADMIN_PASSWORD, startApi, type ApiFixture } from '../api/api-fixture.js';
import { bodyOf } from '../support/http.js';
import { connectMqtt } from '../support/mqtt.js';
import { waitFor } from '../support/wait.js';
import type {
  AlertDto,
  AlertPageDto,
  AlertRuleDto,
  NotificationDto,
  NotificationPageDto,
} from '../../apps/api/src/alerts/alert.dto.js';
import type { ErrorBodyDto } from '../../apps/api/src/http/error-body.dto.js';
import type { PatientDto } from '../../apps/api/src/patients/patient.dto.js';
import type { UserDto } from '../../apps/api/src/users/user.dto.js';

const auth = (token: string) => ({ Authorization: `Bearer ${token}` });

describe('alerts REST (§3.4) and patient notifications (§3.5) against real PostgreSQL and broker', () => {
  let api: ApiFixture;
  let admin: string;
  let patientToken: string;
  let patientId: string;
  let otherPatientId: string;
  let clinician: string;
  let observer: MqttClient;
  const internal: { topic: string; body: Record<string, unknown> }[] = [];

  beforeAll(async () => {
    api = await startApi();
    admin = await api.login(ADMIN_EMAIL, ADMIN_PASSWORD);
    patientId = bodyOf<PatientDto>(
      await api.http.post('/api/v1/patients').set(auth(admin)).send({ displayName: 'Pat One' }).expect(201),
    ).id;
    otherPatientId = bodyOf<PatientDto>(
      await api.http.post('/api/v1/patients').set(auth(admin)).send({ displayName: 'Pat Two' }).expect(201),
    ).id;
    await api.http
      .post('/api/v1/users')
      .set(auth(admin))
      .send({ email: 'pat@home.test', password: 'a-long-password-1', role: 'patient', displayName: 'Pat', patientId })
      .expect(201);
    patientToken = await api.login('pat@home.test', 'a-long-password-1');
    const doc = bodyOf<UserDto>(
      await api.http
        .post('/api/v1/users')
        .set(auth(admin))
        .send({ email: 'doc@clinic.test', password: 'a-long-password-1', role: 'clinician', displayName: 'Doc' })
        .expect(201),
    );
    await api.http
      .post(`/api/v1/patients/${patientId}/care-team`)
      .set(auth(admin))
      .send({ clinicianId: doc.id })
      .expect(201);
    clinician = await api.login('doc@clinic.test', 'a-long-password-1');
    observer = await connectMqtt(api.mqttUrl, { protocolVersion: 5 });
    observer.on('message', (topic, payload) =>
      internal.push({ topic, body: JSON.parse(payload.toString('utf8')) as Record<string, unknown> }),
    );
    await observer.subscribeAsync(`${api.topicRoot}/#`, { qos: 1 });
  });

  afterAll(async () => {
    await observer?.endAsync();
    await api?.close();
  });

  async function insertAlert(
    patient: string,
    fields: { rule?: string; priority?: string; cleared?: boolean } = {},
  ): Promise<string> {
    const [row] = await api.db.query<{ id: string }[]>(
      `INSERT INTO alerts (patient_id, rule, metric, priority, state, message, value, peak_value, opened_at, last_triggered_at, cleared_at)
       VALUES ($1, $2, 'glucose', $3, 'open', 'Glucose 48 mg/dL — below 54 (urgent low)', 48, 45, now() - interval '10 minutes', now() - interval '5 minutes', $4)
       RETURNING id::text`,
      [patient, fields.rule ?? 'glucose.urgent_low', fields.priority ?? 'high', fields.cleared ? new Date() : null],
    );
    return row.id;
  }

  it('acknowledging a latched high alert resolves it, notifies the patient, announces it; again is 409', async () => {
    const id = await insertAlert(patientId, { cleared: true });
    const res = await api.http
      .post(`/api/v1/alerts/${id}/acknowledge`)
      .set(auth(clinician))
      .send({ note: 'called' })
      .expect(200);
    expect(res.body).toMatchObject({
      id,
      state: 'resolved',
      priority: 'high',
      peakValue: 45,
      late: false,
      escalationLevel: 0,
    });
    expect(bodyOf<AlertDto>(res).acknowledgedAt).toBeDefined();
    const again = await api.http.post(`/api/v1/alerts/${id}/acknowledge`).set(auth(clinician)).send({});
    expect(again.status).toBe(409);
    expect(again.body).toMatchObject({ statusCode: 409, error: 'Conflict' });
    await api.http.post(`/api/v1/alerts/${id}/resolve`).set(auth(clinician)).send({}).expect(409);
    const changed = await waitFor(
      () => internal.find((m) => m.topic === topicsFor(api.topicRoot).alertChanged && m.body.alertId === id),
      'alert-changed',
    );
    expect(changed.body.transitions).toEqual(['acknowledged', 'resolved']);
    const events = internal.filter((m) => m.topic.endsWith(`/patients/${patientId}/alerts`)).map((m) => m.body.state);
    expect(events).toEqual(['acknowledged', 'resolved']);

    const mine = bodyOf<NotificationPageDto>(
      await api.http.get('/api/v1/me/notifications').set(auth(patientToken)).expect(200),
    );
    expect(mine.total).toBe(1);
    expect(mine.items[0]).toMatchObject({
      kind: 'alert_acknowledged',
      title: 'Your care team has seen your alert',
      alertId: id,
      patientId,
    });
    const read = await api.http
      .post(`/api/v1/me/notifications/${mine.items[0].id}/read`)
      .set(auth(patientToken))
      .expect(200);
    expect(bodyOf<NotificationDto>(read).readAt).toBeDefined();
    expect(
      bodyOf<NotificationPageDto>(await api.http.get('/api/v1/me/notifications?unread=true').set(auth(patientToken)))
        .total,
    ).toBe(0);
    await api.http.get('/api/v1/me/notifications').set(auth(clinician)).expect(403);
  });

  it('acknowledging an uncleared alert leaves it acknowledged; resolving by hand resolves it', async () => {
    const id = await insertAlert(patientId, { rule: 'glucose.low', priority: 'medium' });
    expect(
      bodyOf<AlertDto>(await api.http.post(`/api/v1/alerts/${id}/acknowledge`).set(auth(admin)).send({}).expect(200))
        .state,
    ).toBe('acknowledged');
    const resolved = await api.http
      .post(`/api/v1/alerts/${id}/resolve`)
      .set(auth(admin))
      .send({ note: 'ok' })
      .expect(200);
    expect(resolved.body).toMatchObject({ state: 'resolved' });
  });

  it('lists only visible alerts, newest first, filtered; another team’s alert answers 404', async () => {
    const hidden = await insertAlert(otherPatientId);
    await api.http.post(`/api/v1/alerts/${hidden}/acknowledge`).set(auth(clinician)).send({}).expect(404);
    await api.http.post(`/api/v1/alerts/${hidden}/acknowledge`).set(auth(patientToken)).send({}).expect(403);
    const list = bodyOf<AlertPageDto>(await api.http.get('/api/v1/alerts').set(auth(clinician)).expect(200));
    expect(list.items.every((a) => a.patientId === patientId)).toBe(true);
    expect(list.total).toBe(2);
    const resolved = bodyOf<AlertPageDto>(
      await api.http
        .get(`/api/v1/alerts?patientId=${patientId}&state=resolved&priority=high`)
        .set(auth(clinician))
        .expect(200),
    );
    expect(resolved.total).toBe(1);
    await api.http.get(`/api/v1/alerts?patientId=${otherPatientId}`).set(auth(clinician)).expect(404);
    expect(bodyOf<AlertPageDto>(await api.http.get('/api/v1/alerts').set(auth(admin))).total).toBe(3);
  });

  it('alert rules: effective set, validated override merged and announced, revert to default', async () => {
    const rules = await api.http.get(`/api/v1/patients/${patientId}/alert-rules`).set(auth(patientToken)).expect(200);
    expect(rules.body).toHaveLength(18);
    expect(bodyOf<AlertRuleDto[]>(rules)[1]).toMatchObject({
      key: 'glucose.low',
      source: 'default',
      enabled: true,
      params: { threshold: 70 },
    });

    const put = await api.http
      .put(`/api/v1/patients/${patientId}/alert-rules/glucose.low`)
      .set(auth(clinician))
      .send({ threshold: 65 })
      .expect(200);
    expect(put.body).toMatchObject({
      key: 'glucose.low',
      source: 'patient',
      enabled: true,
      params: { threshold: 65, delaySec: 0 },
    });
    const merged = await api.http
      .put(`/api/v1/patients/${patientId}/alert-rules/glucose.low`)
      .set(auth(clinician))
      .send({ delaySec: 120 })
      .expect(200);
    expect(bodyOf<AlertRuleDto>(merged).params).toMatchObject({ threshold: 65, delaySec: 120 });
    await waitFor(
      () => internal.find((m) => m.topic === topicsFor(api.topicRoot).rulesChanged && m.body.patientId === patientId),
      'rules-changed',
    );

    const bad = await api.http
      .put(`/api/v1/patients/${patientId}/alert-rules/glucose.low`)
      .set(auth(clinician))
      .send({ threshold: 1000, colour: 'red' });
    expect(bad.status).toBe(400);
    expect(bodyOf<ErrorBodyDto>(bad).message).toContain('threshold must be a number between 20 and 600 (mg/dL)');
    await api.http
      .put(`/api/v1/patients/${patientId}/alert-rules/glucose.nope`)
      .set(auth(clinician))
      .send({})
      .expect(404);
    await api.http
      .put(`/api/v1/patients/${patientId}/alert-rules/glucose.low`)
      .set(auth(patientToken))
      .send({ threshold: 60 })
      .expect(403);
    await api.http
      .put(`/api/v1/patients/${otherPatientId}/alert-rules/glucose.low`)
      .set(auth(clinician))
      .send({ threshold: 60 })
      .expect(404);

    const reverted = await api.http
      .delete(`/api/v1/patients/${patientId}/alert-rules/glucose.low`)
      .set(auth(clinician))
      .expect(200);
    expect(reverted.body).toMatchObject({ source: 'default', params: { threshold: 70 } });
  });
});
