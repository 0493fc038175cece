import { describe, expect, it } from '@jest/globals';
import { AlertEngine, type EngineOutput } from '@lantern/alerting';
import type { LanternConfig } from '@lantern/config';
import type { AlertTransitionRepository, PatientSettingsRepository } from '@lantern/storage';
import type { IngestMqttConnection } from '../consumer/ingest-mqtt.connection.js';
import type { IngestMetrics } from '../metrics/ingest-metrics.js';
import { AlertOutputWriter } from './alert-output.writer.js';
import type { AlertWebhookService } from './alert-webhook.service.js';

const T0 = Date.UTC(2026, 11, 6, 12, 0, 0);
const PATIENT = '0b7f4a52-9a54-4c1e-8d2f-6f0d3c1a2b3c';
const DEVICE = '5d0c1e7a-3b2f-4e8a-9c6d-1a2b3c4d5e6f';

/** What a fever opens: an alert of priority above low and its patient message (not `info`). */
function feverOutput(): EngineOutput {
  const engine = new AlertEngine({ newId: () => '7c9e6679-7425-40de-944b-e07fc1f90ae7' });
  engine.registerDevice({ deviceId: DEVICE, patientId: PATIENT, type: 'wearable_patch' });
  return engine.onReading(
    { deviceId: DEVICE, patientId: PATIENT, metric: 'body_temperature', value: 39.4, time: T0, receivedAt: T0 },
    T0,
  );
}

/** A writer over fakes that records which patients' quiet hours it looked up and what it published. */
function writerWithFakes() {
  const lookups: string[][] = [];
  const published: string[] = [];
  const settings = {
    quietHoursOf: (ids: Iterable<string>) => {
      lookups.push([...ids]);
      return Promise.resolve(new Map());
    },
  } as unknown as PatientSettingsRepository;
  const alerts = {
    saveTransitions: (list: { alert: { id: string } }[], notifications: { id: string }[]) =>
      Promise.resolve({
        applied: new Set(list.map((w) => w.alert.id)),
        notified: new Set(notifications.map((n) => n.id)),
        held: new Set(),
        threads: new Map(),
      }),
  } as unknown as AlertTransitionRepository;
  const connection = {
    publishing: true,
    publish: (topic: string) => published.push(topic),
  } as unknown as IngestMqttConnection;
  const webhook = { delivery: () => undefined, nudge: () => undefined } as unknown as AlertWebhookService;
  const observed: number[] = [];
  const metrics = {
    storageRefused: { inc: () => undefined },
    alertOutputSeconds: { observe: (seconds: number) => observed.push(seconds) },
  } as unknown as IngestMetrics;
  const config = { mqttTopicRoot: 'lantern/v1' } as LanternConfig;
  const writer = new AlertOutputWriter(config, alerts, settings, webhook, connection, metrics);
  return { writer, lookups, published, observed };
}

describe('AlertOutputWriter: the alert lane has no round trip it does not need', () => {
  it('stores and publishes an alert whose messages cannot be held without looking up quiet hours', async () => {
    const output = feverOutput();
    expect(output.transitions.map((t) => t.kind)).toEqual(['opened']);
    expect(output.notifications.length).toBeGreaterThan(0);
    expect(output.notifications.every((n) => n.severity !== 'info')).toBe(true);
    const { writer, lookups, published, observed } = writerWithFakes();
    writer.enqueue(output);
    await writer.drained();
    expect(lookups).toEqual([]);
    // The alert lane's delay, from the evaluation (at T0) to the event handed to the broker.
    expect(observed).toHaveLength(1);
    expect(observed[0]).toBeCloseTo((Date.now() - T0) / 1000, 0);
    expect(published).toEqual([
      `lantern/v1/events/patients/${PATIENT}/alerts`,
      ...output.notifications.map(() => `lantern/v1/events/patients/${PATIENT}/notifications`),
    ]);
  });

  it('looks up quiet hours, once, for the patients of `info` messages (the only ones that can be held)', async () => {
    const output = feverOutput();
    const info: EngineOutput = {
      transitions: output.transitions,
      notifications: output.notifications.map((n) => ({ ...n, severity: 'info' as const })),
    };
    const { writer, lookups } = writerWithFakes();
    writer.enqueue(info);
    await writer.drained();
    expect(lookups).toEqual([output.notifications.map(() => PATIENT)]);
  });
});
