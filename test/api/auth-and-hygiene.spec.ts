import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createServer, type AddressInfo } from 'node:net';
import { JwtService } from '@nestjs/jwt';
import { UserService } from '@lantern/auth';
import type { LoginResponseDto } from '../../apps/api/src/auth/auth.dto.js';
import type { ErrorBodyDto } from '../../apps/api/src/http/error-body.dto.js';
import type { PatientDto } from '../../apps/api/src/patients/patient.dto.js';
import type { UserDto } from '../../apps/api/src/users/user.dto.js';
import { bodyOf } from '../support/http.js';
import { ADMIN_EMAIL, ADMIN_PASSWORD, startApi, type ApiFixture } from './api-fixture.js';

let api: ApiFixture;
let admin: string;

beforeAll(async () => {
  api = await startApi();
  admin = await api.login(ADMIN_EMAIL, ADMIN_PASSWORD);
});

afterAll(async () => {
  await api?.close();
});

const auth = (token: string) => ({ Authorization: `Bearer ${token}` });

describe('sign-in', () => {
  it('returns a token pair and the user, never a hash', async () => {
    const res = await api.http
      .post('/api/v1/auth/login')
      .send({ email: ADMIN_EMAIL.toUpperCase(), password: ADMIN_PASSWORD })
      .expect(200);
    expect(res.body).toEqual({
      accessToken: expect.any(String),
      refreshToken: expect.any(String),
      expiresIn: 900,
      user: {
        id: expect.any(String),
        email: ADMIN_EMAIL,
        role: 'admin',
        displayName: 'Administrator',
        createdAt: expect.any(String),
      },
    });
    expect(JSON.stringify(res.body)).not.toMatch(/argon2|password/i);
    const login = bodyOf<LoginResponseDto>(res);
    const me = await api.http.get('/api/v1/me').set(auth(login.accessToken)).expect(200);
    expect(me.body).toEqual(login.user);
  });

  it('answers a wrong password and an unknown e-mail the same way', async () => {
    const wrong = await api.http.post('/api/v1/auth/login').send({ email: ADMIN_EMAIL, password: 'not-the-password' });
    const unknown = await api.http
      .post('/api/v1/auth/login')
      .send({ email: 'nobody@test.lantern', password: 'not-the-password' });
    expect(wrong.status).toBe(401);
    expect(unknown.body).toEqual(wrong.body);
    expect(wrong.body).toEqual({ statusCode: 401, error: 'Unauthorized', message: 'Invalid e-mail or password' });
  });

  it('refuses forged, malformed and missing tokens with 401', async () => {
    const forged = new JwtService({ secret: 'x'.repeat(40) }).sign(
      { sub: 'u', role: 'admin', email: 'a@b.c' },
      { issuer: 'lantern' },
    );
    for (const header of [`Bearer ${forged}`, 'Bearer not.a.token', `Basic ${admin}`, '']) {
      const res = await api.http.get('/api/v1/me').set('Authorization', header);
      expect(res.status).toBe(401);
      expect(bodyOf<ErrorBodyDto>(res).statusCode).toBe(401);
    }
  });

  it('creates the first admin only once, however often the app starts', async () => {
    await api.app.get(UserService).ensureInitialAdmin();
    const users = await api.http.get('/api/v1/users?role=admin').set(auth(admin)).expect(200);
    expect(users.body).toHaveLength(1);
  });
});

describe('users', () => {
  it('links a patient login to exactly one patient record', async () => {
    const patient = bodyOf<PatientDto>(
      await api.http
        .post('/api/v1/patients')
        .set(auth(admin))
        .send({ displayName: 'Linked', mrn: 'MRN-1' })
        .expect(201),
    );
    const body = {
      email: 'Linked@Home.test',
      password: 'a-long-password-1',
      role: 'patient',
      displayName: 'Linked',
      patientId: patient.id,
    };
    const created = await api.http.post('/api/v1/users').set(auth(admin)).send(body).expect(201);
    expect(created.body).toMatchObject({ email: 'linked@home.test', role: 'patient', patientId: patient.id });
    // Same patient again, or same e-mail in another case: conflicts.
    await api.http
      .post('/api/v1/users')
      .set(auth(admin))
      .send({ ...body, email: 'other@home.test' })
      .expect(409);
    await api.http
      .post('/api/v1/users')
      .set(auth(admin))
      .send({ ...body, email: 'LINKED@home.test', role: 'clinician', patientId: undefined })
      .expect(409);
    const token = await api.login('linked@home.test', 'a-long-password-1');
    expect(bodyOf<UserDto>(await api.http.get('/api/v1/me').set(auth(token))).patientId).toBe(patient.id);
  });

  it('requires patientId for role patient and refuses it for staff', async () => {
    const base = { email: 'x@home.test', password: 'a-long-password-1', displayName: 'X' };
    const noLink = await api.http
      .post('/api/v1/users')
      .set(auth(admin))
      .send({ ...base, role: 'patient' });
    expect(noLink.body).toEqual({
      statusCode: 400,
      error: 'Bad Request',
      message: 'patientId is required for role patient',
    });
    const patients = bodyOf<PatientDto[]>(await api.http.get('/api/v1/patients').set(auth(admin)));
    await api.http
      .post('/api/v1/users')
      .set(auth(admin))
      .send({ ...base, role: 'clinician', patientId: patients[0].id })
      .expect(400);
  });
});

describe('API hygiene', () => {
  it('rejects unknown fields with 400 and the error body, without echoing values', async () => {
    const res = await api.http.post('/api/v1/users').set(auth(admin)).send({
      email: 'y@clinic.test',
      password: 'secret-value-123',
      role: 'clinician',
      displayName: 'Y',
      isAdmin: true,
    });
    expect(res.body).toEqual({ statusCode: 400, error: 'Bad Request', message: ['property isAdmin should not exist'] });
    const bad = await api.http
      .post('/api/v1/users')
      .set(auth(admin))
      .send({ email: 'not-an-email', password: 'Tiny9pw', role: 'boss' });
    expect(bad.status).toBe(400);
    expect(bodyOf<ErrorBodyDto>(bad).message).toEqual(
      expect.arrayContaining([
        'email must be an email',
        'role must be one of the following values: admin, clinician, patient, caregiver',
      ]),
    );
    expect(JSON.stringify(bad.body)).not.toContain('Tiny9pw');
  });

  it('answers malformed JSON, bad ids and unknown routes in the same shape', async () => {
    const json = await api.http
      .post('/api/v1/patients')
      .set(auth(admin))
      .set('Content-Type', 'application/json')
      .send('{"displayName":');
    expect(json.status).toBe(400);
    expect(Object.keys(bodyOf<ErrorBodyDto>(json)).sort()).toEqual(['error', 'message', 'statusCode']);
    const id = await api.http.get('/api/v1/patients/not-a-uuid').set(auth(admin));
    expect(id.body).toEqual({ statusCode: 400, error: 'Bad Request', message: 'Validation failed (uuid is expected)' });
    const route = await api.http.get('/api/v1/nothing-here').set(auth(admin));
    expect(route.status).toBe(404);
    expect(Object.keys(bodyOf<ErrorBodyDto>(route)).sort()).toEqual(['error', 'message', 'statusCode']);
  });

  it('serves OpenAPI with every route, its DTOs and bearer auth', async () => {
    const doc = (await api.http.get('/api/docs-json').expect(200)).body as {
      paths: Record<string, Record<string, { security?: unknown[] }>>;
      components: { securitySchemes: Record<string, unknown>; schemas: Record<string, unknown> };
    };
    const routes = Object.entries(doc.paths).flatMap(([path, ops]) =>
      Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`),
    );
    expect(routes).toEqual(
      expect.arrayContaining([
        'POST /api/v1/auth/login',
        'POST /api/v1/auth/refresh',
        'POST /api/v1/auth/logout',
        'GET /api/v1/me',
        'POST /api/v1/me/password',
        'POST /api/v1/users',
        'GET /api/v1/users',
        'PATCH /api/v1/users/{id}',
        'POST /api/v1/users/{id}/reset-password',
        'POST /api/v1/patients',
        'GET /api/v1/patients',
        'GET /api/v1/patients/{id}',
        'POST /api/v1/patients/{id}/care-team',
        'DELETE /api/v1/patients/{id}/care-team/{clinicianId}',
        'POST /api/v1/devices',
        'GET /api/v1/devices',
        'GET /api/v1/devices/{id}',
        'POST /api/v1/devices/{id}/rotate-secret',
        'DELETE /api/v1/devices/{id}',
        'GET /api/v1/audit',
        'POST /api/v1/mqtt/authenticate',
        'POST /api/v1/mqtt/authorize',
        'GET /health',
        'GET /metrics',
      ]),
    );
    expect(doc.components.securitySchemes.bearer).toMatchObject({ type: 'http', scheme: 'bearer' });
    expect(doc.paths['/api/v1/patients'].get.security).toEqual([{ bearer: [] }]);
    expect(doc.paths['/api/v1/auth/login'].post.security).toBeUndefined();
    expect(Object.keys(doc.components.schemas)).toEqual(
      expect.arrayContaining(['ProvisionedDeviceDto', 'ErrorBodyDto', 'CreateUserDto', 'LoginResponseDto']),
    );
    const ui = await api.http.get('/api/docs/').redirects(1);
    expect(ui.status).toBe(200);
    expect(ui.text).toContain('swagger');
  });

  it('reports health of database and broker', async () => {
    const res = await api.http.get('/health').expect(200);
    expect(res.body).toEqual({
      status: 'ok',
      database: 'up',
      broker: 'up',
      deliveries: { status: 'up', problems: [] },
    });
  });
});

describe('starting with the broker unreachable', () => {
  it('serves HTTP at once and reports the broker down until it can connect', async () => {
    // A port nobody listens on: the api must start anyway (mosquitto-go-auth asks this very api to
    // check logins, so waiting for the broker first would never end).
    const closed = await new Promise<number>((resolve) => {
      const server = createServer().listen(0, '127.0.0.1', () => {
        const { port } = server.address() as AddressInfo;
        server.close(() => resolve(port));
      });
    });
    const down = await startApi({ MQTT_URL: `mqtt://127.0.0.1:${closed}` }, { waitForBroker: false });
    try {
      const res = await down.http.get('/health').expect(503);
      expect(res.body).toEqual({
        status: 'unavailable',
        database: 'up',
        broker: 'down',
        deliveries: { status: 'up', problems: [] },
      });
      await down.login(ADMIN_EMAIL, ADMIN_PASSWORD);
    } finally {
      await down.close();
    }
  });
});
