import { randomBytes } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import type { INestApplicationContext } from '@nestjs/common';
import type { MqttClient } from 'mqtt';
import { topicsFor } from '@lantern/messaging';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { startMosquitto, type MosquittoServer } from '../support/mosquitto.js';
import { connectMqtt, uniqueTopicRoot } from '../support/mqtt.js';
import { waitFor } from '../support/wait.js';
import { ingestEnvironment, seedDevice, startIngest, type SeededDevice } from './ingest-fixture.js';
import { IngestMqttConnection } from '../../apps/ingest/src/consumer/ingest-mqtt.connection.js';

/**
 * The ingest's subscriptions are what the configuration says, whatever its persistent session held
 * before: a changed topic root, a session the broker kept without its subscriptions, and device
 * changes (decommissioning) reach it within seconds. On today's Mosquitto (MQTT 5, shared filters).
 */
describe('ingest subscriptions and device changes (real Mosquitto and PostgreSQL)', () => {
  let db: TestDatabase;
  let broker: MosquittoServer;
  let device: MqttClient;
  let cgm: SeededDevice;
  let ingest: INestApplicationContext | undefined;
  let minute = 0;

  beforeAll(async () => {
    [db, broker] = await Promise.all([createTestDatabase(), startMosquitto()]);
    cgm = await seedDevice(db.dataSource, 'cgm');
    device = await connectMqtt(broker.url, { protocolVersion: 5 });
  });

  afterEach(async () => {
    await ingest?.close();
    ingest = undefined;
  });

  afterAll(async () => {
    await device?.endAsync();
    await Promise.all([db?.drop(), broker?.stop()]);
  });

  const boot = async (topicRoot: string, clientId: string): Promise<INestApplicationContext> =>
    startIngest(
      ingestEnvironment({
        databaseUrl: db.url,
        mqttUrl: broker.url,
        topicRoot,
        clientId,
        extra: { INGEST_CANARY_INTERVAL: '500ms' },
      }),
    );

  /** A glucose reading a distinct (and physically plausible) minute apart from every other one. */
  const glucose = (): { body: string; time: number } => {
    minute += 2;
    const time = Date.now() - 6 * 3_600_000 + minute * 60_000;
    return { body: JSON.stringify({ readings: [{ metric: 'glucose', value: 110, ts: time }] }), time };
  };

  const stored = async (time: number): Promise<boolean> => {
    const rows: unknown[] = await db.dataSource.query(`SELECT 1 FROM readings WHERE device_id = $1 AND time = $2`, [
      cgm.id,
      new Date(time),
    ]);
    return rows.length === 1;
  };

  const rejected = async (topic: string): Promise<{ reason: string }[]> =>
    db.dataSource.query(`SELECT reason FROM ingest_rejections WHERE topic = $1`, [topic]);

  const recordedFilters = async (clientId: string): Promise<string[]> =>
    (
      await db.dataSource.query<{ filters: string[] }[]>(`SELECT filters FROM ingest_sessions WHERE client_id = $1`, [
        clientId,
      ])
    )[0]?.filters ?? [];

  it('follows a changed topic root on the same persistent session: new topics stored, old ones dead-lettered and dropped', async () => {
    const clientId = `ingest-root-${randomBytes(4).toString('hex')}`;
    const [rootA, rootB] = [uniqueTopicRoot('a'), uniqueTopicRoot('b')];
    ingest = await boot(rootA, clientId);
    const filtersA = ingest.get(IngestMqttConnection).filtersFor(5);
    await waitFor(async () => (await recordedFilters(clientId)).length === filtersA.length, 'root A filters recorded');
    await ingest.close();
    ingest = undefined;

    // While the ingest is down, the broker queues this for the session's root A subscription.
    const old = glucose();
    await device.publishAsync(topicsFor(rootA).telemetry(cgm.id), old.body, { qos: 1 });

    ingest = await boot(rootB, clientId);
    const fresh = glucose();
    await device.publishAsync(topicsFor(rootB).telemetry(cgm.id), fresh.body, { qos: 1 });
    await waitFor(() => stored(fresh.time), 'the reading published under the new root stored');

    // The queued root A message came back and was kept as a dead letter, and acknowledged.
    const oldTopic = topicsFor(rootA).telemetry(cgm.id);
    expect(
      await waitFor(async () => (await rejected(oldTopic)).length === 1 && rejected(oldTopic), 'dead letter'),
    ).toEqual([{ reason: 'topic is not a device telemetry or status topic under the configured root' }]);
    expect(await stored(old.time)).toBe(false);
    const connection = ingest.get(IngestMqttConnection);
    await waitFor(() => connection.pendingMessages === 0, 'every message acknowledged');

    // Root A's filters are gone from the session: nothing published there reaches the ingest now.
    const filtersB = connection.filtersFor(5);
    await waitFor(async () => (await recordedFilters(clientId)).join() === filtersB.join(), 'root B filters recorded');
    await device.publishAsync(oldTopic, glucose().body, { qos: 1 });
    const marker = glucose();
    await device.publishAsync(topicsFor(rootB).telemetry(cgm.id), marker.body, { qos: 1 });
    await waitFor(() => stored(marker.time), 'a later reading under root B stored');
    expect(await rejected(oldTopic)).toHaveLength(1);
  });

  it('subscribes again when the broker kept the session but lost its subscriptions', async () => {
    const clientId = `ingest-lost-${randomBytes(4).toString('hex')}`;
    const root = uniqueTopicRoot('lost');
    ingest = await boot(root, clientId);
    const filters = ingest.get(IngestMqttConnection).filtersFor(5);
    await waitFor(async () => (await recordedFilters(clientId)).length === filters.length, 'filters recorded');
    await ingest.close();
    ingest = undefined;

    // The same session, emptied of its subscriptions: the broker reports it present on the next connect.
    const thief = await connectMqtt(broker.url, {
      protocolVersion: 5,
      clientId,
      clean: false,
      properties: { sessionExpiryInterval: 3600 },
    });
    await thief.unsubscribeAsync(filters);
    await thief.endAsync();

    ingest = await boot(root, clientId);
    const reading = glucose();
    await device.publishAsync(topicsFor(root).telemetry(cgm.id), reading.body, { qos: 1 });
    await waitFor(() => stored(reading.time), 'the reading stored after resubscribing');
  });

  it('refuses telemetry of a device decommissioned 2 s ago', async () => {
    const root = uniqueTopicRoot('decom');
    const retiring = await seedDevice(db.dataSource, 'cgm');
    ingest = await boot(root, `ingest-decom-${randomBytes(4).toString('hex')}`);
    const topic = topicsFor(root).telemetry(retiring.id);
    const before = glucose();
    await device.publishAsync(topic, before.body, { qos: 1 });
    const storedOfRetiring = async (): Promise<number> =>
      (await db.dataSource.query<unknown[]>(`SELECT 1 FROM readings WHERE device_id = $1`, [retiring.id])).length;
    await waitFor(async () => (await storedOfRetiring()) === 1, 'reading stored while in service');

    // What the api does on decommissioning: the row changes, nothing else is told.
    await db.dataSource.query(`UPDATE devices SET decommissioned_at = now() WHERE id = $1`, [retiring.id]);
    await new Promise((resolve) => setTimeout(resolve, 2000));
    await device.publishAsync(topic, glucose().body, { qos: 1 });
    const reasons = await waitFor(async () => {
      const rows = await rejected(topic);
      return rows.length > 0 ? rows : undefined;
    }, 'the decommissioned device refused');
    expect(reasons).toEqual([{ reason: 'device is decommissioned' }]);
    expect(await storedOfRetiring()).toBe(1);
  });

  it('refuses a device id spelled in capitals rather than treating it as another device', async () => {
    const root = uniqueTopicRoot('case');
    ingest = await boot(root, `ingest-case-${randomBytes(4).toString('hex')}`);
    const topic = topicsFor(root).telemetry(cgm.id.toUpperCase());
    const reading = glucose();
    await device.publishAsync(topic, reading.body, { qos: 1 });
    const reasons = await waitFor(async () => {
      const rows = await rejected(topic);
      return rows.length > 0 ? rows : undefined;
    }, 'the capitalised id refused');
    expect(reasons).toEqual([{ reason: 'device id in the topic is not a canonical (lowercase) UUID' }]);
    expect(await stored(reading.time)).toBe(false);
  });
});
