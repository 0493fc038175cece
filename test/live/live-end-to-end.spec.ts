import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { MqttClient } from 'mqtt';
import type { Principal } from '@lantern/auth';
import type { AlertResource, LiveReadingEvent, PatientNotificationResource } from '@lantern/domain';
import type { Topics } from '@lantern/messaging';
import { startLiveStack, type ApiFixture, type LiveStack } from '../support/boot.js';
import { ask, connectLive, record, type LiveClient } from './live-fixture.js';
import { waitFor } from '../support/wait.js';

describe('end to end: device → broker → ingest → alert → broker → api → socket', () => {
  let stack: LiveStack;
  let api: ApiFixture;
  let device: MqttClient;
  let topics: Topics;
  let patient: string;
  let otherPatient: string;
  let cgm: string;
  let clinician: Principal;
  let otherClinician: Principal;
  let patientUser: Principal;
  const sockets: LiveClient[] = [];

  beforeAll(async () => {
    stack = await startLiveStack(async (data) => {
      patient = await data.patient('Ada');
      otherPatient = await data.patient('Bob');
      cgm = await data.device(patient, 'cgm');
      clinician = await data.user('clinician');
      otherClinician = await data.user('clinician');
      patientUser = await data.user('patient', patient);
      await data.careTeam(patient, clinician.userId);
      await data.careTeam(otherPatient, otherClinician.userId);
    });
    ({ api, device, topics } = stack);
  });

  afterAll(async () => {
    for (const s of sockets) s.close();
    await stack?.close();
  });

  it('an urgent-low glucose reading raises an alert that reaches the subscribed sockets only, and a notification the patient only', async () => {
    const watcher = await connectLive(api.url, await api.token(clinician));
    const self = await connectLive(api.url, await api.token(patientUser));
    const other = await connectLive(api.url, await api.token(otherClinician));
    sockets.push(watcher, self, other);
    const seenWatcher = record(watcher);
    const seenSelf = record(self);
    const seenOther = record(other);
    expect(await ask(watcher, 'subscribe', { patientId: patient })).toEqual({ ok: true });
    expect(await ask(self, 'subscribe', { patientId: patient })).toEqual({ ok: true });
    expect(await ask(other, 'subscribe', { patientId: otherPatient })).toEqual({ ok: true });

    const publishedAt = Date.now();
    await device.publishAsync(
      topics.telemetry(cgm),
      JSON.stringify({
        seq: 1,
        readings: [{ metric: 'glucose', value: 2.5, unit: 'mmol/L', ts: new Date(publishedAt).toISOString() }],
      }),
      { qos: 1 },
    );

    await waitFor(() => seenWatcher.alert.length > 0, 'alert on the watching clinician', 10_000);
    const alertLatency = Date.now() - publishedAt;
    const alert = seenWatcher.alert[0] as AlertResource;
    expect(alert).toMatchObject({
      patientId: patient,
      deviceId: cgm,
      rule: 'glucose.urgent_low',
      priority: 'high',
      state: 'open',
      metric: 'glucose',
    });
    expect(alert.value).toBeCloseTo(2.5 * 18.016, 3);

    const reading = await waitFor(() => seenWatcher.reading[0] as LiveReadingEvent | undefined, 'live reading', 5000);
    expect(reading).toMatchObject({ patientId: patient, deviceId: cgm, metric: 'glucose', unit: 'mg/dL' });
    expect(reading.value).toBeCloseTo(45.04, 2);

    const notification = await waitFor(
      () => seenSelf.notification[0] as PatientNotificationResource | undefined,
      'patient notification',
      5000,
    );
    expect(notification).toMatchObject({ patientId: patient, kind: 'alert_opened', alertId: alert.id });
    await waitFor(() => seenSelf.alert.length > 0, 'alert on the patient socket', 5000);

    // The other clinician's socket, subscribed to another patient, saw nothing of it.
    expect(seenOther.alert).toHaveLength(0);
    expect(seenOther.reading).toHaveLength(0);
    expect(seenWatcher.notification).toHaveLength(0);
    // Measured for information (the benchmark is bench/src/live-latency.ts); generous bound for a shared CI machine.
    expect(alertLatency).toBeLessThan(5000);
  });
});
