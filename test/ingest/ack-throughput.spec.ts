import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { MqttClient } from 'mqtt';
import { topicsFor } from '@lantern/messaging';
import { startAnonymousBroker } from '@lantern/embedded';
import { findFreePort } from '@lantern/embedded';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { startMosquitto, type MosquittoServer } from '../support/mosquitto.js';
import { connectMqtt, uniqueTopicRoot } from '../support/mqtt.js';
import { waitFor } from '../support/wait.js';
import { ingestEnvironment, publishNumbered, seedDevice, startIngest, storedTimes } from './ingest-fixture.js';
import { IngestMqttConnection, type AckMode } from '../../apps/ingest/src/consumer/ingest-mqtt.connection.js';

/**
 * Acknowledge-after-commit, measured: mqtt.js's own flow (hold the ack callback until the commit:
 * one message in flight) against the held-PUBACK design. Numbers go to docs/ingest.md.
 */
describe('ingest acknowledgement design: throughput', () => {
  let db: TestDatabase;
  let mosquitto: MosquittoServer;
  let aedes: { stop(): Promise<void> } | undefined;
  let aedesUrl: string;
  const results: string[] = [];

  beforeAll(async () => {
    [db, mosquitto] = await Promise.all([createTestDatabase(), startMosquitto()]);
    const port = await findFreePort();
    aedes = await startAnonymousBroker({ port, host: '127.0.0.1' });
    aedesUrl = `mqtt://127.0.0.1:${port}`;
  });

  afterAll(async () => {
    if (results.length) console.log(results.join('\n'));
    await aedes?.stop();
    await Promise.all([db?.drop(), mosquitto?.stop()]);
  });

  async function measure(
    mode: AckMode,
    brokerUrl: string,
    messages: number,
    batchWaitMs: string,
    protocolVersion: 4 | 5,
  ): Promise<{ rate: number; maxInFlight: number }> {
    const oximeter = await seedDevice(db.dataSource, 'pulse_oximeter');
    const env = ingestEnvironment({
      databaseUrl: db.url,
      mqttUrl: brokerUrl,
      topicRoot: uniqueTopicRoot('tput'),
      extra: { INGEST_BATCH_MAX_WAIT_MS: batchWaitMs },
    });
    const ingest = await startIngest(env, mode);
    const device: MqttClient = await connectMqtt(brokerUrl, { protocolVersion });
    try {
      expect(ingest.get(IngestMqttConnection).protocolVersion).toBe(protocolVersion);
      const topic = topicsFor(env.MQTT_TOPIC_ROOT).telemetry(oximeter.id);
      const base = Date.now() - 86_400_000;
      const connection = ingest.get(IngestMqttConnection);
      let maxInFlight = 0;
      const sampler = setInterval(() => (maxInFlight = Math.max(maxInFlight, connection.pendingMessages)), 1);
      const started = performance.now();
      const publishing = publishNumbered(device, topic, 0, messages, base, 1, 500);
      await waitFor(
        async () => (await storedTimes(db.dataSource, oximeter.id)).count === messages,
        `${messages} readings stored`,
        60_000,
        20,
      );
      await waitFor(() => ingest.get(IngestMqttConnection).pendingMessages === 0, 'all acknowledged', 10_000, 5);
      const seconds = (performance.now() - started) / 1000;
      clearInterval(sampler);
      await publishing;
      const rate = Math.round(messages / seconds);
      results.push(
        `${mode.padEnd(5)} MQTT ${protocolVersion === 5 ? '5    ' : '3.1.1'} batch wait ${batchWaitMs.padStart(2)} ms: ${messages} messages in ${seconds.toFixed(2)} s = ${rate} msg/s, at most ${maxInFlight} unacknowledged`,
      );
      return { rate, maxInFlight };
    } finally {
      await device.endAsync();
      await ingest.close();
    }
  }

  // What makes the held design fast, asserted without a clock: it keeps many messages in flight
  // (acknowledged together after each batch commits) where the naive one has one at a time. The
  // rates are printed for docs/ingest.md; speed itself is the bench's business.
  it('holding PUBACKs in order keeps many messages in flight where the naive design has one (Mosquitto, MQTT 5)', async () => {
    const naive = await measure('naive', mosquitto.url, 300, '1', 5);
    const held = await measure('held', mosquitto.url, 10_000, '20', 5);
    expect(naive.maxInFlight).toBeLessThanOrEqual(1);
    expect(held.maxInFlight).toBeGreaterThan(50);
  }, 120_000);

  it('works the same on MQTT 3.1.1 (the embedded aedes broker), where customHandleAcks is not available', async () => {
    const naive = await measure('naive', aedesUrl, 300, '1', 4);
    const held = await measure('held', aedesUrl, 10_000, '20', 4);
    expect(naive.maxInFlight).toBeLessThanOrEqual(1);
    expect(held.maxInFlight).toBeGreaterThan(50);
  }, 120_000);
});
