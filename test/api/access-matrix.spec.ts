import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import { bodyOf } from '../support/http.js';
import type { ErrorBodyDto } from '../../apps/api/src/http/error-body.dto.js';
import type { PatientDetailDto } from '../../apps/api/src/patients/patient.dto.js';
import { ADMIN_EMAIL, ADMIN_PASSWORD, HOOK_SECRET, startApi, type ApiFixture } from './api-fixture.js';

/**
 * Every route of the API (checked against the OpenAPI document), tried as each kind of caller,
 * against the statuses of contract §3: 401 without a token, 403 for a role that may never do it,
 * 404 for a patient (or their device, alert, notification) outside the caller's visibility —
 * exactly like an unknown id.
 */
type Actor = 'admin' | 'inTeam' | 'outOfTeam' | 'patient' | 'otherPatient' | 'anonymous';
const ACTORS: Actor[] = ['admin', 'inTeam', 'outOfTeam', 'patient', 'otherPatient', 'anonymous'];

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
  alertForAction: '',
  notificationP: '',
  /** A fresh login's refresh token, or a fresh user, for the session rows. */
  refreshToken: '',
  freshUser: '',
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
  ids.notificationP = await insertNotification(ids.patientP);
});

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
  anonymous: status,
});
const adminOnly = (status: number): Record<Actor, number> => ({
  admin: status,
  inTeam: 403,
  outOfTeam: 403,
  patient: 403,
  otherPatient: 403,
  anonymous: 401,
});

/** Staff only: admins and clinicians (any team), not patients. */
const staffOnly = (status: number): Record<Actor, number> => ({
  admin: status,
  inTeam: status,
  outOfTeam: status,
  patient: 403,
  otherPatient: 403,
  anonymous: 401,
});

/** A route about patient P: seen by the admin, P's care team and P; 404 for the others. */
const visibleToP = (status: number): Record<Actor, number> => ({
  admin: status,
  inTeam: status,
  outOfTeam: 404,
  patient: status,
  otherPatient: 404,
  anonymous: 401,
});
/** A clinical change to patient P: admin and P's care team; 404 for another team; 403 for patients. */
const clinicalChangeToP = (status: number): Record<Actor, number> => ({
  admin: status,
  inTeam: status,
  outOfTeam: 404,
  patient: 403,
  otherPatient: 403,
  anonymous: 401,
});
const patientsOnly = (status: number): Record<Actor, number> => ({
  admin: 403,
  inTeam: 403,
  outOfTeam: 403,
  patient: status,
  otherPatient: status,
  anonymous: 401,
});

const HOOK_AUTH = { Authorization: `Bearer ${HOOK_SECRET}` };

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
    expected: { admin: 201, inTeam: 201, outOfTeam: 201, patient: 403, otherPatient: 403, anonymous: 401 },
  },
  { name: 'GET /patients', method: 'get', path: () => '/api/v1/patients', expected: { ...all(200), anonymous: 401 } },
  {
    name: 'GET /patients/:id',
    method: 'get',
    path: () => `/api/v1/patients/${ids.patientP}`,
    expected: { admin: 200, inTeam: 200, outOfTeam: 404, patient: 200, otherPatient: 404, anonymous: 401 },
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
    expected: { admin: 201, inTeam: 201, outOfTeam: 404, patient: 403, otherPatient: 403, anonymous: 401 },
  },
  {
    name: 'GET /devices?patientId=',
    method: 'get',
    path: () => `/api/v1/devices?patientId=${ids.patientP}`,
    expected: { admin: 200, inTeam: 200, outOfTeam: 404, patient: 200, otherPatient: 404, anonymous: 401 },
  },
  { name: 'GET /devices', method: 'get', path: () => '/api/v1/devices', expected: { ...all(200), anonymous: 401 } },
  {
    name: 'GET /devices/:id',
    method: 'get',
    path: () => `/api/v1/devices/${ids.deviceD}`,
    expected: { admin: 200, inTeam: 200, outOfTeam: 404, patient: 200, otherPatient: 404, anonymous: 401 },
  },
  {
    name: 'POST /devices/:id/rotate-secret',
    method: 'post',
    path: () => `/api/v1/devices/${ids.deviceD}/rotate-secret`,
    expected: { admin: 200, inTeam: 200, outOfTeam: 404, patient: 403, otherPatient: 403, anonymous: 401 },
  },
  {
    name: 'DELETE /devices/:id',
    method: 'delete',
    path: () => `/api/v1/devices/${ids.freshDevice}`,
    prepare: async () => {
      ids.freshDevice = (await asAdmin('post', '/api/v1/devices', { patientId: ids.patientP, type: 'weight_scale' }))
        .id as string;
    },
    expected: { admin: 200, inTeam: 200, outOfTeam: 404, patient: 403, otherPatient: 403, anonymous: 401 },
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
    name: 'GET /patients/:id/readings (bucketed)',
    method: 'get',
    path: () => `/api/v1/patients/${ids.patientP}/readings?metric=glucose&bucket=1h`,
    expected: visibleToP(200),
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
  readonly method: 'get' | 'post' | 'put' | 'delete';
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
