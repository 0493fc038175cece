import type { ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { MqttClient } from 'mqtt';
import { topicsFor } from '@lantern/messaging';
import type { IngestRig } from '../support/boot.js';
import { waitFor } from '../support/wait.js';
import { publishNumbered, spawnIngest, startOximeterRig, storedTimes, type SeededDevice } from './ingest-fixture.js';

describe('ingest: kill -9 of the process mid-stream, then restart', () => {
  let rig: IngestRig;
  let device: MqttClient;
  let oximeter: SeededDevice;
  const running: ChildProcess[] = [];

  beforeAll(async () => {
    ({ rig, oximeter, device } = await startOximeterRig('crash'));
  }, 120_000);

  afterAll(async () => {
    for (const child of running) if (child.exitCode === null) child.kill('SIGKILL');
    await rig?.close();
  });

  it('stores every reading exactly once', async () => {
    // Long enough batches that the kill lands while received messages are still uncommitted.
    const env = rig.env({ INGEST_BATCH_MAX_WAIT_MS: '200', INGEST_BATCH_SIZE: '2000' });
    const topic = topicsFor(env.MQTT_TOPIC_ROOT).telemetry(oximeter.id);
    const messages = 3000;
    const perMessage = 5;
    const base = Date.now() - 86_400_000;

    const first = spawnIngest(env);
    running.push(first.child);
    await waitFor(() => /Subscribed to/.test(first.output()), 'the first ingest to subscribe', 30_000);

    const publishing = publishNumbered(device, topic, 0, messages, base, perMessage);
    // Kill while the stream is flowing and some of it is stored.
    await waitFor(
      async () => (await storedTimes(rig.db.dataSource, oximeter.id)).count >= 2000,
      'part of the stream stored',
      30_000,
      5,
    );
    first.child.kill('SIGKILL');
    await new Promise((resolve) => first.child.once('exit', resolve));
    const atKill = (await storedTimes(rig.db.dataSource, oximeter.id)).count;
    await publishing;
    expect(atKill).toBeLessThan(messages * perMessage);

    const second = spawnIngest(env);
    running.push(second.child);
    await waitFor(() => /session resumed/.test(second.output()), 'the restarted ingest to resume its session', 30_000);
    const final = await waitFor(
      async () => {
        const s = await storedTimes(rig.db.dataSource, oximeter.id);
        return s.count >= messages * perMessage ? s : undefined;
      },
      'every reading stored',
      60_000,
      100,
    );
    expect(final).toEqual({ count: messages * perMessage, distinct: messages * perMessage });
    const [range] = await rig.db.dataSource.query<{ lo: Date; hi: Date }[]>(
      `SELECT min(time) AS lo, max(time) AS hi FROM readings WHERE device_id = $1`,
      [oximeter.id],
    );
    expect(range.lo.getTime()).toBe(base);
    expect(range.hi.getTime()).toBe(base + (messages * perMessage - 1) * 1000);
    second.child.kill('SIGTERM');
    await new Promise((resolve) => second.child.once('exit', resolve));
  }, 120_000);
});
