import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { MqttClient } from 'mqtt';
import type { Principal } from '@lantern/auth';
import type { AlertResource } from '@lantern/domain';
import type { Topics } from '@lantern/messaging';
import { startLiveStack, type ApiFixture, type LiveStack } from '../support/boot.js';
import { ask, connectLive, record, type LiveClient } from '../live/live-fixture.js';
import { waitFor } from '../support/wait.js';

/** Contract §4.4 through the real stack: device → Mosquitto → ingest → PostgreSQL → api (REST and /live). */
describe('provenance of every value (contract §4.4)', () => {
  let stack: LiveStack;
  let api: ApiFixture;
  let device: MqttClient;
  let topics: Topics;
  let patient: string;
  let cgm: string;
  let oximeter: string;
  let clinician: Principal;
  let token: string;
  const sockets: LiveClient[] = [];

  const get = async <T>(path: string): Promise<T> => {
    const res = await fetch(`${api.url}/api/v1${path}`, { headers: { authorization: `Bearer ${token}` } });
    expect(res.status).toBe(200);
    return (await res.json()) as T;
  };
  const publish = (deviceId: string, metric: string, value: number, unit: string, ts: number): Promise<unknown> =>
    device.publishAsync(
      topics.telemetry(deviceId),
      JSON.stringify({ readings: [{ metric, value, unit, ts: new Date(ts).toISOString() }] }),
      { qos: 1 },
    );

  beforeAll(async () => {
    stack = await startLiveStack(async (data) => {
      patient = await data.patient('Ada');
      cgm = await data.device(patient, 'cgm');
      oximeter = await data.device(patient, 'pulse_oximeter');
      clinician = await data.user('clinician');
      await data.careTeam(patient, clinician.userId);
    });
    ({ api, device, topics } = stack);
    token = await api.token(clinician);
  });

  afterAll(async () => {
    for (const s of sockets) s.close();
    await stack?.close();
  });

  it('an alert raised from a device publish carries measuredAt = the reading ts and receivedAt ≤ evaluatedAt ≤ raisedAt, in REST and on /live', async () => {
    const watcher = await connectLive(api.url, token);
    sockets.push(watcher);
    const seen = record(watcher);
    expect(await ask(watcher, 'subscribe', { patientId: patient })).toEqual({ ok: true });

    // Measured 40 s before it is sent (a device clock or a short store-and-forward): the event
    // time must be the device's, the other three Lantern's own.
    const measured = Date.now() - 40_000;
    const sentAt = Date.now();
    await publish(cgm, 'glucose', 45, 'mg/dL', measured);

    const live = await waitFor(() => seen.alert[0] as AlertResource | undefined, 'live alert', 10_000);
    expect(live).toMatchObject({ rule: 'glucose.urgent_low', measuredAt: new Date(measured).toISOString() });
    const [received, evaluated, raised] = [live.receivedAt, live.evaluatedAt, live.raisedAt].map((t) =>
      Date.parse(t ?? 'missing'),
    );
    expect(received).toBeGreaterThanOrEqual(sentAt - 1000); // Lantern's clock, not the device's
    expect(received).toBeLessThanOrEqual(evaluated);
    expect(evaluated).toBeLessThanOrEqual(raised);
    expect(raised).toBeLessThanOrEqual(Date.now());

    // REST gives the same times as the event (stored, not recomputed).
    const rest = await get<AlertResource>(`/alerts/${live.id}`);
    expect(rest).toMatchObject({
      measuredAt: live.measuredAt,
      receivedAt: live.receivedAt,
      evaluatedAt: live.evaluatedAt,
      raisedAt: live.raisedAt,
    });
    const page = await get<{ items: AlertResource[] }>(`/alerts?patientId=${patient}`);
    expect(page.items.find((a) => a.id === live.id)).toMatchObject({ measuredAt: live.measuredAt });

    // The raw reading carries both its times too.
    const readings = await get<{ readings: { ts: string; receivedAt?: string }[] }>(
      `/patients/${patient}/readings?metric=glucose&from=${new Date(measured - 1000).toISOString()}`,
    );
    expect(readings.readings).toHaveLength(1);
    expect(readings.readings[0]).toEqual(
      expect.objectContaining({ ts: new Date(measured).toISOString(), receivedAt: live.receivedAt }),
    );
  });

  it('/latest gives each value its age, and a device silent beyond its type’s signal-loss time as monitoring "lost" since its last reading', async () => {
    // The oximeter's newest reading is 3 minutes old: beyond its type's 2 minutes.
    const oxAt = Date.now() - 3 * 60_000;
    await publish(oximeter, 'spo2', 97, '%', oxAt);
    await publish(cgm, 'glucose', 48, 'mg/dL', Date.now() - 5_000);
    type Latest = {
      metric: string;
      deviceId: string;
      ts: string;
      receivedAt: string;
      ageSec: number;
      monitoring: string;
      since?: string;
      stale: boolean;
    };
    const latest = await waitFor(async () => {
      const list = await get<Latest[]>(`/patients/${patient}/latest`);
      return list.some((r) => r.metric === 'spo2') && list.find((r) => r.metric === 'glucose')?.ageSec !== undefined
        ? list
        : undefined;
    }, 'both readings stored');
    const spo2 = latest.find((r) => r.metric === 'spo2')!;
    expect(spo2).toMatchObject({
      deviceId: oximeter,
      monitoring: 'lost',
      since: new Date(oxAt).toISOString(),
      stale: true,
    });
    expect(spo2.ageSec).toBeGreaterThanOrEqual(180);
    expect(spo2.ageSec).toBeLessThan(240);
    const glucose = latest.find((r) => r.metric === 'glucose')!;
    expect(glucose).toMatchObject({ deviceId: cgm, monitoring: 'ok', stale: false });
    expect(glucose.since).toBeUndefined();
    expect(glucose.ageSec).toBeGreaterThanOrEqual(5);
    expect(glucose.ageSec).toBeLessThan(60);
    expect(Date.parse(glucose.receivedAt)).toBeGreaterThanOrEqual(Date.parse(glucose.ts));
  });
});
