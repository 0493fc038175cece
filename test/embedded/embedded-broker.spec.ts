import { randomBytes, randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { connectAsync, type IClientOptions, type MqttClient } from 'mqtt';
import pg from 'pg';
import { generateDeviceSecret, hashDeviceSecret } from '@lantern/auth';
import { findFreePort, PortTakenError, startEmbeddedBroker, type RunningEmbeddedBroker } from '@lantern/embedded';
import { DeviceCredentialRepository } from '@lantern/storage';
import { topicsFor } from '@lantern/messaging';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { waitFor } from '../support/wait.js';

describe('embedded broker', () => {
  const root = `test-${randomBytes(4).toString('hex')}/v1`;
  const servicePassword = randomBytes(16).toString('hex');
  let database: TestDatabase;
  let pool: pg.Pool;
  let broker: RunningEmbeddedBroker;
  let patientId: string;
  const clients: MqttClient[] = [];
  const log: string[] = [];

  /** Connects as a device would (client id = its id) or, for the service user, with a fresh client id each time. */
  async function connect(username: string, password: string, extra: IClientOptions = {}): Promise<MqttClient> {
    const client = await connectAsync(broker.url, {
      clientId: username === 'lantern-service' ? `lantern-test-${randomBytes(4).toString('hex')}` : username,
      username,
      password,
      protocolVersion: 4,
      reconnectPeriod: 0,
      connectTimeout: 5000,
      ...extra,
    });
    clients.push(client);
    return client;
  }

  async function provisionDevice(options: { decommissioned?: boolean } = {}): Promise<{ id: string; secret: string }> {
    const secret = generateDeviceSecret();
    const { rows } = await pool.query<{ id: string }>(
      `INSERT INTO devices (patient_id, type, secret_hash, decommissioned_at) VALUES ($1, 'cgm', $2, $3) RETURNING id`,
      [patientId, hashDeviceSecret(secret), options.decommissioned ? new Date() : null],
    );
    return { id: rows[0].id, secret };
  }

  /** The service's view of the broker: every message under the root. */
  async function watchAll(): Promise<{ topic: string; payload: string }[]> {
    const seen: { topic: string; payload: string }[] = [];
    const service = await connect('lantern-service', servicePassword);
    service.on('message', (topic, payload) => seen.push({ topic, payload: payload.toString() }));
    await service.subscribeAsync(`${root}/#`, { qos: 1 });
    return seen;
  }

  beforeAll(async () => {
    database = await createTestDatabase({ poolSize: 2 });
    pool = new pg.Pool({ connectionString: database.url, max: 4 });
    patientId = (
      await pool.query<{ id: string }>(`INSERT INTO patients (display_name) VALUES ('Broker Test') RETURNING id`)
    ).rows[0].id;
    broker = await startEmbeddedBroker({
      port: await findFreePort(),
      host: '127.0.0.1',
      topicRoot: root,
      serviceUsername: 'lantern-service',
      servicePassword,
      devices: new DeviceCredentialRepository(pool),
      onLog: (line) => log.push(line),
    });
  });

  afterAll(async () => {
    for (const client of clients) client.end(true);
    await broker?.stop();
    await pool?.end();
    await database?.drop();
  });

  it('accepts a provisioned device and lets it publish its own telemetry and status', async () => {
    const seen = await watchAll();
    const device = await provisionDevice();
    const client = await connect(device.id, device.secret);
    await client.publishAsync(`${root}/devices/${device.id}/telemetry`, '{"readings":[]}', { qos: 1 });
    await client.publishAsync(`${root}/devices/${device.id}/status`, '{"battery":80}', { qos: 1 });
    await waitFor(() => seen.length === 2, 'the telemetry and status messages', 5000);
    expect(seen.map((m) => m.topic)).toEqual([
      `${root}/devices/${device.id}/telemetry`,
      `${root}/devices/${device.id}/status`,
    ]);
  });

  it('refuses a wrong secret, an unknown device and a decommissioned device', async () => {
    const device = await provisionDevice();
    await expect(connect(device.id, generateDeviceSecret())).rejects.toMatchObject({ code: 4 });
    await expect(connect(randomUUID(), generateDeviceSecret())).rejects.toMatchObject({ code: 4 });
    await expect(connect('not-a-device', 'x')).rejects.toMatchObject({ code: 4 });
    const retired = await provisionDevice({ decommissioned: true });
    await expect(connect(retired.id, retired.secret)).rejects.toMatchObject({ code: 4 });
    await expect(connect('lantern-service', 'wrong-password')).rejects.toMatchObject({ code: 4 });
  });

  it("disconnects a device that publishes to another device's topic or any other topic, and drops the message", async () => {
    const seen = await watchAll();
    const device = await provisionDevice();
    const other = await provisionDevice();
    const forbidden = [
      `${root}/devices/${other.id}/telemetry`,
      `${root}/devices/${device.id}/errors`,
      `${root}/devices/${device.id}/telemetry/extra`,
      topicsFor(root).deviceRevoked,
      `${root}/events/patients/${patientId}/alerts`,
    ];
    for (const topic of forbidden) {
      const client = await connect(device.id, device.secret);
      const closed = new Promise<void>((resolve) => client.once('close', () => resolve()));
      client.publish(topic, JSON.stringify({ deviceId: other.id }), { qos: 1 });
      await closed;
    }
    const marker = await connect(device.id, device.secret);
    await marker.publishAsync(`${root}/devices/${device.id}/status`, '{"online":true}', { qos: 1 });
    await waitFor(() => seen.length === 1, 'the marker status message', 5000);
    expect(seen.map((m) => m.topic)).toEqual([`${root}/devices/${device.id}/status`]);
    for (const topic of forbidden) expect(log).toContain(`refused publish to '${topic}' by device ${device.id}`);
  });

  it('grants a device its own errors topic and refuses every other subscription', async () => {
    const device = await provisionDevice();
    const other = await provisionDevice();
    const client = await connect(device.id, device.secret);
    expect(await client.subscribeAsync(`${root}/devices/${device.id}/errors`, { qos: 1 })).toEqual([
      { topic: `${root}/devices/${device.id}/errors`, qos: 1 },
    ]);
    for (const topic of [
      `${root}/devices/${other.id}/errors`,
      `${root}/devices/+/errors`,
      `${root}/#`,
      '#',
      `${root}/devices/${device.id}/telemetry`,
    ]) {
      // A refused filter is a SUBACK failure (0x80), which mqtt.js reports as an error.
      await expect(client.subscribeAsync(topic, { qos: 1 })).rejects.toMatchObject({ packet: { granted: [128] } });
    }
    expect(client.connected).toBe(true);
  });

  it('keeps a credential cached until a revocation event, which disconnects the device at once', async () => {
    const device = await provisionDevice();
    await connect(device.id, device.secret);
    // Rotate the secret in the database without telling the broker: the cached credential still works
    // (this connection takes over the first one: same client id).
    const rotated = generateDeviceSecret();
    await pool.query('UPDATE devices SET secret_hash = $2 WHERE id = $1', [device.id, hashDeviceSecret(rotated)]);
    const client = await connect(device.id, device.secret);

    const closed = new Promise<void>((resolve) => client.once('close', () => resolve()));
    const service = await connect('lantern-service', servicePassword);
    await service.publishAsync(topicsFor(root).deviceRevoked, JSON.stringify({ deviceId: device.id }), { qos: 1 });
    await closed;
    await waitFor(
      () => clients.filter((c) => c.options.username === device.id).every((c) => !c.connected),
      'the revoked device to be disconnected',
      5000,
    );

    await expect(connect(device.id, device.secret)).rejects.toMatchObject({ code: 4 });
    const renewed = await connect(device.id, rotated);
    expect(renewed.connected).toBe(true);
  });

  it("refuses a device that connects with the ingest's client id first; the service then takes it and receives telemetry", async () => {
    const device = await provisionDevice();
    // lantern-ingest is INGEST_MQTT_CLIENT_ID's default: a device holding it would lock the ingest out for good.
    for (const clean of [false, true])
      await expect(connect(device.id, device.secret, { clientId: 'lantern-ingest', clean })).rejects.toMatchObject({
        code: 2,
      });
    expect(log).toContain(`refused client id "lantern-ingest" for device ${device.id}: a device's client id is its id`);

    const ingest = await connect('lantern-service', servicePassword, { clientId: 'lantern-ingest', clean: false });
    const received: string[] = [];
    ingest.on('message', (topic) => received.push(topic));
    await ingest.subscribeAsync(`${root}/devices/+/telemetry`, { qos: 1 });
    const client = await connect(device.id, device.secret);
    await client.publishAsync(`${root}/devices/${device.id}/telemetry`, '{"readings":[]}', { qos: 1 });
    await waitFor(() => received.length === 1, 'the telemetry message', 5000);
    expect(received).toEqual([`${root}/devices/${device.id}/telemetry`]);
    // Once the service holds it, still no device may take it over.
    await expect(connect(device.id, device.secret, { clientId: 'lantern-ingest' })).rejects.toMatchObject({ code: 2 });
    expect(ingest.connected).toBe(true);
  });

  it("refuses a device that connects with another device's id as client id, and the other device stays connected", async () => {
    const victim = await provisionDevice();
    const intruder = await provisionDevice();
    const connected = await connect(victim.id, victim.secret);
    let kicked = false;
    connected.on('close', () => (kicked = true));
    await expect(connect(intruder.id, intruder.secret, { clientId: victim.id })).rejects.toMatchObject({ code: 2 });
    expect(log).toContain(`refused client id "${victim.id}" for device ${intruder.id}: a device's client id is its id`);
    // A QoS 1 round trip on the victim's connection: it was not taken over.
    await connected.publishAsync(`${root}/devices/${victim.id}/status`, '{"online":true}', { qos: 1 });
    expect(kicked).toBe(false);
    expect(connected.connected).toBe(true);
  });

  it('refuses a device with any client id other than its own id', async () => {
    const device = await provisionDevice();
    for (const clientId of [`device-${device.id}`, `load-${device.id}`, device.id.toUpperCase(), ''])
      await expect(connect(device.id, device.secret, { clientId })).rejects.toMatchObject({ code: 2 });
    // A wrong secret stays a bad user name or password, whatever the client id.
    await expect(connect(device.id, generateDeviceSecret(), { clientId: 'x' })).rejects.toMatchObject({ code: 4 });
  });

  it('refuses a device id spelled in upper case instead of lowercasing it', async () => {
    const device = await provisionDevice();
    const upper = device.id.toUpperCase();
    await expect(connect(upper, device.secret)).rejects.toMatchObject({ code: 4 });
    await expect(connect(upper, device.secret, { clientId: device.id })).rejects.toMatchObject({ code: 4 });
    // One letter upper case (the first eight characters of an id can all be digits).
    const mixed = device.id.replace(/[a-f]/, (letter) => letter.toUpperCase());
    expect(mixed).not.toBe(device.id);
    await expect(connect(mixed, device.secret, { clientId: mixed })).rejects.toMatchObject({ code: 4 });
    expect(log).toContain(`refused user name '${upper}': device ids are lowercase (as provisioned)`);
  });

  it('accepts a device with its own id as client id, with a clean or a persistent session', async () => {
    const device = await provisionDevice();
    for (const clean of [true, false]) {
      const client = await connect(device.id, device.secret, { clientId: device.id, clean });
      expect(client.connected).toBe(true);
      await client.endAsync();
    }
  });

  it('refuses a taken port with a one-line error naming the port and the variables', async () => {
    const blocker: Server = createServer();
    const port = await new Promise<number>((resolve) =>
      blocker.listen(0, () => resolve((blocker.address() as { port: number }).port)),
    );
    try {
      const error = await startEmbeddedBroker({
        port,
        topicRoot: root,
        serviceUsername: 's',
        servicePassword: 'p',
        devices: { find: () => Promise.resolve(undefined) },
      }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(PortTakenError);
      expect((error as Error).message).toBe(
        `Port ${port} is taken: set EMBEDDED_MQTT_PORT to a free port, or MQTT_URL to use an existing broker`,
      );
    } finally {
      blocker.close();
    }
  });
});
