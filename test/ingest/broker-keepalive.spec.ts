import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { MqttClient } from 'mqtt';
import { keepAliveWhileReceiving } from '@lantern/messaging';
import { startMosquitto, type MosquittoServer } from '../support/mosquitto.js';
import { connectMqtt, uniqueTopicRoot } from '../support/mqtt.js';

const BACKLOG = 250;
const HANDLE_MS = 20;

/**
 * A consumer reading behind a backlog (the ingest after an overload or a restart) gets the broker's
 * PINGRESP only after every message queued before it. With a 1-s keepalive and a backlog that takes
 * 5 s to work through, mqtt.js alone gives up on the broker ("Keepalive timeout") in the middle of it;
 * with keepAliveWhileReceiving the connection stays up and the backlog is taken whole. Real Mosquitto
 * with the shipped queue settings.
 */
describe('the broker connection survives reading behind a backlog (real Mosquitto)', () => {
  let broker: MosquittoServer;
  let publisher: MqttClient;

  beforeAll(async () => {
    broker = await startMosquitto();
    publisher = await connectMqtt(broker.url);
  });

  afterAll(async () => {
    await publisher?.endAsync();
    await broker?.stop();
  });

  /** Subscribes a slow consumer, queues the backlog for it, and reports how its connection fared. */
  async function consumeBacklog(withHelper: boolean): Promise<{ received: number; errors: string[]; closed: boolean }> {
    const topic = `${uniqueTopicRoot('keepalive')}/backlog`;
    const consumer = await connectMqtt(broker.url, { keepalive: 1, clean: true });
    if (withHelper) keepAliveWhileReceiving(consumer);
    const errors: string[] = [];
    let closed = false;
    let received = 0;
    consumer.on('error', (error) => errors.push(error.message));
    consumer.on('close', () => (closed = true));
    // mqtt.js reads the next packet only once this one is handled: 250 × 20 ms = 5 s of backlog.
    consumer.handleMessage = (_packet, done) => {
      received += 1;
      setTimeout(() => done(), HANDLE_MS);
    };
    await consumer.subscribeAsync(topic, { qos: 1 });
    await Promise.all(
      Array.from({ length: BACKLOG }, (_, i) => publisher.publishAsync(topic, `message ${i}`, { qos: 1 })),
    );
    const deadline = Date.now() + BACKLOG * HANDLE_MS * 3;
    while (received < BACKLOG && !closed && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    const outcome = { received, errors, closed };
    await consumer.endAsync(true);
    return outcome;
  }

  it('mqtt.js alone drops a healthy connection while it works through the backlog (the failure this guards)', async () => {
    const outcome = await consumeBacklog(false);
    expect(outcome.errors).toContain('Keepalive timeout');
    expect(outcome.closed).toBe(true);
    expect(outcome.received).toBeLessThan(BACKLOG);
  }, 30_000);

  it('with keepAliveWhileReceiving the connection stays up and every message is taken', async () => {
    const outcome = await consumeBacklog(true);
    expect(outcome.errors).toEqual([]);
    expect(outcome.closed).toBe(false);
    expect(outcome.received).toBe(BACKLOG);
  }, 30_000);
});
