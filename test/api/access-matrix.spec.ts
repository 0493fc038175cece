import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createECDH, randomBytes, randomUUID } from 'node:crypto';
import type { Bundle, OperationOutcome } from '@medplum/fhirtypes';
import { DEFAULT_ESCALATION } from '@lantern/domain';
import { ReadingRepository } from '@lantern/storage';
import { DeliveryReceipts } from '../../apps/api/src/escalation/delivery-receipts.js';
import { bodyOf } from '../support/http.js';
import type { ErrorBodyDto } from '../../apps/api/src/http/error-body.dto.js';
import type { PatientDetailDto } from '../../apps/api/src/patients/patient.dto.js';
import { ADMIN_EMAIL, ADMIN_PASSWORD, HOOK_SECRET, startApi, type ApiFixture } from './api-fixture.js';
import { waitFor } from '../support/wait.js';

/**
 * Every route of the API (checked against the OpenAPI document), tried as each kind of caller,
 * against the statuses of contract §3: 401 without a token, 403 for a role that may never do it,
 * 404 for a patient (or their device, alert, notification) outside the caller's visibility —
 * exactly like an unknown id.
 */
type Actor = 'admin' | 'inTeam' | 'outOfTeam' | 'patient' | 'otherPatient' | 'caregiver' | 'anonymous';
/**
 * `caregiver`: someone patient P shared `glucose` and `alerts` with (contract §4.2) — so P's glucose
 * and glucose alerts are in scope, P's devices and heart rate out of scope, and patient Q unshared.
 */
const ACTORS: Actor[] = ['admin', 'inTeam', 'outOfTeam', 'patient', 'otherPatient', 'caregiver', 'anonymous'];

interface Row {
  /** `METHOD /path` as documented, `:param` for path parameters; a variant may follow in parentheses. */
  readonly name: string;
  readonly method: 'get' | 'post' | 'put' | 'patch' | 'delete';
  /** Evaluated per call, after `prepare`. */
  readonly path: () => string;
  readonly body?: (actor: Actor) => object;
  /** Sent after the caller's token, replacing it where they collide (the broker hooks' own secret). */
  readonly headers?: Record<string, string>;
  /** Per-call setup (e.g. a fresh device to decommission); returns nothing. */
  readonly prepare?: (actor: Actor) => Promise<void>;
  readonly expected: Record<Actor, number>;
}

let api: ApiFixture;
const token: Partial<Record<Actor, string>> = {};
const ids = {
  patientP: '',
  patientQ: '',
  deviceD: '',
  freshDevice: '',
  clinicianA: '',
  clinicianB: '',
  clinicianC: '',
  alertA: '',
  alertQ: '',
  alertForAction: '',
  notificationP: '',
  /** A fresh login's refresh token, or a fresh user, for the session rows. */
  refreshToken: '',
  freshUser: '',
  /** A pending share of patient P (changed by PATCH rows), and one made for each DELETE row. */
  pendingShare: '',
  freshShare: '',
  invitationToken: '',
  delivery: '',
};
const password = 'a-long-password-1';

async function asAdmin(
  method: 'post' | 'put' | 'delete',
  path: string,
  body?: object,
): Promise<Record<string, unknown>> {
  const req = api.http[method](path).set('Authorization', `Bearer ${token.admin}`);
  const res = await (body ? req.send(body) : req);
  if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body as Record<string, unknown>;
}

async function createUser(role: string, email: string, patientId?: string): Promise<string> {
  const user = await asAdmin('post', '/api/v1/users', {
    email,
    password,
    role,
    displayName: email,
    ...(patientId && { patientId }),
  });
  return user.id as string;
}

beforeAll(async () => {
  api = await startApi();
  token.admin = await api.login(ADMIN_EMAIL, ADMIN_PASSWORD);
  ids.clinicianA = await createUser('clinician', 'a@clinic.test');
  ids.clinicianB = await createUser('clinician', 'b@clinic.test');
  ids.clinicianC = await createUser('clinician', 'c@clinic.test');
  ids.patientP = (await asAdmin('post', '/api/v1/patients', { displayName: 'Patient P' })).id as string;
  ids.patientQ = (await asAdmin('post', '/api/v1/patients', { displayName: 'Patient Q' })).id as string;
  await asAdmin('post', `/api/v1/patients/${ids.patientP}/care-team`, { clinicianId: ids.clinicianA });
  await asAdmin('post', `/api/v1/patients/${ids.patientQ}/care-team`, { clinicianId: ids.clinicianB });
  await createUser('patient', 'p@home.test', ids.patientP);
  await createUser('patient', 'q@home.test', ids.patientQ);
  ids.deviceD = (await asAdmin('post', '/api/v1/devices', { patientId: ids.patientP, type: 'cgm' })).id as string;
  token.inTeam = await api.login('a@clinic.test', password);
  token.outOfTeam = await api.login('b@clinic.test', password);
  token.patient = await api.login('p@home.test', password);
  token.otherPatient = await api.login('q@home.test', password);
  ids.alertA = await insertAlert(ids.patientP, 'glucose.high');
  ids.alertQ = await insertAlert(ids.patientQ, 'glucose.high');
  ids.notificationP = await insertNotification(ids.patientP);
  token.caregiver = await acceptedCaregiverOfP(['glucose', 'alerts']);
  ids.pendingShare = (await inviteToP(['weight'])).id;
});

/** Patient P invites a new address with `scopes`: the share's id and the invitation token. */
async function inviteToP(scopes: string[]): Promise<{ id: string; token: string }> {
  const res = await api.http
    .post('/api/v1/me/caregivers')
    .set('Authorization', `Bearer ${token.patient}`)
    .send({ email: `carer-${randomUUID()}@family.test`, scopes });
  if (res.status !== 201) throw new Error(`invite: ${res.status} ${JSON.stringify(res.body)}`);
  const body = res.body as { id: string; invitation: { token: string } };
  return { id: body.id, token: body.invitation.token };
}

/** The access token of a caregiver who accepted P's invitation with `scopes`. */
async function acceptedCaregiverOfP(scopes: string[]): Promise<string> {
  const invited = await inviteToP(scopes);
  const res = await api.http.post('/api/v1/auth/accept-invitation').send({ token: invited.token, password });
  if (res.status !== 200) throw new Error(`accept: ${res.status} ${JSON.stringify(res.body)}`);
  return (res.body as { accessToken: string }).accessToken;
}

/** The refresh token of a new login of patient P's user (a login of its own, so revoking it harms no caller). */
async function freshRefreshToken(): Promise<string> {
  const res = await api.http.post('/api/v1/auth/login').send({ email: 'p@home.test', password });
  if (res.status !== 200) throw new Error(`login: ${res.status}`);
  return (res.body as { refreshToken: string }).refreshToken;
}

/** An open alert of `patientId` (any earlier active alert of the same rule is resolved first: one active per rule). */
async function insertAlert(patientId: string, rule = 'glucose.low'): Promise<string> {
  await api.db.query(
    `UPDATE alerts SET state = 'resolved', resolved_at = now() WHERE patient_id = $1 AND rule = $2 AND state <> 'resolved'`,
    [patientId, rule],
  );
  const [row] = await api.db.query<{ id: string }[]>(
    `INSERT INTO alerts (patient_id, rule, metric, priority, state, message, value, peak_value, opened_at, last_triggered_at)
     VALUES ($1, $2, 'glucose', 'medium', 'open', 'Glucose 65 mg/dL — below 70 (low)', 65, 65, now() - interval '5 minutes', now())
     RETURNING id::text`,
    [patientId, rule],
  );
  return row.id;
}

async function insertNotification(patientId: string): Promise<string> {
  const [row] = await api.db.query<{ id: string }[]>(
    `INSERT INTO patient_notifications (patient_id, kind, severity, title, body)
     VALUES ($1, 'battery_low', 'info', 'Please charge your glucose sensor', 'Its battery is low.') RETURNING id::text`,
    [patientId],
  );
  return row.id;
}

afterAll(async () => {
  await api?.close();
});

const all = (status: number): Record<Actor, number> => ({
  admin: status,
  inTeam: status,
  outOfTeam: status,
  patient: status,
  otherPatient: status,
  caregiver: status,
  anonymous: status,
});
const adminOnly = (status: number): Record<Actor, number> => ({
  admin: status,
  inTeam: 403,
  outOfTeam: 403,
  patient: 403,
  otherPatient: 403,
  caregiver: 403,
  anonymous: 401,
});

/** Staff only: admins and clinicians (any team), not patients or caregivers. */
const staffOnly = (status: number): Record<Actor, number> => ({
  admin: status,
  inTeam: status,
  outOfTeam: status,
  patient: 403,
  otherPatient: 403,
  caregiver: 403,
  anonymous: 401,
});

/** A route about patient P: seen by the admin, P's care team, P, and P's caregiver when in scope; 404 for the others. */
const visibleToP = (status: number, caregiver: 'in scope' | 'out of scope' = 'in scope'): Record<Actor, number> => ({
  admin: status,
  inTeam: status,
  outOfTeam: 404,
  patient: status,
  otherPatient: 404,
  caregiver: caregiver === 'in scope' ? status : 404,
  anonymous: 401,
});
/** A clinical change to patient P: admin and P's care team; 404 for another team; 403 for patients and caregivers. */
const clinicalChangeToP = (status: number): Record<Actor, number> => ({
  admin: status,
  inTeam: status,
  outOfTeam: 404,
  patient: 403,
  otherPatient: 403,
  caregiver: 403,
  anonymous: 401,
});
const patientsOnly = (status: number): Record<Actor, number> => ({
  admin: 403,
  inTeam: 403,
  outOfTeam: 403,
  patient: status,
  otherPatient: status,
  caregiver: 403,
  anonymous: 401,
});
/** Patient P's care circle: P; another patient's share id is unknown to Q (404); 403 for everyone else. */
const ownCareCircleOfP = (status: number): Record<Actor, number> => ({ ...patientsOnly(status), otherPatient: 404 });

const HOOK_AUTH = { Authorization: `Bearer ${HOOK_SECRET}` };

/** What a browser's `PushSubscription.toJSON()` gives, for `endpoint`. */
function browserPushSubscription(endpoint: string): object {
  const ecdh = createECDH('prime256v1');
  ecdh.generateKeys();
  return { endpoint, keys: { p256dh: ecdh.getPublicKey('base64url'), auth: randomBytes(16).toString('base64url') } };
}

const ROWS: Row[] = [
  {
    name: 'POST /auth/login',
    method: 'post',
    path: () => '/api/v1/auth/login',
    body: () => ({ email: 'p@home.test', password }),
    expected: all(200),
  },
  {
    name: 'POST /auth/login (wrong password)',
    method: 'post',
    path: () => '/api/v1/auth/login',
    body: () => ({ email: 'p@home.test', password: 'not-the-password' }),
    expected: all(401),
  },
  {
    name: 'POST /auth/refresh',
    method: 'post',
    path: () => '/api/v1/auth/refresh',
    // The refresh token is the credential: anyone holding one may exchange it, whatever else they send.
    prepare: async () => {
      ids.refreshToken = await freshRefreshToken();
    },
    body: () => ({ refreshToken: ids.refreshToken }),
    expected: all(200),
  },
  {
    name: 'POST /auth/refresh (unknown token)',
    method: 'post',
    path: () => '/api/v1/auth/refresh',
    body: () => ({ refreshToken: 'not-a-refresh-token' }),
    expected: all(401),
  },
  {
    name: 'POST /auth/logout',
    method: 'post',
    path: () => '/api/v1/auth/logout',
    // A refresh token in the body names exactly the login to end: the caller's own bearer token stays valid.
    prepare: async () => {
      ids.refreshToken = await freshRefreshToken();
    },
    body: () => ({ refreshToken: ids.refreshToken }),
    expected: all(204),
  },
  { name: 'GET /me', method: 'get', path: () => '/api/v1/me', expected: { ...all(200), anonymous: 401 } },
  {
    name: 'POST /me/password',
    method: 'post',
    path: () => '/api/v1/me/password',
    // Same password again: a change all the same (every other login of the caller ends), and later rows still sign in.
    body: (actor) => {
      const current = actor === 'admin' ? ADMIN_PASSWORD : password;
      return { currentPassword: current, newPassword: current };
    },
    expected: { ...all(204), anonymous: 401 },
  },
  {
    name: 'POST /users',
    method: 'post',
    path: () => '/api/v1/users',
    body: (actor) => ({
      email: `new-${actor}-${randomUUID()}@clinic.test`,
      password,
      role: 'clinician',
      displayName: 'New',
    }),
    expected: adminOnly(201),
  },
  { name: 'GET /users', method: 'get', path: () => '/api/v1/users', expected: adminOnly(200) },
  {
    name: 'PATCH /users/:id',
    method: 'patch',
    path: () => `/api/v1/users/${ids.freshUser}`,
    prepare: async () => {
      ids.freshUser = await createUser('clinician', `fresh-${randomUUID()}@clinic.test`);
    },
    body: () => ({ disabled: true }),
    expected: adminOnly(200),
  },
  {
    name: 'POST /users/:id/reset-password',
    method: 'post',
    path: () => `/api/v1/users/${ids.freshUser}/reset-password`,
    prepare: async () => {
      ids.freshUser = await createUser('clinician', `fresh-${randomUUID()}@clinic.test`);
    },
    expected: adminOnly(200),
  },
  {
    name: 'POST /patients',
    method: 'post',
    path: () => '/api/v1/patients',
    body: () => ({ displayName: 'Someone new' }),
    expected: {
      admin: 201,
      inTeam: 201,
      outOfTeam: 201,
      patient: 403,
      otherPatient: 403,
      caregiver: 403,
      anonymous: 401,
    },
  },
  { name: 'GET /patients', method: 'get', path: () => '/api/v1/patients', expected: { ...all(200), anonymous: 401 } },
  {
    name: 'GET /patients/:id',
    method: 'get',
    path: () => `/api/v1/patients/${ids.patientP}`,
    expected: visibleToP(200),
  },
  {
    name: 'POST /patients/:id/care-team',
    method: 'post',
    path: () => `/api/v1/patients/${ids.patientP}/care-team`,
    body: () => ({ clinicianId: ids.clinicianC }),
    expected: adminOnly(201),
  },
  {
    name: 'DELETE /patients/:id/care-team/:clinicianId',
    method: 'delete',
    path: () => `/api/v1/patients/${ids.patientP}/care-team/${ids.clinicianC}`,
    prepare: async (actor) => {
      if (actor === 'admin')
        await asAdmin('post', `/api/v1/patients/${ids.patientP}/care-team`, { clinicianId: ids.clinicianC });
    },
    expected: adminOnly(204),
  },
  {
    name: 'POST /devices',
    method: 'post',
    path: () => '/api/v1/devices',
    body: () => ({ patientId: ids.patientP, type: 'pulse_oximeter', serial: 'SN-1' }),
    expected: { ...clinicalChangeToP(201) },
  },
  {
    name: 'GET /devices?patientId=',
    method: 'get',
    path: () => `/api/v1/devices?patientId=${ids.patientP}`,
    expected: visibleToP(200, 'out of scope'),
  },
  { name: 'GET /devices', method: 'get', path: () => '/api/v1/devices', expected: { ...all(200), anonymous: 401 } },
  {
    name: 'GET /devices/:id',
    method: 'get',
    path: () => `/api/v1/devices/${ids.deviceD}`,
    expected: visibleToP(200, 'out of scope'),
  },
  {
    name: 'POST /devices/:id/rotate-secret',
    method: 'post',
    path: () => `/api/v1/devices/${ids.deviceD}/rotate-secret`,
    expected: clinicalChangeToP(200),
  },
  {
    name: 'DELETE /devices/:id',
    method: 'delete',
    path: () => `/api/v1/devices/${ids.freshDevice}`,
    prepare: async () => {
      ids.freshDevice = (await asAdmin('post', '/api/v1/devices', { patientId: ids.patientP, type: 'weight_scale' }))
        .id as string;
    },
    expected: clinicalChangeToP(200),
  },
  {
    name: 'GET /audit?patientId=',
    method: 'get',
    path: () => `/api/v1/audit?patientId=${ids.patientP}`,
    expected: adminOnly(200),
  },
  { name: 'GET /health', method: 'get', path: () => '/health', expected: all(200) },
  { name: 'GET /metrics', method: 'get', path: () => '/metrics', expected: all(200) },
  // The broker hooks answer only the broker, which presents MQTT_HOOK_SECRET; a user token is not it.
  {
    name: 'POST /mqtt/authenticate',
    method: 'post',
    path: () => '/api/v1/mqtt/authenticate',
    body: () => ({ username: ids.deviceD, password: 'wrong' }),
    headers: HOOK_AUTH,
    expected: all(200),
  },
  {
    name: 'POST /mqtt/authenticate (without the hook secret)',
    method: 'post',
    path: () => '/api/v1/mqtt/authenticate',
    body: () => ({ username: ids.deviceD, password: 'wrong' }),
    expected: all(401),
  },
  {
    name: 'POST /mqtt/authorize',
    method: 'post',
    path: () => '/api/v1/mqtt/authorize',
    body: () => ({ username: ids.deviceD, topic: 'x', action: 'publish' }),
    headers: HOOK_AUTH,
    expected: all(200),
  },
  {
    name: 'POST /mqtt/superuser',
    method: 'post',
    path: () => '/api/v1/mqtt/superuser',
    body: () => ({ username: ids.deviceD }),
    headers: HOOK_AUTH,
    expected: all(200),
  },
  {
    name: 'GET /patients/:id/readings (raw)',
    method: 'get',
    path: () => `/api/v1/patients/${ids.patientP}/readings?metric=glucose`,
    expected: visibleToP(200),
  },
  {
    name: 'GET /patients/:id/readings (raw, a metric not shared with the caregiver)',
    method: 'get',
    path: () => `/api/v1/patients/${ids.patientP}/readings?metric=heart_rate`,
    expected: visibleToP(200, 'out of scope'),
  },
  {
    name: 'GET /patients/:id/readings (bucketed)',
    method: 'get',
    path: () => `/api/v1/patients/${ids.patientP}/readings?metric=glucose&bucket=1h`,
    expected: visibleToP(200),
  },
  {
    name: 'GET /patients/:id/readings (bucketed, a metric not shared with the caregiver)',
    method: 'get',
    path: () => `/api/v1/patients/${ids.patientP}/readings?metric=heart_rate&bucket=1h`,
    expected: visibleToP(200, 'out of scope'),
  },
  {
    name: 'GET /patients/:id/latest',
    method: 'get',
    path: () => `/api/v1/patients/${ids.patientP}/latest`,
    expected: visibleToP(200),
  },
  {
    name: 'GET /patients/:id/summary',
    method: 'get',
    path: () => `/api/v1/patients/${ids.patientP}/summary`,
    expected: visibleToP(200),
  },
  { name: 'GET /alerts', method: 'get', path: () => '/api/v1/alerts', expected: { ...all(200), anonymous: 401 } },
  {
    name: 'GET /alerts?patientId=',
    method: 'get',
    path: () => `/api/v1/alerts?patientId=${ids.patientP}`,
    expected: visibleToP(200),
  },
  { name: 'GET /alerts/:id', method: 'get', path: () => `/api/v1/alerts/${ids.alertA}`, expected: visibleToP(200) },
  {
    name: 'POST /alerts/:id/acknowledge',
    method: 'post',
    path: () => `/api/v1/alerts/${ids.alertForAction}/acknowledge`,
    prepare: async () => {
      ids.alertForAction = await insertAlert(ids.patientP);
    },
    body: () => ({ note: 'seen' }),
    expected: clinicalChangeToP(200),
  },
  {
    name: 'POST /alerts/:id/resolve',
    method: 'post',
    path: () => `/api/v1/alerts/${ids.alertForAction}/resolve`,
    prepare: async () => {
      ids.alertForAction = await insertAlert(ids.patientP);
    },
    body: () => ({}),
    expected: clinicalChangeToP(200),
  },
  {
    name: 'GET /patients/:id/escalation',
    method: 'get',
    path: () => `/api/v1/patients/${ids.patientP}/escalation`,
    // The order of who is told is the care team's and the patient's, not a caregiver's.
    expected: { ...visibleToP(200), caregiver: 403 },
  },
  {
    name: 'PUT /patients/:id/escalation',
    method: 'put',
    path: () => `/api/v1/patients/${ids.patientP}/escalation`,
    body: () => DEFAULT_ESCALATION,
    expected: clinicalChangeToP(200),
  },
  {
    name: 'DELETE /patients/:id/escalation',
    method: 'delete',
    path: () => `/api/v1/patients/${ids.patientP}/escalation`,
    expected: clinicalChangeToP(200),
  },
  {
    name: 'GET /alerts/:id/deliveries',
    method: 'get',
    path: () => `/api/v1/alerts/${ids.alertA}/deliveries`,
    expected: visibleToP(200),
  },
  {
    name: 'GET /alerts/:id/timeline',
    method: 'get',
    path: () => `/api/v1/alerts/${ids.alertA}/timeline`,
    expected: visibleToP(200),
  },
  {
    name: 'POST /me/alerts/:id/acknowledge',
    method: 'post',
    path: () => `/api/v1/me/alerts/${ids.alertForAction}/acknowledge`,
    prepare: async () => {
      ids.alertForAction = await insertAlert(ids.patientP);
    },
    // The patient and a caregiver shown the alert confirm; clinicians acknowledge on their own route.
    expected: {
      admin: 403,
      inTeam: 403,
      outOfTeam: 403,
      patient: 200,
      otherPatient: 404,
      caregiver: 200,
      anonymous: 401,
    },
  },
  {
    name: 'POST /deliveries/:id/receipt',
    method: 'post',
    path: () => `/api/v1/deliveries/${ids.delivery}/receipt`,
    prepare: async () => {
      const [row] = await api.db.query<{ id: string }[]>(
        `INSERT INTO alert_deliveries (alert_id, patient_id, tier, recipient_role, channel)
         VALUES ($1, $2, 0, 'patient', 'push') RETURNING id::text`,
        [ids.alertA, ids.patientP],
      );
      ids.delivery = row.id;
    },
    // No login: the delivery's receipt token is the credential, whoever sends it.
    body: () => ({ token: api.app.get(DeliveryReceipts).token(ids.delivery), event: 'delivered' }),
    expected: all(204),
  },
  {
    name: 'GET /patients/:id/alert-rules',
    method: 'get',
    path: () => `/api/v1/patients/${ids.patientP}/alert-rules`,
    expected: visibleToP(200),
  },
  {
    name: 'PUT /patients/:id/alert-rules/:ruleKey',
    method: 'put',
    path: () => `/api/v1/patients/${ids.patientP}/alert-rules/glucose.low`,
    body: () => ({ threshold: 65 }),
    expected: clinicalChangeToP(200),
  },
  {
    name: 'DELETE /patients/:id/alert-rules/:ruleKey',
    method: 'delete',
    path: () => `/api/v1/patients/${ids.patientP}/alert-rules/glucose.low`,
    prepare: async () => {
      await asAdmin('put', `/api/v1/patients/${ids.patientP}/alert-rules/glucose.low`, { threshold: 65 });
    },
    expected: clinicalChangeToP(200),
  },
  {
    name: 'GET /me/notifications',
    method: 'get',
    path: () => '/api/v1/me/notifications',
    expected: patientsOnly(200),
  },
  {
    name: 'POST /me/notifications/:id/read',
    method: 'post',
    path: () => `/api/v1/me/notifications/${ids.notificationP}/read`,
    // Another patient's notification answers like an unknown one.
    expected: { ...patientsOnly(200), otherPatient: 404 },
  },
  { name: 'GET /ingest/rejections', method: 'get', path: () => '/api/v1/ingest/rejections', expected: adminOnly(200) },
  {
    name: 'GET /webhook-deliveries',
    method: 'get',
    path: () => '/api/v1/webhook-deliveries',
    expected: adminOnly(200),
  },
  { name: 'GET /monitoring', method: 'get', path: () => '/api/v1/monitoring', expected: staffOnly(200) },
  {
    name: 'POST /me/caregivers',
    method: 'post',
    path: () => '/api/v1/me/caregivers',
    body: () => ({ email: `carer-${randomUUID()}@family.test`, scopes: ['glucose'] }),
    expected: patientsOnly(201),
  },
  { name: 'GET /me/caregivers', method: 'get', path: () => '/api/v1/me/caregivers', expected: patientsOnly(200) },
  {
    name: 'PATCH /me/caregivers/:id',
    method: 'patch',
    path: () => `/api/v1/me/caregivers/${ids.pendingShare}`,
    body: () => ({ scopes: ['weight'] }),
    expected: ownCareCircleOfP(200),
  },
  {
    name: 'DELETE /me/caregivers/:id',
    method: 'delete',
    path: () => `/api/v1/me/caregivers/${ids.freshShare}`,
    prepare: async () => {
      ids.freshShare = (await inviteToP(['glucose'])).id;
    },
    expected: ownCareCircleOfP(204),
  },
  { name: 'GET /me/access-log', method: 'get', path: () => '/api/v1/me/access-log', expected: patientsOnly(200) },
  { name: 'GET /me/settings', method: 'get', path: () => '/api/v1/me/settings', expected: patientsOnly(200) },
  {
    name: 'GET /push/public-key',
    method: 'get',
    path: () => '/api/v1/push/public-key',
    expected: { ...all(200), anonymous: 401 },
  },
  {
    name: 'POST /me/push-subscriptions',
    method: 'post',
    path: () => '/api/v1/me/push-subscriptions',
    body: () => browserPushSubscription(`https://push.example.org/${randomUUID()}`),
    expected: { ...all(201), anonymous: 401 },
  },
  {
    name: 'DELETE /me/push-subscriptions',
    method: 'delete',
    path: () => '/api/v1/me/push-subscriptions',
    // Each caller removes the subscription they registered just before.
    prepare: async (actor) => {
      if (actor === 'anonymous') return;
      await api.http
        .post('/api/v1/me/push-subscriptions')
        .set('Authorization', `Bearer ${token[actor]}`)
        .send(browserPushSubscription(`https://push.example.org/matrix-${actor}`))
        .expect(201);
    },
    body: (actor) => ({ endpoint: `https://push.example.org/matrix-${actor}` }),
    expected: { ...all(204), anonymous: 401 },
  },
  {
    name: 'PUT /me/settings',
    method: 'put',
    path: () => '/api/v1/me/settings',
    body: () => ({ quietHours: null }),
    expected: patientsOnly(200),
  },
  {
    name: 'POST /auth/accept-invitation',
    method: 'post',
    path: () => '/api/v1/auth/accept-invitation',
    // The token is the credential: anyone holding one may accept it, whoever else they are signed in as.
    prepare: async () => {
      ids.invitationToken = (await inviteToP(['glucose'])).token;
    },
    body: () => ({ token: ids.invitationToken, password }),
    expected: all(200),
  },
  {
    name: 'POST /auth/accept-invitation (unknown token)',
    method: 'post',
    path: () => '/api/v1/auth/accept-invitation',
    body: () => ({ token: 'not-an-invitation-token', password }),
    expected: all(401),
  },
];

/** `GET /patients/:id (variant)` → `GET /api/v1/patients/{id}`, as the OpenAPI document names it. */
function documentedRoute(name: string): string {
  const [method, path] = name.replace(/ \(.*\)$/, '').split(' ');
  const bare = path.replace(/\?.*$/, '').replace(/:(\w+)/g, '{$1}');
  return `${method} ${bare === '/health' || bare === '/metrics' ? bare : `/api/v1${bare}`}`;
}

/**
 * Routes about one patient's data, each tried by a caller who may not see that patient and with an
 * id that does not exist: the two answers must be the same but for the id (contract §3).
 */
interface HiddenCase {
  readonly name: string;
  readonly method: 'get' | 'post' | 'put' | 'patch' | 'delete';
  readonly path: (id: string) => string;
  /** The id of the existing resource, read when the case runs. */
  readonly hiddenId: () => string;
  readonly actor: Actor;
  readonly body?: object;
}

const HIDDEN: HiddenCase[] = [
  ...(['outOfTeam', 'otherPatient'] as const).flatMap((actor): HiddenCase[] => [
    {
      name: 'GET /patients/:id',
      method: 'get',
      path: (id) => `/api/v1/patients/${id}`,
      hiddenId: () => ids.patientP,
      actor,
    },
    {
      name: 'GET /patients/:id/readings (raw)',
      method: 'get',
      path: (id) => `/api/v1/patients/${id}/readings?metric=glucose`,
      hiddenId: () => ids.patientP,
      actor,
    },
    {
      name: 'GET /patients/:id/readings (bucketed)',
      method: 'get',
      path: (id) => `/api/v1/patients/${id}/readings?metric=glucose&bucket=1h`,
      hiddenId: () => ids.patientP,
      actor,
    },
    {
      name: 'GET /patients/:id/latest',
      method: 'get',
      path: (id) => `/api/v1/patients/${id}/latest`,
      hiddenId: () => ids.patientP,
      actor,
    },
    {
      name: 'GET /patients/:id/summary',
      method: 'get',
      path: (id) => `/api/v1/patients/${id}/summary`,
      hiddenId: () => ids.patientP,
      actor,
    },
    {
      name: 'GET /patients/:id/alert-rules',
      method: 'get',
      path: (id) => `/api/v1/patients/${id}/alert-rules`,
      hiddenId: () => ids.patientP,
      actor,
    },
    {
      name: 'GET /alerts?patientId=',
      method: 'get',
      path: (id) => `/api/v1/alerts?patientId=${id}`,
      hiddenId: () => ids.patientP,
      actor,
    },
    { name: 'GET /alerts/:id', method: 'get', path: (id) => `/api/v1/alerts/${id}`, hiddenId: () => ids.alertA, actor },
    {
      name: 'GET /devices?patientId=',
      method: 'get',
      path: (id) => `/api/v1/devices?patientId=${id}`,
      hiddenId: () => ids.patientP,
      actor,
    },
    {
      name: 'GET /devices/:id',
      method: 'get',
      path: (id) => `/api/v1/devices/${id}`,
      hiddenId: () => ids.deviceD,
      actor,
    },
  ]),
  {
    name: 'POST /alerts/:id/acknowledge',
    method: 'post',
    path: (id) => `/api/v1/alerts/${id}/acknowledge`,
    hiddenId: () => ids.alertA,
    actor: 'outOfTeam',
    body: {},
  },
  {
    name: 'POST /alerts/:id/resolve',
    method: 'post',
    path: (id) => `/api/v1/alerts/${id}/resolve`,
    hiddenId: () => ids.alertA,
    actor: 'outOfTeam',
    body: {},
  },
  {
    name: 'PUT /patients/:id/alert-rules/:ruleKey',
    method: 'put',
    path: (id) => `/api/v1/patients/${id}/alert-rules/glucose.low`,
    hiddenId: () => ids.patientP,
    actor: 'outOfTeam',
    body: { threshold: 60 },
  },
  {
    name: 'DELETE /patients/:id/alert-rules/:ruleKey',
    method: 'delete',
    path: (id) => `/api/v1/patients/${id}/alert-rules/glucose.low`,
    hiddenId: () => ids.patientP,
    actor: 'outOfTeam',
  },
  {
    name: 'POST /devices',
    method: 'post',
    path: () => '/api/v1/devices',
    hiddenId: () => ids.patientP,
    actor: 'outOfTeam',
    body: { patientId: ids.patientP, type: 'cgm' },
  },
  {
    name: 'POST /me/notifications/:id/read',
    method: 'post',
    path: (id) => `/api/v1/me/notifications/${id}/read`,
    hiddenId: () => ids.notificationP,
    actor: 'otherPatient',
  },
  {
    name: 'PATCH /me/caregivers/:id',
    method: 'patch',
    path: (id) => `/api/v1/me/caregivers/${id}`,
    hiddenId: () => ids.pendingShare,
    actor: 'otherPatient',
    body: { scopes: ['glucose'] },
  },
  // P's caregiver: patient Q was never shared with them, and of P devices and heart rate were not.
  ...(
    [
      ['GET /patients/:id', (id) => `/api/v1/patients/${id}`, () => ids.patientQ],
      [
        'GET /patients/:id/readings (raw)',
        (id) => `/api/v1/patients/${id}/readings?metric=glucose`,
        () => ids.patientQ,
      ],
      ['GET /patients/:id/latest', (id) => `/api/v1/patients/${id}/latest`, () => ids.patientQ],
      ['GET /patients/:id/summary', (id) => `/api/v1/patients/${id}/summary`, () => ids.patientQ],
      ['GET /patients/:id/alert-rules', (id) => `/api/v1/patients/${id}/alert-rules`, () => ids.patientQ],
      ['GET /alerts?patientId=', (id) => `/api/v1/alerts?patientId=${id}`, () => ids.patientQ],
      ['GET /alerts/:id', (id) => `/api/v1/alerts/${id}`, () => ids.alertQ],
      [
        'GET /devices?patientId= (shared patient, devices not shared)',
        (id) => `/api/v1/devices?patientId=${id}`,
        () => ids.patientP,
      ],
      ['GET /devices/:id (shared patient, devices not shared)', (id) => `/api/v1/devices/${id}`, () => ids.deviceD],
      [
        'GET /patients/:id/readings (shared patient, heart rate not shared)',
        (id) => `/api/v1/patients/${id}/readings?metric=heart_rate`,
        () => ids.patientP,
      ],
    ] as [string, (id: string) => string, () => string][]
  ).map(([name, path, hiddenId]): HiddenCase => ({ name, method: 'get', path, hiddenId, actor: 'caregiver' })),
];

describe('access matrix', () => {
  const cases = ROWS.flatMap((row) => ACTORS.map((actor) => [row.name, actor, row.expected[actor], row] as const));

  it.each(cases)('%s as %s → %i', async (_name, actor, expected, row) => {
    await row.prepare?.(actor);
    let req = api.http[row.method](row.path());
    if (actor !== 'anonymous') req = req.set('Authorization', `Bearer ${token[actor]}`);
    if (row.headers) req = req.set(row.headers);
    const res = await (row.body ? req.send(row.body(actor)) : req);
    const body = res.status >= 400 ? bodyOf<ErrorBodyDto>(res) : undefined;
    expect({ status: res.status, body }).toMatchObject({ status: expected });
    if (expected >= 400)
      expect(Object.keys(bodyOf<ErrorBodyDto>(res)).sort()).toEqual(['error', 'message', 'statusCode']);
  });

  it('has a row for every documented route', async () => {
    const res = await api.http.get('/api/docs-json').expect(200);
    const document = res.body as { paths: Record<string, Record<string, unknown>> };
    const documented = Object.entries(document.paths).flatMap(([path, operations]) =>
      Object.keys(operations).map((method) => `${method.toUpperCase()} ${path}`),
    );
    expect(documented.length).toBeGreaterThan(30);
    const covered = new Set(ROWS.map((row) => documentedRoute(row.name)));
    expect(documented.filter((route) => !covered.has(route))).toEqual([]);
    // And no row names a route that does not exist.
    expect([...covered].filter((route) => !documented.includes(route))).toEqual([]);
  });

  it.each(HIDDEN.map((c) => [c.name, c.actor, c] as const))(
    '%s as %s: a hidden resource answers exactly like an unknown one',
    async (_name, actor, c) => {
      const call = async (id: string) => {
        const path = c.path(id);
        // POST /devices names the patient in its body.
        const body = c.body && 'patientId' in c.body ? { ...c.body, patientId: id } : c.body;
        const req = api.http[c.method](path).set('Authorization', `Bearer ${token[actor]}`);
        const res = await (body ? req.send(body) : req);
        return { status: res.status, body: JSON.stringify(res.body).split(id).join('<id>') };
      };
      const hidden = await call(c.hiddenId());
      expect(hidden.status).toBe(404);
      expect(hidden).toEqual(await call(randomUUID()));
    },
  );

  it('GET /patients lists exactly the visible patients', async () => {
    const visible = async (actor: Actor): Promise<string[]> =>
      ((await api.http.get('/api/v1/patients').set('Authorization', `Bearer ${token[actor]}`)).body as { id: string }[])
        .map((p) => p.id)
        .filter((id) => id === ids.patientP || id === ids.patientQ)
        .sort();
    expect(await visible('admin')).toEqual([ids.patientP, ids.patientQ].sort());
    expect(await visible('inTeam')).toEqual([ids.patientP]);
    expect(await visible('outOfTeam')).toEqual([ids.patientQ]);
    expect(await visible('patient')).toEqual([ids.patientP]);
    expect(await visible('otherPatient')).toEqual([ids.patientQ]);
    expect(await visible('caregiver')).toEqual([ids.patientP]);
  });

  it("answers another team's patient exactly like an unknown one", async () => {
    const unknown = randomUUID();
    const hidden = await api.http
      .get(`/api/v1/patients/${ids.patientP}`)
      .set('Authorization', `Bearer ${token.outOfTeam}`);
    const missing = await api.http.get(`/api/v1/patients/${unknown}`).set('Authorization', `Bearer ${token.outOfTeam}`);
    expect(hidden.body).toEqual({ statusCode: 404, error: 'Not Found', message: `Patient ${ids.patientP} not found` });
    expect(missing.body).toEqual({ statusCode: 404, error: 'Not Found', message: `Patient ${unknown} not found` });
  });

  it('lets a clinician who creates a patient see it, and no other clinician', async () => {
    const created = await api.http
      .post('/api/v1/patients')
      .set('Authorization', `Bearer ${token.inTeam}`)
      .send({ displayName: 'Made by A' });
    expect(created.status).toBe(201);
    const patient = bodyOf<PatientDetailDto>(created);
    expect(patient.careTeam.map((m) => m.clinicianId)).toEqual([ids.clinicianA]);
    const id = patient.id;
    expect((await api.http.get(`/api/v1/patients/${id}`).set('Authorization', `Bearer ${token.inTeam}`)).status).toBe(
      200,
    );
    expect(
      (await api.http.get(`/api/v1/patients/${id}`).set('Authorization', `Bearer ${token.outOfTeam}`)).status,
    ).toBe(404);
  });

  it('records reads and changes of a patient in the audit log, with who and from where', async () => {
    await api.http
      .get(`/api/v1/patients/${ids.patientQ}`)
      .set('Authorization', `Bearer ${token.outOfTeam}`)
      .expect(200);
    const res = await api.http
      .get(`/api/v1/audit?patientId=${ids.patientQ}`)
      .set('Authorization', `Bearer ${token.admin}`)
      .expect(200);
    const entries = res.body as {
      action: string;
      actorId?: string;
      actorRole?: string;
      ip?: string;
      patientId?: string;
      at: string;
    }[];
    expect(entries[0]).toMatchObject({
      action: 'patient.read',
      actorId: ids.clinicianB,
      actorRole: 'clinician',
      patientId: ids.patientQ,
    });
    expect(entries[0].ip).toMatch(/127\.0\.0\.1|::1/);
    expect(entries.map((e) => e.action)).toEqual(
      expect.arrayContaining(['patient.create', 'care_team.add', 'user.create']),
    );
    expect(entries.every((e) => e.patientId === ids.patientQ)).toBe(true);
  });
});

/**
 * The FHIR R4 routes (/fhir/R4), which the OpenAPI document leaves out (FHIR's own discovery is
 * the CapabilityStatement): listed here and checked against the routes the server registered, each
 * tried by every caller — the six above and a device presenting its MQTT secret as a token. Errors
 * are OperationOutcome (login / forbidden / not-found) with REST's statuses; a search about a
 * patient the caller may not see is an empty Bundle, not an error.
 */
type FhirCaller = Actor | 'device';
const FHIR_CALLERS: FhirCaller[] = [...ACTORS, 'device'];

interface FhirRow {
  /** `METHOD /fhir/R4/path` as registered, `:param` for path parameters; a variant may follow in parentheses. */
  readonly name: string;
  readonly method: 'get' | 'post' | 'delete';
  readonly path: () => string;
  readonly headers?: Record<string, string>;
  readonly prepare?: () => Promise<void>;
  readonly expected: Record<FhirCaller, number>;
  /** Searches: whether patient P's resources are in the Bundle, per caller answered 200. */
  readonly findsP?: (caller: FhirCaller) => boolean;
}

const fhirIds = { deviceSecret: '', observation: '', job: '', jobToDelete: '' };
const seesP = (caller: FhirCaller): boolean => ['admin', 'inTeam', 'patient', 'caregiver'].includes(caller);
/** P's devices: not shared with P's caregiver. */
const seesDevicesOfP = (caller: FhirCaller): boolean => ['admin', 'inTeam', 'patient'].includes(caller);
const fhirVisibleToP: Record<FhirCaller, number> = { ...visibleToP(200), device: 401 };
const fhirSignedIn = (status: number): Record<FhirCaller, number> => ({ ...all(status), anonymous: 401, device: 401 });
/** A's Bulk export jobs: only their owner (clinician A) sees them; patients may never export. */
const ownJobOfA = (status: number): Record<FhirCaller, number> => ({
  admin: 404,
  inTeam: status,
  outOfTeam: 404,
  patient: 403,
  otherPatient: 403,
  caregiver: 403,
  anonymous: 401,
  device: 401,
});

/** A finished Bulk export of clinician A's team (Patients only), kicked off by A; its job id. */
async function finishedExportOfA(): Promise<string> {
  const auth = { Authorization: `Bearer ${token.inTeam}`, Prefer: 'respond-async' };
  const kick = await waitFor(
    async () => {
      // 429 while the previous rows' exports still run (two at once per instance).
      const res = await api.http.get(`/fhir/R4/Group/${ids.clinicianA}/$export?_type=Patient`).set(auth);
      return res.status === 429 ? undefined : res;
    },
    'an export slot',
    10_000,
  );
  expect(kick.status).toBe(202);
  const job = String(kick.headers['content-location']).split('/').pop() ?? '';
  await waitFor(
    async () => ((await api.http.get(`/fhir/R4/$export-status/${job}`).set(auth)).status === 200 ? true : undefined),
    'the export',
    10_000,
  );
  return job;
}

const FHIR_ROWS: FhirRow[] = [
  {
    name: 'GET /fhir/R4/metadata',
    method: 'get',
    path: () => '/fhir/R4/metadata',
    expected: { ...all(200), device: 200 },
  },
  {
    name: 'GET /fhir/R4/Patient',
    method: 'get',
    path: () => '/fhir/R4/Patient',
    expected: fhirSignedIn(200),
    findsP: seesP,
  },
  {
    name: 'GET /fhir/R4/Patient/:id',
    method: 'get',
    path: () => `/fhir/R4/Patient/${ids.patientP}`,
    expected: fhirVisibleToP,
  },
  {
    name: 'GET /fhir/R4/Device',
    method: 'get',
    path: () => '/fhir/R4/Device',
    expected: fhirSignedIn(200),
    findsP: seesDevicesOfP,
  },
  {
    name: 'GET /fhir/R4/Device (?patient=)',
    method: 'get',
    path: () => `/fhir/R4/Device?patient=Patient/${ids.patientP}`,
    expected: fhirSignedIn(200),
    findsP: seesDevicesOfP,
  },
  {
    name: 'GET /fhir/R4/Device/:id',
    method: 'get',
    path: () => `/fhir/R4/Device/${ids.deviceD}`,
    expected: { ...fhirVisibleToP, caregiver: 404 },
  },
  {
    name: 'GET /fhir/R4/Observation',
    method: 'get',
    path: () => `/fhir/R4/Observation?patient=${ids.patientP}`,
    expected: fhirSignedIn(200),
    findsP: seesP,
  },
  {
    name: 'GET /fhir/R4/Observation (without patient)',
    method: 'get',
    path: () => '/fhir/R4/Observation',
    expected: fhirSignedIn(400),
  },
  {
    name: 'GET /fhir/R4/Observation/:id',
    method: 'get',
    path: () => `/fhir/R4/Observation/${fhirIds.observation}`,
    expected: fhirVisibleToP,
  },
  {
    name: 'GET /fhir/R4/Flag',
    method: 'get',
    path: () => `/fhir/R4/Flag?patient=${ids.patientP}`,
    expected: fhirSignedIn(200),
    findsP: seesP,
  },
  { name: 'GET /fhir/R4/Flag/:id', method: 'get', path: () => `/fhir/R4/Flag/${ids.alertA}`, expected: fhirVisibleToP },
  {
    name: 'GET /fhir/R4/:type (a type not served)',
    method: 'get',
    path: () => '/fhir/R4/Encounter',
    expected: fhirSignedIn(404),
  },
  {
    name: 'GET /fhir/R4/:type/:id (a type not served)',
    method: 'get',
    path: () => `/fhir/R4/Encounter/${ids.patientP}`,
    expected: fhirSignedIn(404),
  },
  {
    name: 'GET /fhir/R4/Group/:id/$export',
    method: 'get',
    path: () => `/fhir/R4/Group/${ids.clinicianA}/$export?_type=Patient`,
    headers: { Prefer: 'respond-async' },
    // Waits for earlier exports, so a 429 (two running at once) cannot stand in for an answer.
    prepare: async () => void (await finishedExportOfA()),
    expected: {
      admin: 202,
      inTeam: 202,
      outOfTeam: 404,
      patient: 403,
      otherPatient: 403,
      caregiver: 403,
      anonymous: 401,
      device: 401,
    },
  },
  {
    name: 'GET /fhir/R4/$export-status/:job',
    method: 'get',
    path: () => `/fhir/R4/$export-status/${fhirIds.job}`,
    prepare: async () => {
      fhirIds.job ||= await finishedExportOfA();
    },
    expected: ownJobOfA(200),
  },
  {
    name: 'GET /fhir/R4/$export-file/:job/:file',
    method: 'get',
    path: () => `/fhir/R4/$export-file/${fhirIds.job}/Patient.ndjson`,
    prepare: async () => {
      fhirIds.job ||= await finishedExportOfA();
    },
    expected: ownJobOfA(200),
  },
  {
    name: 'DELETE /fhir/R4/$export-status/:job',
    method: 'delete',
    path: () => `/fhir/R4/$export-status/${fhirIds.jobToDelete}`,
    // A fresh job each time: the owner's delete removes it.
    prepare: async () => {
      fhirIds.jobToDelete = await finishedExportOfA();
    },
    expected: ownJobOfA(202),
  },
  {
    name: 'POST /fhir/R4/{*path} (any write)',
    method: 'post',
    path: () => '/fhir/R4/Patient',
    // Read-only whoever asks: nothing is written, so nothing to authorise.
    expected: { ...all(405), device: 405 },
  },
];

describe('access matrix: FHIR R4', () => {
  beforeAll(async () => {
    const provisioned = await asAdmin('post', '/api/v1/devices', { patientId: ids.patientP, type: 'pulse_oximeter' });
    fhirIds.deviceSecret = (provisioned.credentials as { password: string }).password;
    const time = Date.UTC(2026, 10, 1, 8, 0, 0);
    await api.app.get(ReadingRepository).insertBatch([
      {
        deviceId: ids.deviceD,
        patientId: ids.patientP,
        metric: 'glucose',
        value: 110,
        time,
        receivedAt: time + 1000,
      },
    ]);
    const bundle = bodyOf<Bundle>(
      await api.http
        .get(`/fhir/R4/Observation?patient=${ids.patientP}`)
        .set('Authorization', `Bearer ${token.admin}`)
        .expect(200),
    );
    fhirIds.observation = bundle.entry?.[0].resource?.id ?? '';
    expect(fhirIds.observation).not.toBe('');
  });

  function fhirRequest(caller: FhirCaller, method: 'get' | 'post' | 'delete', path: string) {
    const req = api.http[method](path);
    if (caller === 'anonymous') return req;
    return req.set('Authorization', `Bearer ${caller === 'device' ? fhirIds.deviceSecret : token[caller]}`);
  }

  const cases = FHIR_ROWS.flatMap((row) => FHIR_CALLERS.map((c) => [row.name, c, row.expected[c], row] as const));

  it.each(cases)('%s as %s → %i', async (_name, caller, expected, row) => {
    await row.prepare?.();
    let req = fhirRequest(caller, row.method, row.path());
    if (row.headers) req = req.set(row.headers);
    const res = await (row.method === 'post' ? req.send({ resourceType: 'Patient' }) : req);
    expect(res.status).toBe(expected);
    if (expected >= 400) {
      const outcome = bodyOf<OperationOutcome>(res);
      expect(res.headers['content-type']).toMatch(/^application\/fhir\+json/);
      expect(outcome.resourceType).toBe('OperationOutcome');
      const codes: Record<number, string> = {
        401: 'login',
        403: 'forbidden',
        404: row.name.includes('not served') ? 'not-supported' : 'not-found',
      };
      if (codes[expected]) expect(outcome.issue[0].code).toBe(codes[expected]);
    }
    if (expected === 200 && row.findsP) {
      const bundle = bodyOf<Bundle>(res);
      expect(bundle.resourceType).toBe('Bundle');
      expect(JSON.stringify(bundle.entry ?? []).includes(ids.patientP)).toBe(row.findsP(caller));
    }
  });

  it('has a row for every FHIR route the server registered', () => {
    const registered = registeredRoutes().filter((route) => route.includes(' /fhir/R4'));
    expect(registered.length).toBeGreaterThan(10);
    const listed = new Set(FHIR_ROWS.map((row) => row.name.replace(/ \(.*\)$/, '')));
    // The read-only refusal (`@All`) is registered once per HTTP method; the write row stands for all.
    const refusal = (route: string) => route.endsWith(' /fhir/R4/{*path}');
    expect(registered.filter((route) => !refusal(route) && !listed.has(route))).toEqual([]);
    expect([...listed].filter((route) => !registered.includes(route))).toEqual([]);
  });

  it.each([
    ...(['outOfTeam', 'otherPatient'] as const).flatMap((caller) =>
      (['Patient', 'Device', 'Observation', 'Flag'] as const).map((type) => [type, caller] as const),
    ),
    // P's devices were not shared with P's caregiver.
    ['Device', 'caregiver'] as const,
  ])('GET /fhir/R4/%s/:id as %s: a hidden resource answers exactly like an unknown one', async (type, caller) => {
    const hiddenId = { Patient: ids.patientP, Device: ids.deviceD, Flag: ids.alertA, Observation: fhirIds.observation }[
      type
    ];
    // An Observation id names its device: an unknown one names a device that does not exist.
    const unknownId =
      type === 'Observation'
        ? hiddenId.replace(ids.deviceD.replace(/-/g, ''), randomUUID().replace(/-/g, ''))
        : randomUUID();
    const call = async (id: string) => {
      const res = await fhirRequest(caller, 'get', `/fhir/R4/${type}/${id}`);
      return { status: res.status, body: JSON.stringify(res.body).split(id).join('<id>') };
    };
    const hidden = await call(hiddenId);
    expect(hidden.status).toBe(404);
    expect(hidden).toEqual(await call(unknownId));
  });

  it("answers another clinician's group and export job exactly like unknown ones", async () => {
    const job = await finishedExportOfA();
    const routes: [(id: string) => string, string][] = [
      [(id) => `/fhir/R4/Group/${id}/$export`, ids.clinicianA],
      [(id) => `/fhir/R4/$export-status/${id}`, job],
      [(id) => `/fhir/R4/$export-file/${id}/Patient.ndjson`, job],
    ];
    for (const [path, hiddenId] of routes) {
      const call = async (id: string) => {
        const res = await fhirRequest('outOfTeam', 'get', path(id)).set('Prefer', 'respond-async');
        return { status: res.status, body: JSON.stringify(res.body).split(id).join('<id>') };
      };
      const hidden = await call(hiddenId);
      expect(hidden.status).toBe(404);
      expect(hidden).toEqual(await call(randomUUID()));
    }
  });
});

/** `METHOD /path` of every route registered on the Express app (Nest registers each on its router). */
function registeredRoutes(): string[] {
  const express = api.app.getHttpAdapter().getInstance() as {
    router: { stack: { route?: { path: string | string[]; methods: Record<string, boolean> } }[] };
  };
  return express.router.stack.flatMap((layer) => {
    const route = layer.route;
    if (route === undefined) return [];
    const paths = Array.isArray(route.path) ? route.path : [route.path];
    return paths.flatMap((path) => Object.keys(route.methods).map((m) => `${m.toUpperCase()} ${path}`));
  });
}
