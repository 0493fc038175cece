import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import type { INestApplicationContext } from '@nestjs/common';
import type { MqttClient } from 'mqtt';
import { startApi, type ApiFixture } from '../api/api-fixture.js';
import { bodyOf } from '../support/http.js';
import { connectMqtt } from '../support/mqtt.js';
import { waitFor } from '../support/wait.js';
import { ingestEnvironment, seedDevice, startIngest, type SeededDevice } from '../ingest/ingest-fixture.js';
import type { HealthDto } from '../../apps/api/src/ops/health.controller.js';

/**
 * Only the alert writer fails (its table is gone, an error the ingest retries): readings keep
 * their own writer, but the message that raised the alert is held unacknowledged, so nothing is
 * lost — and /health must say which writer is failing instead of staying green. When the table
 * comes back, the held alert is stored and health recovers.
 */
describe('health when only the alert writer fails (real PostgreSQL and broker)', () => {
  let api: ApiFixture;
  let ingest: INestApplicationContext | undefined;
  let device: MqttClient | undefined;
  let seeded: SeededDevice;

  beforeAll(async () => {
    api = await startApi({ HEALTH_REQUIRE_INGEST: 'true', INGEST_STALL_AFTER: '3s' });
    seeded = await seedDevice(api.db, 'pulse_oximeter');
    ingest = await startIngest(
      ingestEnvironment({
        databaseUrl: (api.db.options as { url: string }).url,
        mqttUrl: api.mqttUrl,
        topicRoot: api.topicRoot,
        clientId: `ingest-alert-writer-${randomBytes(4).toString('hex')}`,
        extra: { INGEST_CANARY_INTERVAL: '500ms', INGEST_STALL_AFTER: '3s' },
      }),
    );
    device = await connectMqtt(api.mqttUrl);
  });

  afterAll(async () => {
    // The table is back whatever the outcome, first: an ingest whose alert writer still retries
    // would wait for it to drain on close.
    await api?.db.query('ALTER TABLE IF EXISTS alerts_away RENAME TO alerts').catch(() => undefined);
    await device?.endAsync();
    await ingest?.close();
    await api?.close();
  });

  const health = async (): Promise<{ status: number; body: HealthDto }> => {
    const res = await api.http.get('/health');
    return { status: res.status, body: bodyOf<HealthDto>(res) };
  };
  const storedAlerts = async (): Promise<number> => {
    const [row] = await api.db.query<{ n: number }[]>(`SELECT count(*)::int AS n FROM alerts WHERE device_id = $1`, [
      seeded.id,
    ]);
    return row.n;
  };

  it('is healthy while every writer writes', async () => {
    await waitFor(async () => (await health()).status === 200, 'a healthy ingest', 20_000, 200);
  });

  it('turns 503 naming the alert writer while its writes fail, holding the alert', async () => {
    await api.db.query('ALTER TABLE alerts RENAME TO alerts_away');
    const now = Date.now();
    // SpO2 80 % for 30 s: spo2.critical (below 85 for 15 s) opens.
    const readings = [30, 20, 10, 0].map((ago) => ({ metric: 'spo2', value: 80, ts: now - ago * 1000 }));
    // Not awaited: the PUBACK is held until the alert is stored.
    const published = device!.publishAsync(
      `${api.topicRoot}/devices/${seeded.id}/telemetry`,
      JSON.stringify({ readings }),
      { qos: 1 },
    );
    // The held message's wait may be named first (it started a moment before the first failed write).
    const { status, body } = await waitFor(
      async () => {
        const h = await health();
        return h.body.ingest?.problems.some((p) => /writing alerts has failed for \d+ s/.test(p)) ? h : undefined;
      },
      'health to name the failing alert writer',
      20_000,
      200,
    );
    expect(status).toBe(503);
    expect(body.ingest?.status).toBe('stalled');
    // The readings themselves went through their own writer.
    const [stored] = await api.db.query<{ n: number }[]>(
      `SELECT count(*)::int AS n FROM readings WHERE device_id = $1`,
      [seeded.id],
    );
    expect(stored.n).toBe(4);

    await api.db.query('ALTER TABLE alerts_away RENAME TO alerts');
    await published;
    await waitFor(async () => (await storedAlerts()) === 1, 'the held alert stored once the table is back');
    await waitFor(async () => (await health()).status === 200, 'health back to 200', 20_000, 200);
  });
});
