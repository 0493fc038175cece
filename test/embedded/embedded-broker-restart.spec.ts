import { randomBytes } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import type { Client } from 'aedes';
import mqtt, { connectAsync, type IClientOptions, type MqttClient } from 'mqtt';
import pg from 'pg';
import { generateDeviceSecret, hashDeviceSecret } from '@lantern/auth';
import {
  AedesPostgresPersistence,
  findFreePort,
  startEmbeddedBroker,
  type RunningEmbeddedBroker,
} from '@lantern/embedded';
import { DeviceCredentialRepository } from '@lantern/storage';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { waitFor } from '../support/wait.js';

describe('embedded broker with its PostgreSQL persistence', () => {
  const root = `test-${randomBytes(4).toString('hex')}/v1`;
  const servicePassword = randomBytes(16).toString('hex');
  let database: TestDatabase;
  let pool: pg.Pool;
  let device: { id: string; secret: string };
  const clients: MqttClient[] = [];
  const brokers: { broker: RunningEmbeddedBroker; persistence: AedesPostgresPersistence }[] = [];
  const log: string[] = [];
  let schemas = 0;

  beforeAll(async () => {
    database = await createTestDatabase({ poolSize: 1 });
    pool = new pg.Pool({ connectionString: database.url, max: 6 });
    // As the supervisor's pools do: an idle connection the server ends (the database dropped with
    // FORCE at the end of the run) must not crash the test process as an unhandled 'error'.
    pool.on('error', () => undefined);
    const patientId = (
      await pool.query<{ id: string }>(`INSERT INTO patients (display_name) VALUES ('Restart Test') RETURNING id`)
    ).rows[0].id;
    const secret = generateDeviceSecret();
    const { rows } = await pool.query<{ id: string }>(
      `INSERT INTO devices (patient_id, type, secret_hash) VALUES ($1, 'cgm', $2) RETURNING id`,
      [patientId, hashDeviceSecret(secret)],
    );
    device = { id: rows[0].id, secret };
  });

  afterEach(async () => {
    for (const client of clients.splice(0)) client.end(true);
    for (const { broker, persistence } of brokers.splice(0)) {
      await broker.stop();
      await persistence.destroy().catch(() => undefined);
    }
  });

  afterAll(async () => {
    await pool?.end();
    await database?.drop();
  });

  async function startBroker(port: number, schema: string, brokerPool = pool) {
    const persistence = new AedesPostgresPersistence({ pool: brokerPool, schema, onLog: (line) => log.push(line) });
    const broker = await startEmbeddedBroker({
      port,
      host: '127.0.0.1',
      topicRoot: root,
      serviceUsername: 'lantern-service',
      servicePassword,
      devices: new DeviceCredentialRepository(pool),
      persistence,
      onLog: (line) => log.push(line),
    });
    const started = { broker, persistence };
    brokers.push(started);
    return started;
  }

  /** Stops like the supervisor does: the broker, then the persistence writes what is left. */
  async function stopBroker(started: { broker: RunningEmbeddedBroker; persistence: AedesPostgresPersistence }) {
    brokers.splice(brokers.indexOf(started), 1);
    await started.broker.stop();
    await started.persistence.destroy();
  }

  async function connect(url: string, options: IClientOptions): Promise<MqttClient> {
    const client = await connectAsync(url, {
      protocolVersion: 4,
      reconnectPeriod: 0,
      connectTimeout: 5000,
      ...options,
    });
    clients.push(client);
    return client;
  }

  /** The ingest's way in: service credentials, a fixed client id, a persistent session, QoS 1. */
  function subscriberOptions(clientId: string): IClientOptions {
    return { clientId, clean: false, username: 'lantern-service', password: servicePassword };
  }

  const telemetry = `${root}/devices/+/telemetry`;

  /** Publishes `count` QoS 1 messages as the device; each publishAsync resolves on the broker's PUBACK. */
  async function publishAcknowledged(url: string, count: number): Promise<string[]> {
    const client = await connect(url, { clientId: device.id, username: device.id, password: device.secret });
    const payloads: string[] = [];
    for (let i = 0; i < count; i++) {
      const payload = JSON.stringify({ seq: i });
      await client.publishAsync(`${root}/devices/${device.id}/telemetry`, payload, { qos: 1 });
      payloads.push(payload);
    }
    client.end(true);
    return payloads;
  }

  /** Reconnects the persistent subscriber, listening before CONNACK: a resumed session delivers right after it. */
  async function resume(url: string, clientId: string): Promise<{ client: MqttClient; received: string[] }> {
    const received: string[] = [];
    const client = mqtt.connect(url, {
      protocolVersion: 4,
      reconnectPeriod: 0,
      ...subscriberOptions(clientId),
      manualConnect: true,
    });
    clients.push(client);
    client.on('message', (_topic, payload) => received.push(payload.toString()));
    const connack = new Promise<{ sessionPresent: boolean }>((resolve) => client.once('connect', resolve));
    client.connect();
    expect((await connack).sessionPresent).toBe(true);
    return { client, received };
  }

  it('delivers every QoS 1 message it acknowledged while the subscriber was away, after the broker restarted, and keeps the session and retained messages', async () => {
    const schema = `broker_restart_${++schemas}`;
    const port = await findFreePort();
    const first = await startBroker(port, schema);
    const clientId = `lantern-ingest-${randomBytes(3).toString('hex')}`;
    const subscriber = await connect(first.broker.url, subscriberOptions(clientId));
    await subscriber.subscribeAsync(telemetry, { qos: 1 });
    subscriber.end(true);

    const payloads = await publishAcknowledged(first.broker.url, 50);
    const status = await connect(first.broker.url, {
      clientId: device.id,
      username: device.id,
      password: device.secret,
    });
    await status.publishAsync(`${root}/devices/${device.id}/status`, '{"battery":71}', { qos: 1, retain: true });
    status.end(true);
    await stopBroker(first);

    const second = await startBroker(port, schema);
    expect(log).toContain('restored 1 session(s) and 50 queued message(s)');
    // No SUBSCRIBE this time: the session's subscription came back with the broker.
    const { received } = await resume(second.broker.url, clientId);
    await waitFor(() => received.length >= 50, '50 queued messages after the restart');
    expect(received).toEqual(payloads);

    const observer = await connect(second.broker.url, {
      clientId: `observer-${randomBytes(3).toString('hex')}`,
      username: 'lantern-service',
      password: servicePassword,
    });
    const retained: string[] = [];
    observer.on('message', (_topic, payload) => retained.push(payload.toString()));
    await observer.subscribeAsync(`${root}/devices/+/status`, { qos: 1 });
    await waitFor(() => retained.length === 1, 'the retained status');
    expect(retained).toEqual(['{"battery":71}']);
  });

  it('re-queues acknowledged messages that were journalled but never queued (a crash between PUBACK and queueing)', async () => {
    const schema = `broker_restart_${++schemas}`;
    const port = await findFreePort();
    const clientId = `lantern-ingest-${randomBytes(3).toString('hex')}`;
    const first = await startBroker(port, schema);
    const subscriber = await connect(first.broker.url, subscriberOptions(clientId));
    await subscriber.subscribeAsync(telemetry, { qos: 1 });
    subscriber.end(true);
    await stopBroker(first);

    // What a run killed right after its PUBACKs leaves: each PUBLISH authorised (the callback is
    // where aedes goes on to send the PUBACK), none queued, aedes' `published` hook never reached.
    const crashed = new AedesPostgresPersistence({ pool, schema });
    await crashed.setup({ id: 'crashed-broker', counter: 0 });
    const { authorizePublish } = crashed.brokerOptions((_client, _packet, callback) => callback(null));
    const payloads = Array.from({ length: 20 }, (_, i) => JSON.stringify({ seq: i }));
    for (const payload of payloads)
      await new Promise<void>((resolve, reject) =>
        authorizePublish(
          { id: device.id } as Client,
          {
            cmd: 'publish',
            topic: `${root}/devices/${device.id}/telemetry`,
            payload: Buffer.from(payload),
            qos: 1,
            retain: false,
            dup: false,
            messageId: 1,
          },
          (error) => (error ? reject(error) : resolve()),
        ),
      );
    await crashed.destroy();
    const { rows } = await pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${schema}.publish_journal`);
    expect(rows[0].n).toBe(20);

    const second = await startBroker(port, schema);
    expect(log).toContain('re-queued 20 acknowledged message(s) that the previous run had not queued yet');
    const { received } = await resume(second.broker.url, clientId);
    await waitFor(() => received.length >= 20, '20 journalled messages after the restart');
    expect(received).toEqual(payloads);
    const after = await pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${schema}.publish_journal`);
    expect(after.rows[0].n).toBe(0);
  });

  it('leaves no row behind for messages the subscriber acknowledged, and queue rows (no journal rows) for those it did not', async () => {
    const schema = `broker_restart_${++schemas}`;
    const started = await startBroker(await findFreePort(), schema);
    const count = async (table: string) =>
      (await pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${schema}.${table}`)).rows[0].n;

    const acking = await connect(
      started.broker.url,
      subscriberOptions(`lantern-ingest-${randomBytes(3).toString('hex')}`),
    );
    const acked: string[] = [];
    acking.on('message', (_topic, payload) => acked.push(payload.toString()));
    await acking.subscribeAsync(telemetry, { qos: 1 });
    // Never acknowledges: mqtt.js sends a PUBACK (and reads on) only once handleMessage calls back.
    const silent = await connect(
      started.broker.url,
      subscriberOptions(`lantern-ingest-${randomBytes(3).toString('hex')}`),
    );
    let held = 0;
    (silent as unknown as { handleMessage: (packet: unknown, done: () => void) => void }).handleMessage = () =>
      (held += 1);
    await silent.subscribeAsync(telemetry, { qos: 1 });

    const payloads = await publishAcknowledged(started.broker.url, 30);
    await waitFor(() => acked.length === 30 && held === 1, 'the acknowledging subscriber to receive every message');
    expect(acked).toEqual(payloads);
    // Without a flush: the silent subscriber's rows are written once they have waited 250 ms, and
    // the journal rows go with them; the acknowledged copies are never written.
    await waitFor(
      async () => (await count('outgoing')) === 30 && (await count('publish_journal')) === 0,
      '30 queue rows and no journal row',
    );
    const { rows } = await pool.query<{ client_id: string }>(`SELECT DISTINCT client_id FROM ${schema}.outgoing`);
    expect(rows).toEqual([{ client_id: silent.options.clientId }]);
  });

  it('refuses to start a second broker on a schema another one uses, with one clear error', async () => {
    const schema = `broker_restart_${++schemas}`;
    const first = await startBroker(await findFreePort(), schema);
    await expect(startBroker(await findFreePort(), schema)).rejects.toThrow(
      `another broker is using the schema "${schema}" of this database: run one embedded broker per database`,
    );
    // Once the first one has stopped, the schema is free again.
    await stopBroker(first);
    await startBroker(await findFreePort(), schema);
  });

  it('refuses a PUBLISH it cannot journal (no PUBACK: the device keeps the message) and takes it once writes work again', async () => {
    const schema = `broker_restart_${++schemas}`;
    const port = await findFreePort();
    let refusing = true;
    const flaky = new Proxy(pool, {
      get(target, property) {
        if (property === 'query')
          return (sql: string, params?: unknown[]) =>
            refusing && /publish_journal/.test(sql)
              ? Promise.reject(new Error('database unavailable'))
              : target.query(sql, params);
        const value: unknown = Reflect.get(target, property, target);
        return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
      },
    });
    const started = await startBroker(port, schema, flaky);
    const clientId = `lantern-ingest-${randomBytes(3).toString('hex')}`;
    const subscriber = await connect(started.broker.url, subscriberOptions(clientId));
    const received: string[] = [];
    subscriber.on('message', (_topic, payload) => received.push(payload.toString()));
    await subscriber.subscribeAsync(telemetry, { qos: 1 });

    const deviceClient = await connect(started.broker.url, {
      clientId: device.id,
      username: device.id,
      password: device.secret,
    });
    const closed = new Promise<void>((resolve) => deviceClient.once('close', () => resolve()));
    let acknowledged = false;
    deviceClient.publish(`${root}/devices/${device.id}/telemetry`, '{"seq":"refused"}', { qos: 1 }, () => {
      acknowledged = true;
    });
    // MQTT 3.1.1 has no negative PUBACK: the broker closes the connection instead.
    await closed;
    expect(acknowledged).toBe(false);
    expect(received).toEqual([]);

    refusing = false;
    const payloads = await publishAcknowledged(started.broker.url, 1);
    await waitFor(() => received.length === 1, 'the message published once writes work');
    expect(received).toEqual(payloads);
  });
});
