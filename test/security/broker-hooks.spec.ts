import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { MqttDecisionDto } from '../../apps/api/src/mqtt-auth/mqtt-auth.dto.js';
import { bodyOf } from '../support/http.js';
import { HOOK_SECRET, SERVICE_PASSWORD, SERVICE_USERNAME, startApi, type ApiFixture } from '../api/api-fixture.js';
import { startAnotherApi, startOutcome } from './security-fixture.js';

/**
 * Issue #14: the broker's HTTP auth hooks were a public, unthrottled password oracle on the api
 * port — a correct guess of the service password answered `is_superuser: true`. Now only a caller
 * presenting MQTT_HOOK_SECRET gets an answer, wrong secrets are throttled per address, and the
 * service password cannot be short. (What the hooks decide: test/api/devices-and-broker-hooks.spec.ts.)
 */
let api: ApiFixture;
const SERVICE_LOGIN = { username: SERVICE_USERNAME, password: SERVICE_PASSWORD, clientid: 'lantern-api-1' };
const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

const authenticate = (authorization: string | undefined, from = '198.51.100.1') => {
  let req = api.http.post('/api/v1/mqtt/authenticate').set('X-Forwarded-For', from);
  if (authorization !== undefined) req = req.set('Authorization', authorization);
  return req.send(SERVICE_LOGIN);
};

beforeAll(async () => {
  api = await startApi({ TRUST_PROXY: 'loopback' });
});

afterAll(async () => {
  await api?.close();
});

describe('broker auth hooks', () => {
  it('answer nobody without the hook secret, not even a right service password', async () => {
    for (const authorization of [
      undefined,
      'Bearer not-the-hook-secret',
      `Bearer ${HOOK_SECRET}x`,
      basic('lantern', 'not-the-hook-secret'),
      HOOK_SECRET,
    ]) {
      const res = await authenticate(authorization);
      expect({ authorization, status: res.status, body: res.body as unknown }).toEqual({
        authorization,
        status: 401,
        body: { statusCode: 401, error: 'Unauthorized', message: 'Broker hook secret missing or wrong' },
      });
    }
    for (const path of ['authorize', 'superuser'])
      await api.http
        .post(`/api/v1/mqtt/${path}`)
        .set('X-Forwarded-For', '198.51.100.2')
        .send({ username: SERVICE_USERNAME, topic: 'x', action: 'publish' })
        .expect(401);
  });

  it('answer the broker with the secret as a bearer token (EMQX) or as the Basic password (mosquitto-go-auth)', async () => {
    for (const authorization of [`Bearer ${HOOK_SECRET}`, `bearer ${HOOK_SECRET}`, basic('lantern', HOOK_SECRET)]) {
      const res = await authenticate(authorization, '198.51.100.3').expect(200);
      expect(bodyOf<MqttDecisionDto>(res)).toMatchObject({ result: 'allow', is_superuser: true });
    }
  });

  it('throttle calls without the secret per address: 429 with Retry-After, even for the right secret then', async () => {
    const from = '198.51.100.4';
    const statuses = new Set<number>();
    for (let i = 0; i < 20; i++) statuses.add((await authenticate(`Bearer guess-${i}`, from)).status);
    expect([...statuses]).toEqual([401]);
    const limited = await authenticate(`Bearer ${HOOK_SECRET}`, from);
    expect(limited.status).toBe(429);
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
    // The broker's own address keeps working.
    await authenticate(`Bearer ${HOOK_SECRET}`, '198.51.100.5').expect(200);
  });

  it('refuse every call when MQTT_HOOK_SECRET is unset', async () => {
    const off = await startAnotherApi({ MQTT_HOOK_SECRET: '' });
    try {
      for (const authorization of [`Bearer ${HOOK_SECRET}`, 'Bearer ', undefined]) {
        let req = off.http.post('/api/v1/mqtt/authenticate');
        if (authorization !== undefined) req = req.set('Authorization', authorization);
        await req.send(SERVICE_LOGIN).expect(401);
      }
    } finally {
      await off.close();
    }
  });

  it('refuse to start with a hook secret or a service password that is short', async () => {
    expect(await startOutcome({ MQTT_HOOK_SECRET: 'short-hook-secret' })).toMatch(
      /MQTT_HOOK_SECRET must be at least 32 characters long/,
    );
    expect(await startOutcome({ MQTT_PASSWORD: 'pass1234' })).toMatch(
      /MQTT_PASSWORD must be at least 16 characters long/,
    );
  });
});
