import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createServer, type Server, type Socket } from 'node:net';
import { generate, parser, type IConnectPacket, type IPublishPacket, type Packet } from 'mqtt-packet';
import type { MqttClient } from 'mqtt';
import { findFreePort } from '@lantern/embedded';
import { decodeTelemetry, MAX_FUTURE_SKEW_MS, type Rejection } from '@lantern/messaging';
import { LoadRunner, type LoadOptions, type LoadProgress } from '../../device-simulator/src/load-runner.js';
import { ReadingAdmission } from '../../apps/ingest/src/pipeline/reading-admission.js';
import { collectMessages, connectMqtt, uniqueTopicRoot } from '../support/mqtt.js';
import { waitFor } from '../support/wait.js';
import { startTcpProxy } from '../../bench/src/infra/tcp-proxy.js';

const MQTT_URL = process.env.MQTT_URL ?? 'mqtt://127.0.0.1:1883';

const devices = (n: number, prefix: string) =>
  Array.from({ length: n }, (_, i) => ({ deviceId: `${prefix}-${i}`, secret: `secret-${i}` }));

interface Received {
  topic: string;
  body: unknown;
}

/** (topic, seq) of every telemetry message received: what a device published, once each. */
function distinctMessages(received: Received[]): Set<string> {
  return new Set(received.map((m) => `${m.topic}#${(m.body as { seq: number }).seq}`));
}

function readingsIn(received: Received[]): number {
  return received.reduce((sum, m) => sum + (m.body as { readings: unknown[] }).readings.length, 0);
}

/** Starts a load run that lasts until `stop()`, with progress sampled every 100 ms. */
function startLoad(options: Omit<LoadOptions, 'onProgress' | 'progressEveryMs' | 'signal'>) {
  const controller = new AbortController();
  const progress: LoadProgress[] = [];
  const runner = new LoadRunner({
    ...options,
    progressEveryMs: 100,
    signal: controller.signal,
    onProgress: (p) => progress.push(p),
  });
  const done = runner.run();
  return {
    runner,
    progress,
    latest: () => progress.at(-1),
    stop: () => {
      controller.abort();
      return done;
    },
    done,
  };
}

/**
 * A scripted broker: `onPacket` sees each packet with the socket it came on and the number of that
 * connection (1 for the first), and answers as the test wants.
 */
async function startFakeBroker(
  onPacket: (packet: Packet, socket: Socket, connection: number) => void,
): Promise<{ url: string; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  let connections = 0;
  const server: Server = createServer((socket) => {
    const connection = ++connections;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    const p = parser();
    p.on('packet', (packet) => onPacket(packet, socket, connection));
    socket.on('data', (chunk: Buffer) => p.parse(chunk));
    socket.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return {
    url: `mqtt://127.0.0.1:${port}`,
    close: () => {
      for (const s of sockets) s.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

/** Raw telemetry payloads with the moment the subscriber got them, in arrival order. */
async function collectRaw(
  client: MqttClient,
  root: string,
): Promise<{ deviceId: string; payload: Buffer; receivedAt: number }[]> {
  const received: { deviceId: string; payload: Buffer; receivedAt: number }[] = [];
  client.on('message', (topic, payload) => {
    const m = new RegExp(`^${root}/devices/([^/]+)/telemetry$`).exec(topic);
    if (m) received.push({ deviceId: m[1], payload, receivedAt: Date.now() });
  });
  await client.subscribeAsync(`${root}/devices/+/telemetry`, { qos: 1 });
  return received;
}

/** What the ingest would refuse of these messages: its codec, then its admission for pulse oximeters. */
function ingestRefusals(received: { deviceId: string; payload: Buffer; receivedAt: number }[]): {
  refusals: Rejection[];
  readings: number;
  latestLead: number;
  earliestLag: number;
} {
  const admission = new ReadingAdmission();
  const refusals: Rejection[] = [];
  let readings = 0;
  let latestLead = -Infinity;
  let earliestLag = -Infinity;
  for (const m of received) {
    const decoded = decodeTelemetry(m.payload, {
      receivedAt: m.receivedAt,
      maxBackfillMs: 30 * 86_400_000,
      deviceId: m.deviceId,
    });
    const admitted = admission.admit({ id: m.deviceId, type: 'pulse_oximeter' }, decoded);
    refusals.push(...admitted.rejections);
    readings += admitted.readings.length;
    for (const r of admitted.readings) {
      latestLead = Math.max(latestLead, r.time - m.receivedAt);
      earliestLag = Math.max(earliestLag, m.receivedAt - r.time);
    }
  }
  return { refusals, readings, latestLead, earliestLag };
}

describe('LoadRunner (load mode) against Mosquitto', () => {
  let subscriber: MqttClient;

  beforeAll(async () => {
    subscriber = await connectMqtt(MQTT_URL);
  });

  afterAll(async () => {
    await subscriber.endAsync();
  });

  it('connects 50 devices and every acknowledged message reaches a subscriber', async () => {
    const root = uniqueTopicRoot('sim-load');
    const received = await collectMessages(subscriber, `${root}/devices/+/telemetry`);
    const load = startLoad({
      mqttUrl: MQTT_URL,
      topicRoot: root,
      devices: devices(50, 'load-ok'),
      ratePerSec: 400,
      readingsPerMessage: 2,
    });
    await waitFor(() => load.latest()?.phase === 'running', 'every device to connect');
    await waitFor(() => (load.latest()?.acked ?? 0) >= 400, '400 acknowledged messages', 15_000);
    const final = await load.stop();

    expect(final).toMatchObject({ phase: 'done', devices: 50, connectFailures: 0, errors: 0, inFlight: 0 });
    expect(Math.max(...load.progress.map((p) => p.connected))).toBe(50);
    expect(final.connected).toBe(0);
    expect(final.acked).toBe(final.sent);
    expect(final.ackedReadings).toBe(final.acked * 2);
    await waitFor(() => received.length >= final.acked, `${final.acked} messages at the subscriber`);
    expect(distinctMessages(received).size).toBe(final.acked);
    expect(readingsIn(received)).toBe(final.ackedReadings);
    // Spread over every device, round-robin.
    expect(new Set(received.map((m) => m.topic)).size).toBe(50);
  });

  it('reconnects after the connections drop and delivers what was in flight', async () => {
    const root = uniqueTopicRoot('sim-load-drop');
    const received = await collectMessages(subscriber, `${root}/devices/+/telemetry`);
    const target = new URL(MQTT_URL);
    const proxy = await startTcpProxy(target.hostname, Number(target.port || 1883));
    try {
      const load = startLoad({
        mqttUrl: proxy.urlFor(MQTT_URL),
        topicRoot: root,
        devices: devices(20, 'load-drop'),
        ratePerSec: 200,
      });
      await waitFor(() => (load.latest()?.acked ?? 0) >= 50, 'the first acknowledged messages', 15_000);
      proxy.cut();
      await waitFor(() => load.latest()?.connected === 0, 'every device to notice the drop');
      const ackedBeforeDrop = load.latest()!.acked;
      proxy.restore();
      await waitFor(() => load.latest()?.connected === 20, 'every device to reconnect', 15_000);
      await waitFor(() => load.latest()!.acked >= ackedBeforeDrop + 50, 'acknowledgements after reconnecting');
      const final = await load.stop();

      expect(final).toMatchObject({ connectFailures: 0, inFlight: 0 });
      expect(final.acked).toBe(final.sent);
      await waitFor(
        () => distinctMessages(received).size >= final.acked,
        `${final.acked} distinct messages at the subscriber`,
      );
      expect(distinctMessages(received).size).toBe(final.sent);
    } finally {
      await proxy.close();
    }
  });

  it('counts every device as a connect failure when nothing listens on the port', async () => {
    const port = await findFreePort();
    const load = startLoad({ mqttUrl: `mqtt://127.0.0.1:${port}`, devices: devices(5, 'load-none'), ratePerSec: 100 });
    await waitFor(() => load.latest()?.phase === 'running', 'the connect phase to end');
    const final = await load.stop();
    expect(final).toMatchObject({ phase: 'done', devices: 5, connected: 0, connectFailures: 5, sent: 0, acked: 0 });
    expect(final.errors).toBe(5);
  });

  it('sends the device credentials and counts a refused CONNACK as a connect failure', async () => {
    const connects: IConnectPacket[] = [];
    const broker = await startFakeBroker((packet, socket) => {
      if (packet.cmd !== 'connect') return;
      connects.push(packet);
      socket.write(generate({ cmd: 'connack', returnCode: 5, sessionPresent: false }));
    });
    try {
      const load = startLoad({ mqttUrl: broker.url, devices: devices(3, 'load-refused'), ratePerSec: 100 });
      await waitFor(() => load.latest()?.phase === 'running', 'the connect phase to end');
      const final = await load.stop();
      expect(final).toMatchObject({ connected: 0, connectFailures: 3, errors: 3, sent: 0 });
      const seen = connects
        .map((c) => ({
          clientId: c.clientId,
          username: c.username,
          password: c.password?.toString(),
          clean: c.clean,
          keepalive: c.keepalive,
          protocolVersion: c.protocolVersion,
        }))
        .sort((a, b) => a.clientId.localeCompare(b.clientId));
      expect(seen).toEqual(
        [0, 1, 2].map((i) => ({
          clientId: `load-refused-${i}`,
          username: `load-refused-${i}`,
          password: `secret-${i}`,
          clean: true,
          keepalive: 60,
          protocolVersion: 4,
        })),
      );
    } finally {
      await broker.close();
    }
  });

  it('shares the devices over fewer connections when asked: device i publishes on connection i mod C', async () => {
    const clientIds = new Map<number, string>();
    const topicsBy = new Map<string, Set<string>>();
    const broker = await startFakeBroker((packet, socket, connection) => {
      if (packet.cmd === 'connect') {
        clientIds.set(connection, packet.clientId);
        socket.write(generate({ cmd: 'connack', returnCode: 0, sessionPresent: false }));
      }
      if (packet.cmd !== 'publish') return;
      const id = clientIds.get(connection)!;
      topicsBy.set(id, (topicsBy.get(id) ?? new Set()).add(packet.topic));
      socket.write(generate({ cmd: 'puback', messageId: packet.messageId }));
    });
    try {
      const load = startLoad({
        mqttUrl: broker.url,
        devices: devices(12, 'load-shared'),
        connections: 4,
        ratePerSec: 480,
      });
      await waitFor(() => (load.latest()?.acked ?? 0) >= 120, '120 acknowledged messages', 15_000);
      const final = await load.stop();

      expect(final).toMatchObject({ devices: 12, connections: 4, connectFailures: 0, errors: 0, inFlight: 0 });
      expect(Math.max(...load.progress.map((p) => p.connected))).toBe(4);
      expect(final.acked).toBe(final.sent);
      // Four sockets, each with its first device's credentials, each carrying three devices' topics.
      expect([...clientIds.values()].sort()).toEqual([0, 1, 2, 3].map((i) => `load-shared-${i}`));
      for (const c of [0, 1, 2, 3])
        expect([...(topicsBy.get(`load-shared-${c}`) ?? [])].sort()).toEqual(
          [c, c + 4, c + 8].map((i) => `lantern/v1/devices/load-shared-${i}/telemetry`).sort(),
        );
    } finally {
      await broker.close();
    }
  });

  it('resends unacknowledged publishes with DUP after a reconnect, then counts their PUBACKs', async () => {
    // Session 1 takes three publishes without acknowledging them and drops; later sessions ack all.
    const publishes: { connection: number; packet: IPublishPacket }[] = [];
    let disconnected = false;
    const broker = await startFakeBroker((packet, socket, connection) => {
      if (packet.cmd === 'connect') socket.write(generate({ cmd: 'connack', returnCode: 0, sessionPresent: false }));
      if (packet.cmd === 'disconnect') disconnected = true;
      if (packet.cmd !== 'publish') return;
      publishes.push({ connection, packet });
      if (connection > 1) socket.write(generate({ cmd: 'puback', messageId: packet.messageId }));
      else if (publishes.length === 3) socket.destroy();
    });
    try {
      const load = startLoad({ mqttUrl: broker.url, devices: devices(1, 'load-resend'), ratePerSec: 20 });
      await waitFor(() => (load.latest()?.acked ?? 0) >= 6, 'acknowledgements in the second session', 15_000);
      const lost = load.progress.find((p) => p.connected === 0 && p.phase === 'running');
      expect(lost?.inFlight).toBe(3);
      const final = await load.stop();

      expect(final).toMatchObject({ connectFailures: 0, inFlight: 0, errors: 0 });
      expect(final.acked).toBe(final.sent);
      expect(final.acked).toBe(publishes.length - 3);
      const first = publishes.filter((p) => p.connection === 1).map((p) => p.packet);
      const resent = publishes
        .filter((p) => p.connection === 2)
        .slice(0, 3)
        .map((p) => p.packet);
      expect(first.map((p) => [p.qos, p.dup, p.messageId])).toEqual([
        [1, false, 1],
        [1, false, 2],
        [1, false, 3],
      ]);
      expect(resent.map((p) => [p.dup, p.messageId, p.topic, p.payload.toString()])).toEqual(
        first.map((p) => [true, p.messageId, p.topic, p.payload.toString()]),
      );
      expect(first[0].topic).toBe('lantern/v1/devices/load-resend-0/telemetry');
      await waitFor(() => disconnected, 'a DISCONNECT at the end');
    } finally {
      await broker.close();
    }
  });

  it('stamps readings the ingest admits at any rate: per device one heart_rate and one spo2 per second of event time', async () => {
    const root = uniqueTopicRoot('sim-load-admission');
    const received = await collectRaw(subscriber, root);
    const started = Date.now();
    // 100 readings/s per device: 50 times what a real oximeter sends.
    const load = startLoad({ mqttUrl: MQTT_URL, topicRoot: root, devices: devices(4, 'load-adm'), ratePerSec: 400 });
    await waitFor(() => (load.latest()?.acked ?? 0) >= 600, '600 acknowledged messages', 15_000);
    const final = await load.stop();
    await waitFor(() => received.length >= final.acked, `${final.acked} messages at the subscriber`);

    const { refusals, readings, earliestLag } = ingestRefusals(received);
    expect(refusals).toEqual([]);
    expect(readings).toBe(final.ackedReadings);
    expect(final.clockLimited).toBe(0);
    // The event clocks started 3 h back (within INGEST_MAX_BACKFILL) and lag no further.
    expect(earliestLag).toBeLessThanOrEqual(3 * 3_600_000 + (Date.now() - started));
  });

  it('never stamps a reading more than 4 min ahead: once every clock has caught up, what is owed is counted as clock-limited', async () => {
    const root = uniqueTopicRoot('sim-load-clock');
    const received = await collectRaw(subscriber, root);
    // No back-dating and 100 reading pairs/s: the clock gains 99 s per second, 4 min in ~2.5 s.
    const load = startLoad({
      mqttUrl: MQTT_URL,
      topicRoot: root,
      devices: devices(1, 'load-clock'),
      ratePerSec: 200,
      backdateMs: 0,
    });
    await waitFor(() => ((load.latest()?.clockLimited ?? 0) > 50 ? true : undefined), 'clock-limited messages', 15_000);
    const final = await load.stop();
    await waitFor(() => received.length >= final.acked, `${final.acked} messages at the subscriber`);

    const { refusals, readings, latestLead } = ingestRefusals(received);
    expect(refusals).toEqual([]);
    expect(readings).toBe(final.ackedReadings);
    expect(latestLead).toBeLessThanOrEqual(MAX_FUTURE_SKEW_MS - 60_000);
    expect(latestLead).toBeGreaterThan(MAX_FUTURE_SKEW_MS - 60_000 - 10_000);
  });
});
