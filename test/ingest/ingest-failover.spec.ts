import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { MqttClient } from 'mqtt';
import { topicsFor } from '@lantern/messaging';
import type { IngestRig } from '../support/boot.js';
import { waitFor } from '../support/wait.js';
import {
  publishNumbered,
  spawnIngest,
  startOximeterRig,
  storedTimes,
  type SeededDevice,
  type SpawnedIngest,
} from './ingest-fixture.js';

/**
 * A standby ingest waits on the session's lease and takes over when the active one is killed -9
 * mid-stream: the same persistent session resumed, nothing lost, nothing stored twice. Both are
 * the built ingest, as `npm start` and docker/compose.yml run them.
 */
describe('ingest failover: a standby takes over from a killed leader', () => {
  let rig: IngestRig;
  let device: MqttClient;
  let oximeter: SeededDevice;
  const running: SpawnedIngest[] = [];

  beforeAll(async () => {
    ({ rig, oximeter, device } = await startOximeterRig('failover'));
  }, 120_000);

  afterAll(async () => {
    await rig?.close(running);
  });

  const leaseHolder = async (): Promise<string | undefined> => {
    const rows = await rig.db.dataSource.query<{ holder: string }[]>(
      `SELECT holder FROM leases WHERE name LIKE 'ingest-session:%'`,
    );
    return rows[0]?.holder;
  };

  it('loses nothing and stores nothing twice when the leader is killed with a standby waiting', async () => {
    const env = rig.env(
      { INGEST_BATCH_MAX_WAIT_MS: '200', INGEST_BATCH_SIZE: '2000', INGEST_LEASE_TTL: '3s' },
      `ingest-failover-${randomBytes(4).toString('hex')}`,
    );
    const topic = topicsFor(env.MQTT_TOPIC_ROOT).telemetry(oximeter.id);
    const messages = 3000;
    const perMessage = 5;
    const base = Date.now() - 86_400_000;

    const leader = spawnIngest(env);
    running.push(leader);
    await waitFor(() => /Subscribed to/.test(leader.output()), 'the leader to subscribe', 30_000);
    const standby = spawnIngest(env);
    running.push(standby);
    await waitFor(() => /Standby: .* is held by another ingest/.test(standby.output()), 'the standby to wait', 30_000);
    expect(standby.output()).not.toMatch(/Subscribed to/);

    const publishing = publishNumbered(device, topic, 0, messages, base, perMessage);
    await waitFor(
      async () => (await storedTimes(rig.db.dataSource, oximeter.id)).count >= 2000,
      'part of the stream stored',
      30_000,
      5,
    );
    const holderBefore = await leaseHolder();
    leader.child.kill('SIGKILL');
    await leader.exited();
    const killedAt = Date.now();
    await publishing;

    await waitFor(() => /session resumed/.test(standby.output()), 'the standby to resume the session', 30_000, 50);
    const takeoverMs = Date.now() - killedAt;
    // The lease (3 s here) runs out, then the standby boots and resumes: seconds, not minutes.
    expect(takeoverMs).toBeLessThan(15_000);
    expect(await leaseHolder()).not.toBe(holderBefore);

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
    standby.child.kill('SIGTERM');
    await standby.exited();
    // An orderly stop hands the lease back at once.
    expect(await leaseHolder()).toBeUndefined();
  }, 180_000);
});
