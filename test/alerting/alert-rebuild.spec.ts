import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { INestApplicationContext } from '@nestjs/common';
import type { MqttClient } from 'mqtt';
import type { Topics } from '@lantern/messaging';
import { startIngestRig, type IngestRig } from '../support/boot.js';
import type { TestDatabase } from '../support/database.js';
import { waitFor } from '../support/wait.js';
import { startIngest, type SeededDevice } from '../ingest/ingest-fixture.js';
import { AlertStateRebuild } from '../../apps/ingest/src/alerting/alert-state-rebuild.js';

const SEC = 1000;
const HOUR = 3_600_000;

/** No rule blind after a restart: the streaming core rebuilds windows and delay timers from the readings stored before. */
describe('streaming core state rebuilt on start from the database', () => {
  let rig: IngestRig;
  let db: TestDatabase;
  let ingest: INestApplicationContext;
  let client: MqttClient;
  let topics: Topics;
  let env: Record<string, string>;

  beforeAll(async () => {
    rig = await startIngestRig('alert-rebuild');
    ({ db, topics } = rig);
    env = rig.env({ SIGNAL_LOSS_SWEEP_MS: '600000' });
    ingest = await startIngest(env);
    client = await rig.connect();
  });

  afterAll(async () => {
    await ingest?.close();
    await rig?.close();
  });

  async function publish(device: SeededDevice, metric: string, value: number, ts: number): Promise<void> {
    await client.publishAsync(
      topics.telemetry(device.id),
      JSON.stringify({ ts: new Date(ts).toISOString(), readings: [{ metric, value }] }),
      { qos: 1 },
    );
  }

  const stored = async (device: SeededDevice): Promise<number> =>
    (
      await db.dataSource.query<{ n: number }[]>(`SELECT count(*)::int AS n FROM readings WHERE device_id = $1`, [
        device.id,
      ])
    )[0].n;

  const alertsOf = (device: SeededDevice): Promise<{ rule: string; opened: Date; value: number }[]> =>
    db.dataSource.query(
      `SELECT rule, opened_at AS opened, value FROM alerts WHERE patient_id = $1 ORDER BY opened_at`,
      [device.patientId],
    );

  async function restart(): Promise<void> {
    await ingest.close();
    ingest = await startIngest(env);
  }

  it('body_weight.gain_3d (72 h) fires on the first reading after a restart, from the weights stored before it', async () => {
    const scale = await rig.data.patientWithDevice('weight_scale');
    const now = Date.now();
    await publish(scale, 'body_weight', 80.4, now - 50 * HOUR);
    await publish(scale, 'body_weight', 81, now - 26 * HOUR);
    await waitFor(async () => (await stored(scale)) === 2, 'two weights stored');

    await restart();
    expect(ingest.get(AlertStateRebuild).rebuilt).toMatchObject({ readings: 2 });
    await publish(scale, 'body_weight', 82.5, now - 60 * SEC);
    const [alert] = await waitFor(async () => {
      const rows = await alertsOf(scale);
      return rows.length > 0 ? rows : undefined;
    }, 'the weight-gain alert');
    expect(alert).toMatchObject({ rule: 'body_weight.gain_3d', value: 82.5 });
    expect(alert.opened.getTime()).toBe(now - 60 * SEC);
  });

  it('heart_rate.high (above 130 for 60 s) keeps its timer across a restart', async () => {
    const oximeter = await rig.data.patientWithDevice('pulse_oximeter');
    const base = Date.now() - 5 * 60 * SEC;
    for (const s of [0, 10, 20, 30, 40]) await publish(oximeter, 'heart_rate', 140, base + s * SEC);
    await waitFor(async () => (await stored(oximeter)) === 5, 'five readings stored');
    expect(await alertsOf(oximeter)).toEqual([]);

    await restart();
    // 50 s above since the first stored reading: not yet.
    await publish(oximeter, 'heart_rate', 141, base + 50 * SEC);
    await waitFor(async () => (await stored(oximeter)) === 6, 'the sixth reading stored');
    // 65 s: fires, counted from the reading stored before the restart (from the restart on, it would take until 110 s).
    await publish(oximeter, 'heart_rate', 142, base + 65 * SEC);
    const [alert] = await waitFor(async () => {
      const rows = await alertsOf(oximeter);
      return rows.length > 0 ? rows : undefined;
    }, 'the heart-rate alert');
    expect(alert).toMatchObject({ rule: 'heart_rate.high', value: 142 });
    expect(alert.opened.getTime()).toBe(base + 65 * SEC);
  });

  it('glucose.low re-arms only when worse for an hour after its clear, across a restart (no duplicate alert)', async () => {
    const cgm = await rig.data.patientWithDevice('cgm');
    const base = Date.now() - 30 * 60 * SEC;
    const lows = async (): Promise<{ rule: string; opened: Date; value: number }[]> =>
      (await alertsOf(cgm)).filter((a) => a.rule === 'glucose.low');
    await publish(cgm, 'glucose', 65, base);
    await publish(cgm, 'glucose', 80, base + 5 * 60 * SEC);
    await waitFor(async () => {
      const [row] = await db.dataSource.query<{ state: string }[]>(
        `SELECT state FROM alerts WHERE patient_id = $1 AND rule = 'glucose.low'`,
        [cgm.patientId],
      );
      return row?.state === 'resolved' ? true : undefined;
    }, 'the low opened at 65 and resolved at 80');

    await restart();
    // 66 within the hour is not worse than 65: live it opens nothing, and after the restart neither.
    await publish(cgm, 'glucose', 66, base + 10 * 60 * SEC);
    await waitFor(async () => ((await stored(cgm)) === 3 ? true : undefined), 'the third reading stored');
    // 60 is worse: a new alert — the point by which the reading of 66 has been evaluated too (one stream, in order).
    await publish(cgm, 'glucose', 60, base + 15 * 60 * SEC);
    const rows = await waitFor(async () => {
      const found = await lows();
      return found.length >= 2 ? found : undefined;
    }, 'the low at 60');
    expect(rows.map((r) => r.value)).toEqual([65, 60]);
  });
});
