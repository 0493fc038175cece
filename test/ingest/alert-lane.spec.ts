import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { INestApplicationContext } from '@nestjs/common';
import type { MqttClient } from 'mqtt';
import { DataSource } from 'typeorm';
import { ALERT_LANE } from '@lantern/storage';
import { startIngestRig, type IngestRig } from '../support/boot.js';
import { waitFor } from '../support/wait.js';
import { startIngest } from './ingest-fixture.js';
import { IngestService } from '../../apps/ingest/src/ingest.service.js';
import { IngestHeartbeatService } from '../../apps/ingest/src/health/ingest-heartbeat.service.js';
import { IngestMqttConnection } from '../../apps/ingest/src/consumer/ingest-mqtt.connection.js';
import { AlertOutputWriter } from '../../apps/ingest/src/alerting/alert-output.writer.js';

/** The socket under one of the connection's mqtt.js clients, to drop it as a network fault would. */
function socketOf(connection: IngestMqttConnection, which: 'client' | 'publisher'): { destroy(): void } {
  const client = (connection as unknown as Record<string, { stream: { destroy(): void } } | undefined>)[which];
  if (!client) throw new Error(`no ${which} connection`);
  return client.stream;
}

/**
 * The alert's own lane out of the ingest (docs/performance.md, "The alert's way back"): what the
 * ingest publishes (patient events, error replies, its canary) goes out on a connection of its own,
 * never the consuming session's, where Mosquitto read it only after the thousands of PUBACKs before
 * it; and the streaming core writes alerts over a database connection of its own, with a generic
 * plan. Real Mosquitto and PostgreSQL.
 */
describe('ingest: the alert lane (publishing connection, database connection)', () => {
  let rig: IngestRig;
  let ingest: INestApplicationContext;
  let observer: MqttClient;
  const received: { topic: string; consumerUp: boolean }[] = [];

  beforeAll(async () => {
    rig = await startIngestRig('publisher');
    ingest = await startIngest(rig.env({ INGEST_CANARY_INTERVAL: '500ms' }));
    observer = await rig.connect();
    await observer.subscribeAsync(`${rig.topicRoot}/events/#`, { qos: 1 });
    observer.on('message', (topic) => received.push({ topic, consumerUp: ingest.get(IngestMqttConnection).connected }));
  });

  afterAll(async () => {
    await ingest?.close();
    await rig?.close();
  });

  const metrics = async (): Promise<string> =>
    (await fetch(`http://127.0.0.1:${ingest.get(IngestService).metricsPort!}/metrics`)).text();

  it('is up beside the consuming connection, and its canary comes back through the consuming one', async () => {
    const connection = ingest.get(IngestMqttConnection);
    expect(connection.publishing).toBe(true);
    expect(connection.health()).toMatchObject({ connected: true, notPublishingSince: null });
    const text = await metrics();
    expect(text).toContain('lantern_ingest_broker_connected 1\n');
    expect(text).toContain('lantern_ingest_publisher_connected 1\n');
    const before = connection.health().lastCanaryAt ?? 0;
    await waitFor(() => (connection.health().lastCanaryAt ?? 0) > before, 'a canary back', 5_000);
  });

  it('publishes while the consuming connection is down', async () => {
    const connection = ingest.get(IngestMqttConnection);
    socketOf(connection, 'client').destroy();
    await waitFor(() => !connection.connected, 'the consuming connection dropped', 2_000, 1);
    const topic = `${rig.topicRoot}/events/patients/p-1/devices`;
    connection.publish(topic, JSON.stringify({ probe: true }), { qos: 1 });
    await waitFor(() => received.some((r) => r.topic === topic), 'the event at the observer', 2_000, 1);
    // It went out on its own connection: the consuming one (reconnecting after 1 s) was still down.
    expect(received.find((r) => r.topic === topic)?.consumerUp).toBe(false);
    await waitFor(() => connection.connected, 'the consuming connection back', 10_000);
  });

  it('says when it is down: health, heartbeat state and metrics, until it is back', async () => {
    const connection = ingest.get(IngestMqttConnection);
    const heartbeat = ingest.get(IngestHeartbeatService);
    socketOf(connection, 'publisher').destroy();
    await waitFor(() => !connection.publishing, 'the publishing connection dropped', 2_000, 1);
    expect(connection.health().notPublishingSince).not.toBeNull();
    expect(await metrics()).toContain('lantern_ingest_publisher_connected 0\n');
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(heartbeat.state().notPublishingForMs).toBeGreaterThan(0);
    // The consuming connection is not touched by it.
    expect(connection.connected).toBe(true);
    await waitFor(() => connection.publishing, 'the publishing connection back', 10_000);
    expect(heartbeat.state().notPublishingForMs).toBe(0);
    expect(await metrics()).toContain('lantern_ingest_publisher_connected 1\n');
  });

  it('writes alerts over a database connection of its own, whose prepared alert write is planned once', async () => {
    const main = ingest.get(DataSource);
    const lane = ingest.get<DataSource>(ALERT_LANE);
    expect(lane).not.toBe(main);
    const cgm = await rig.data.patientWithDevice('cgm');
    const device = await rig.connect();
    const base = Date.now() - 60 * 60_000;
    // A fall through every low threshold: several alert writes.
    for (const [i, value] of [180, 150, 120, 90, 60, 45].entries())
      await device.publishAsync(
        rig.topics.telemetry(cgm.id),
        JSON.stringify({ ts: new Date(base + i * 5 * 60_000).toISOString(), readings: [{ metric: 'glucose', value }] }),
        { qos: 1 },
      );
    await waitFor(async () => {
      const [row] = await main.query<{ n: number }[]>(`SELECT count(*)::int AS n FROM alerts WHERE patient_id = $1`, [
        cgm.patientId,
      ]);
      return row.n >= 2;
    }, 'alerts stored');
    await ingest.get(AlertOutputWriter).drained();
    // One connection (a pool of one), so these run on the session that wrote the alerts.
    const [session] = await lane.query<{ name: string; mode: string }[]>(
      `SELECT current_setting('application_name') AS name, current_setting('plan_cache_mode') AS mode`,
    );
    expect(session).toEqual({ name: 'lantern-ingest-alerts', mode: 'force_generic_plan' });
    const [write] = await lane.query<{ generic: number; custom: number }[]>(
      `SELECT generic_plans::int AS generic, custom_plans::int AS custom FROM pg_prepared_statements WHERE name = 'lantern_save_alert_transitions'`,
    );
    expect(write.generic).toBeGreaterThanOrEqual(2);
    expect(write.custom).toBe(0);
  });
});
