import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import mqtt from 'mqtt';
import { hashDeviceSecret, verifyDeviceSecret } from '@lantern/auth';
import type { DeviceDto, ProvisionedDeviceDto } from '../../apps/api/src/devices/device.dto.js';
import type { ErrorBodyDto } from '../../apps/api/src/http/error-body.dto.js';
import type { MqttDecisionDto } from '../../apps/api/src/mqtt-auth/mqtt-auth.dto.js';
import type { HealthDto } from '../../apps/api/src/ops/health.controller.js';
import type { PatientDto } from '../../apps/api/src/patients/patient.dto.js';
import { bodyOf } from '../support/http.js';
import {
  ADMIN_EMAIL,
  ADMIN_PASSWORD,
  HOOK_SECRET,
  SERVICE_PASSWORD,
  SERVICE_USERNAME,
  startApi,
  type ApiFixture,
} from './api-fixture.js';
import { waitFor } from '../support/wait.js';

let api: ApiFixture;
let admin: string;
let patientId: string;

beforeAll(async () => {
  api = await startApi();
  admin = await api.login(ADMIN_EMAIL, ADMIN_PASSWORD);
  patientId = bodyOf<PatientDto>(
    await api.http
      .post('/api/v1/patients')
      .set('Authorization', `Bearer ${admin}`)
      .send({ displayName: 'Device owner' })
      .expect(201),
  ).id;
});

afterAll(async () => {
  await api?.close();
});

const auth = () => ({ Authorization: `Bearer ${admin}` });

async function provision(type = 'cgm'): Promise<{ id: string; password: string; body: ProvisionedDeviceDto }> {
  const body = bodyOf<ProvisionedDeviceDto>(
    await api.http
      .post('/api/v1/devices')
      .set(auth())
      .send({ patientId, type, serial: 'SN-42', model: 'G7' })
      .expect(201),
  );
  return { id: body.id, password: body.credentials.password, body };
}

async function storedHash(deviceId: string): Promise<string> {
  const rows: { secret_hash: string }[] = await api.db.query('SELECT secret_hash FROM devices WHERE id = $1', [
    deviceId,
  ]);
  return rows[0].secret_hash;
}

/** As the broker calls the hooks: with the hook secret (test/security/broker-hooks.spec.ts: without it). */
const hook = (path: string) => api.http.post(`/api/v1/mqtt/${path}`).set('Authorization', `Bearer ${HOOK_SECRET}`);
/** The broker hooks always answer 200; the decision is in the body. A device's client id is its id unless given. */
const authenticate = async (username: string, password: string, clientid: string | null = username) =>
  bodyOf<MqttDecisionDto>(
    await hook('authenticate')
      .send({ username, password, ...(clientid === null ? {} : { clientid }) })
      .expect(200),
  );
const authorize = async (body: object) => bodyOf<MqttDecisionDto>(await hook('authorize').send(body).expect(200));

describe('device provisioning', () => {
  it("returns the credentials once, and stores only the secret's hash", async () => {
    const { id, password, body } = await provision();
    const root = api.topicRoot;
    expect(body).toMatchObject({
      id,
      patientId,
      type: 'cgm',
      serial: 'SN-42',
      model: 'G7',
      status: 'active',
      online: false,
    });
    expect(body.credentials).toEqual({
      username: id,
      password: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/),
      telemetryTopic: `${root}/devices/${id}/telemetry`,
      statusTopic: `${root}/devices/${id}/status`,
      errorsTopic: `${root}/devices/${id}/errors`,
    });
    expect(await storedHash(id)).toBe(hashDeviceSecret(password));
    const again = await api.http.get(`/api/v1/devices/${id}`).set(auth()).expect(200);
    expect(bodyOf<Partial<ProvisionedDeviceDto>>(again).credentials).toBeUndefined();
    expect(JSON.stringify(again.body)).not.toContain(password);
    const list = await api.http.get(`/api/v1/devices?patientId=${patientId}`).set(auth()).expect(200);
    expect(JSON.stringify(list.body)).not.toContain(password);
  });

  it('refuses an unknown device type', async () => {
    const res = await api.http.post('/api/v1/devices').set(auth()).send({ patientId, type: 'toaster' });
    expect(res.status).toBe(400);
    expect(bodyOf<ErrorBodyDto>(res).message[0]).toMatch(
      /^type must be one of the following values: cgm, pulse_oximeter/,
    );
  });

  it('rotation issues a new secret and the old one stops working at once', async () => {
    const { id, password: old } = await provision('pulse_oximeter');
    expect((await authenticate(id, old)).result).toBe('allow');
    const rotated = await api.http.post(`/api/v1/devices/${id}/rotate-secret`).set(auth()).expect(200);
    const fresh = bodyOf<ProvisionedDeviceDto>(rotated).credentials.password;
    expect(fresh).not.toBe(old);
    const hash = await storedHash(id);
    expect(verifyDeviceSecret(fresh, hash)).toBe(true);
    expect(verifyDeviceSecret(old, hash)).toBe(false);
    expect(await authenticate(id, old)).toEqual({
      result: 'deny',
      is_superuser: false,
      Ok: false,
      Error: 'denied',
    });
    expect(await authenticate(id, fresh)).toEqual({ result: 'allow', is_superuser: false, Ok: true, Error: '' });
  });

  it('decommissioning revokes the credentials, keeps the device, and cannot be rotated back', async () => {
    const { id, password } = await provision('wearable_patch');
    const gone = await api.http.delete(`/api/v1/devices/${id}`).set(auth()).expect(200);
    expect(gone.body).toMatchObject({
      id,
      status: 'decommissioned',
      online: false,
      decommissionedAt: expect.any(String),
    });
    expect((await authenticate(id, password)).result).toBe('deny');
    expect(
      (
        await authorize({
          username: id,
          clientid: id,
          topic: `${api.topicRoot}/devices/${id}/telemetry`,
          action: 'publish',
        })
      ).result,
    ).toBe('deny');
    await api.http.post(`/api/v1/devices/${id}/rotate-secret`).set(auth()).expect(409);
    // History kept: still listed, still readable; decommissioning again is harmless.
    expect(bodyOf<DeviceDto>(await api.http.get(`/api/v1/devices/${id}`).set(auth()).expect(200)).status).toBe(
      'decommissioned',
    );
    await api.http.delete(`/api/v1/devices/${id}`).set(auth()).expect(200);
  });

  it('announces rotation and decommissioning on {root}/internal/device-revoked', async () => {
    const { id } = await provision('bp_monitor');
    const client = await mqtt.connectAsync(api.mqttUrl, {
      clientId: `revoked-watch-${id}`,
      username: SERVICE_USERNAME,
      password: SERVICE_PASSWORD,
    });
    const seen: string[] = [];
    client.on('message', (_topic, payload) =>
      seen.push((JSON.parse(payload.toString()) as { deviceId: string }).deviceId),
    );
    try {
      await client.subscribeAsync(`${api.topicRoot}/internal/device-revoked`, { qos: 1 });
      // The api's broker connection is made in the background at start (it must start with the broker down).
      await waitFor(
        async () => (bodyOf<HealthDto>(await api.http.get('/health')).broker === 'up' ? true : undefined),
        'api broker connection',
        5000,
      );
      await api.http.post(`/api/v1/devices/${id}/rotate-secret`).set(auth()).expect(200);
      await waitFor(() => (seen.length >= 1 ? true : undefined), 'rotation announcement', 5000);
      await api.http.delete(`/api/v1/devices/${id}`).set(auth()).expect(200);
      await waitFor(() => (seen.length >= 2 ? true : undefined), 'decommission announcement', 5000);
      expect(seen).toEqual([id, id]);
    } finally {
      await client.endAsync();
    }
  });
});

describe('HTTP auth hooks for external brokers', () => {
  let device: { id: string; password: string };
  let other: { id: string; password: string };
  const topic = (id: string, kind: string) => `${api.topicRoot}/devices/${id}/${kind}`;

  beforeAll(async () => {
    device = await provision('cgm');
    other = await provision('cgm');
  });

  it('authenticates a device by id and secret, and the service user as superuser', async () => {
    expect(await authenticate(device.id, device.password)).toMatchObject({
      result: 'allow',
      is_superuser: false,
      Ok: true,
    });
    expect(await authenticate(device.id, other.password)).toMatchObject({ result: 'deny', Ok: false });
    expect(await authenticate(other.id, device.password)).toMatchObject({ result: 'deny', Ok: false });
    expect(await authenticate('00000000-0000-4000-8000-000000000000', device.password)).toMatchObject({
      result: 'deny',
    });
    expect(await authenticate('not-a-uuid', 'x')).toMatchObject({ result: 'deny' });
    expect(await authenticate(SERVICE_USERNAME, SERVICE_PASSWORD)).toMatchObject({
      result: 'allow',
      is_superuser: true,
      Ok: true,
    });
    expect(await authenticate(SERVICE_USERNAME, 'guess')).toMatchObject({ result: 'deny', is_superuser: false });
  });

  it('answers EMQX authorization: own topics only', async () => {
    const cases: [string, string, 'publish' | 'subscribe', 'allow' | 'deny'][] = [
      [device.id, topic(device.id, 'telemetry'), 'publish', 'allow'],
      [device.id, topic(device.id, 'status'), 'publish', 'allow'],
      [device.id, topic(device.id, 'errors'), 'subscribe', 'allow'],
      [device.id, topic(other.id, 'telemetry'), 'publish', 'deny'],
      [device.id, topic(other.id, 'errors'), 'subscribe', 'deny'],
      [device.id, topic(device.id, 'telemetry'), 'subscribe', 'deny'],
      [device.id, `${api.topicRoot}/devices/+/telemetry`, 'subscribe', 'deny'],
      [device.id, `${api.topicRoot}/#`, 'subscribe', 'deny'],
      [SERVICE_USERNAME, `${api.topicRoot}/devices/+/telemetry`, 'subscribe', 'allow'],
    ];
    for (const [username, t, action, expected] of cases) {
      const res = await authorize({ username, topic: t, action, clientid: username, qos: '1', retain: 'false' });
      expect({ username, t, action, result: res.result }).toEqual({ username, t, action, result: expected });
    }
  });

  it('answers mosquitto-go-auth aclcheck (acc) and superuser checks', async () => {
    const acl = async (t: string, acc: number) =>
      (await authorize({ username: device.id, topic: t, clientid: device.id, acc })).Ok;
    expect(await acl(topic(device.id, 'telemetry'), 2)).toBe(true);
    expect(await acl(topic(device.id, 'errors'), 4)).toBe(true);
    expect(await acl(topic(device.id, 'errors'), 1)).toBe(true);
    expect(await acl(topic(device.id, 'errors'), 3)).toBe(false);
    expect(await acl(topic(other.id, 'telemetry'), 2)).toBe(false);
    const su = async (username: string) =>
      bodyOf<MqttDecisionDto>(await hook('superuser').send({ username }).expect(200)).Ok;
    expect(await su(SERVICE_USERNAME)).toBe(true);
    expect(await su(device.id)).toBe(false);
  });

  it("denies a device whose client id is not its own id, or is missing; the service user's client id is free", async () => {
    expect(await authenticate(device.id, device.password, device.id)).toMatchObject({ result: 'allow', Ok: true });
    for (const clientid of [other.id, 'lantern-ingest', `device-${device.id}`, device.id.toUpperCase(), '', null])
      expect({ clientid, decision: await authenticate(device.id, device.password, clientid) }).toEqual({
        clientid,
        decision: { result: 'deny', is_superuser: false, Ok: false, Error: 'denied' },
      });
    expect(await authenticate(SERVICE_USERNAME, SERVICE_PASSWORD, 'lantern-ingest')).toMatchObject({
      result: 'allow',
      is_superuser: true,
    });
    expect(await authenticate(SERVICE_USERNAME, SERVICE_PASSWORD, null)).toMatchObject({ result: 'allow' });

    const telemetry = topic(device.id, 'telemetry');
    const errors = topic(device.id, 'errors');
    for (const clientid of [other.id, 'lantern-ingest', device.id.toUpperCase(), undefined]) {
      expect({
        clientid,
        result: (await authorize({ username: device.id, clientid, topic: telemetry, action: 'publish' })).result,
      }).toEqual({ clientid, result: 'deny' });
      expect({ clientid, Ok: (await authorize({ username: device.id, clientid, topic: errors, acc: 4 })).Ok }).toEqual({
        clientid,
        Ok: false,
      });
    }
    expect(
      (await authorize({ username: device.id, clientid: device.id, topic: telemetry, action: 'publish' })).result,
    ).toBe('allow');
    expect(
      (
        await authorize({
          username: SERVICE_USERNAME,
          clientid: 'lantern-api-x',
          topic: telemetry,
          action: 'subscribe',
        })
      ).result,
    ).toBe('allow');
  });

  it('denies a device id spelled in another letter case instead of lowercasing it', async () => {
    const upper = device.id.toUpperCase();
    // Only the first letter upper-cased (the id's first 8 characters may all be digits).
    const mixed = device.id.replace(/[a-f]/, (letter) => letter.toUpperCase());
    expect(mixed).not.toBe(device.id);
    for (const username of [upper, mixed]) {
      expect(await authenticate(username, device.password, username)).toMatchObject({ result: 'deny', Ok: false });
      expect(await authenticate(username, device.password, device.id)).toMatchObject({ result: 'deny', Ok: false });
      const own = topic(username, 'telemetry');
      expect((await authorize({ username, clientid: username, topic: own, action: 'publish' })).result).toBe('deny');
      expect((await authorize({ username, clientid: username, topic: own, acc: 2 })).Ok).toBe(false);
    }
  });

  it('refuses malformed hook requests with 400 (a broker treats that as no)', async () => {
    await hook('authenticate').send({ username: device.id }).expect(400);
    await hook('authorize').send({ username: device.id, topic: 'x', action: 'delete' }).expect(400);
  });
});
