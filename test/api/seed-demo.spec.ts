import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { seedDemo, type DemoSeedResult } from '../../apps/api/src/seed/seed-demo.js';
import { ADMIN_EMAIL, ADMIN_PASSWORD, startApi, type ApiFixture } from './api-fixture.js';

let api: ApiFixture;
let baseUrl: string;
let result: DemoSeedResult;

beforeAll(async () => {
  api = await startApi();
  await api.app.listen(0, '127.0.0.1');
  baseUrl = await api.app.getUrl();
  result = await seedDemo({ baseUrl, adminEmail: ADMIN_EMAIL, adminPassword: ADMIN_PASSWORD });
});

afterAll(async () => {
  await api?.close();
});

describe('seed:demo', () => {
  it('creates two clinicians, a dozen patients with logins, and a mix of devices', () => {
    expect(result.created).toBe(true);
    expect(result.logins.filter((l) => l.role === 'clinician')).toHaveLength(2);
    expect(result.logins.filter((l) => l.role === 'patient')).toHaveLength(12);
    expect(new Set(result.devices.map((d) => d.patientId)).size).toBe(12);
    expect(new Set(result.devices.map((d) => d.type))).toEqual(
      new Set(['cgm', 'pulse_oximeter', 'wearable_patch', 'cardiac_implant', 'bp_monitor', 'weight_scale']),
    );
    expect(result.devices[0].telemetryTopic).toBe(`${api.topicRoot}/devices/${result.devices[0].deviceId}/telemetry`);
  });

  it('prints logins that work and see the right patients', async () => {
    const [chen, okafor] = result.logins;
    const count = async (email: string, password: string) =>
      (
        (await api.http.get('/api/v1/patients').set('Authorization', `Bearer ${await api.login(email, password)}`))
          .body as unknown[]
      ).length;
    expect(await count(chen.email, chen.password)).toBe(6);
    expect(await count(okafor.email, okafor.password)).toBe(7);
    const patient = result.logins.find((l) => l.role === 'patient')!;
    expect(await count(patient.email, patient.password)).toBe(1);
  });

  it('creates nothing on a second run', async () => {
    expect(await seedDemo({ baseUrl, adminEmail: ADMIN_EMAIL, adminPassword: ADMIN_PASSWORD })).toEqual({
      created: false,
      logins: [],
      devices: [],
    });
  });
});
