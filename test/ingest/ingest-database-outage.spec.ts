import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { INestApplicationContext } from '@nestjs/common';
import type { MqttClient } from 'mqtt';
import { topicsFor } from '@lantern/messaging';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { startMosquitto, type MosquittoServer } from '../support/mosquitto.js';
import { connectMqtt, uniqueTopicRoot } from '../support/mqtt.js';
import { waitFor } from '../support/wait.js';
import { startTcpProxy, type TcpProxy } from '../../bench/src/infra/tcp-proxy.js';
import {
  ingestEnvironment,
  publishNumbered,
  seedDevice,
  startIngest,
  storedTimes,
  type SeededDevice,
} from './ingest-fixture.js';
import { IngestMqttConnection } from '../../apps/ingest/src/consumer/ingest-mqtt.connection.js';
import { IngestMetrics } from '../../apps/ingest/src/metrics/ingest-metrics.js';

describe('ingest: database connection cut mid-stream, then restored', () => {
  let db: TestDatabase;
  let broker: MosquittoServer;
  let proxy: TcpProxy;
  let ingest: INestApplicationContext;
  let device: MqttClient;
  let oximeter: SeededDevice;
  const topicRoot = uniqueTopicRoot('outage');

  beforeAll(async () => {
    [db, broker] = await Promise.all([createTestDatabase(), startMosquitto()]);
    oximeter = await seedDevice(db.dataSource, 'pulse_oximeter');
    const target = new URL(db.url);
    proxy = await startTcpProxy(target.hostname, Number(target.port || 5432));
    device = await connectMqtt(broker.url, { protocolVersion: 5 });
  });

  afterAll(async () => {
    await device?.endAsync();
    await ingest?.close();
    await proxy?.close();
    await Promise.all([db?.drop(), broker?.stop()]);
  });

  it('stops acknowledging, keeps memory bounded, resumes by itself, loses nothing', async () => {
    const maxPending = 100;
    const env = ingestEnvironment({
      databaseUrl: proxy.urlFor(db.url),
      mqttUrl: broker.url,
      topicRoot,
      extra: { INGEST_MAX_PENDING_MESSAGES: String(maxPending), INGEST_BATCH_SIZE: '500' },
    });
    ingest = await startIngest(env);
    const connection = ingest.get(IngestMqttConnection);
    const metrics = ingest.get(IngestMetrics);
    const topic = topicsFor(env.MQTT_TOPIC_ROOT).telemetry(oximeter.id);
    const base = Date.now() - 86_400_000;
    const messages = 2000;
    const perMessage = 3;

    await publishNumbered(device, topic, 0, 500, base, perMessage);
    await waitFor(
      async () => (await storedTimes(db.dataSource, oximeter.id)).count === 500 * perMessage,
      'the first part stored',
    );

    proxy.cut();
    // Published while the database is unreachable: the broker holds what the ingest does not take.
    await publishNumbered(device, topic, 500, messages, base, perMessage);
    await waitFor(async () => (await metrics.writeErrors.get()).values.some((v) => v.value > 0), 'failed writes');
    await waitFor(() => connection.pendingMessages >= maxPending, 'the pending limit reached');
    const pausedAt = (await storedTimes(db.dataSource, oximeter.id)).count;
    // Paused: it neither acknowledges nor reads on.
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(connection.pendingMessages).toBeLessThanOrEqual(maxPending);
    expect((await metrics.paused.get()).values[0].value).toBe(1);
    expect((await storedTimes(db.dataSource, oximeter.id)).count).toBe(pausedAt);

    proxy.restore();
    const final = await waitFor(
      async () => {
        const s = await storedTimes(db.dataSource, oximeter.id);
        return s.count >= messages * perMessage ? s : undefined;
      },
      'every reading stored after the database came back',
      30_000,
      100,
    );
    expect(final).toEqual({ count: messages * perMessage, distinct: messages * perMessage });
    await waitFor(() => connection.pendingMessages === 0, 'every message acknowledged');
    expect((await metrics.paused.get()).values[0].value).toBe(0);
  }, 60_000);

  it('counts QoS 0 messages against the same bound while their readings cannot be written', async () => {
    const connection = ingest.get(IngestMqttConnection);
    const metrics = ingest.get(IngestMetrics);
    const topic = topicsFor(topicRoot).telemetry(oximeter.id);
    const base = Date.now() - 2 * 86_400_000;
    const before = (await storedTimes(db.dataSource, oximeter.id)).count;

    proxy.cut();
    // QoS 0 has nothing to acknowledge, but what the ingest took in waits for the database in
    // memory: past the bound it stops reading (the broker may drop QoS 0, as QoS 0 allows).
    await publishNumbered(device, topic, 0, 1000, base, 3, 100, 0);
    await waitFor(() => connection.pendingMessages >= 100, 'the pending limit reached with QoS 0');
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(connection.pendingMessages).toBeLessThanOrEqual(100);
    expect((await metrics.paused.get()).values[0].value).toBe(1);

    proxy.restore();
    await waitFor(() => connection.pendingMessages === 0, 'every QoS 0 message written', 30_000);
    expect((await storedTimes(db.dataSource, oximeter.id)).count).toBeGreaterThan(before);
    expect((await metrics.paused.get()).values[0].value).toBe(0);
  }, 60_000);
});
