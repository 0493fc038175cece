import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { INestApplicationContext } from '@nestjs/common';
import type { MqttClient } from 'mqtt';
import type { AlertResource, PatientNotificationResource } from '@lantern/domain';
import { webhookSignature, type Topics } from '@lantern/messaging';
import { startIngestRig, type IngestRig } from '../support/boot.js';
import type { TestDatabase } from '../support/database.js';
import { waitFor } from '../support/wait.js';
import { startIngest, type SeededDevice } from '../ingest/ingest-fixture.js';
import { AlertStreamingService } from '../../apps/ingest/src/alerting/alert-streaming.service.js';
import { StreamingCore } from '../../apps/ingest/src/alerting/streaming-core.js';
import { AlertOutputWriter } from '../../apps/ingest/src/alerting/alert-output.writer.js';
import { UPSERT_OVERRIDE, useSpecGlucoseRules } from '../support/spec-glucose-rules.js';

const MIN = 60_000;
const SECRET = 'webhook-secret-0123456789';

describe('streaming core end to end: MQTT → ingest → alerts table, events, notifications, webhook', () => {
  let rig: IngestRig;
  let db: TestDatabase;
  let ingest: INestApplicationContext;
  let device: MqttClient;
  let observer: MqttClient;
  let topics: Topics;
  let cgm: SeededDevice;
  let webhook: Server;
  let env: Record<string, string>;
  const alertEvents: AlertResource[] = [];
  const notifications: PatientNotificationResource[] = [];
  const hooks: { body: string; signature: string | undefined; event: string | undefined }[] = [];
  let failNextHook = true;
  // Readings end a few minutes before now (the contract refuses times more than 5 min ahead).
  const base = Date.now() - 68 * MIN;

  beforeAll(async () => {
    rig = await startIngestRig('alerting');
    ({ db, topics } = rig);
    cgm = await rig.data.patientWithDevice('cgm');
    // The pipeline's tests below were written against spec §4's glucose parameters.
    await useSpecGlucoseRules(db.dataSource, cgm.patientId);
    webhook = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString('utf8')));
      req.on('end', () => {
        if (failNextHook) {
          failNextHook = false;
          res.writeHead(503).end();
          return;
        }
        hooks.push({
          body,
          signature: req.headers['x-lantern-signature'] as string | undefined,
          event: req.headers['x-lantern-event'] as string | undefined,
        });
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((resolve) => webhook.listen(0, '127.0.0.1', resolve));
    env = rig.env({
      ALERT_WEBHOOK_URL: `http://127.0.0.1:${(webhook.address() as AddressInfo).port}/hook`,
      ALERT_WEBHOOK_SECRET: SECRET,
      SIGNAL_LOSS_SWEEP_MS: '600000',
    });
    observer = await rig.observe(alertEvents, notifications);
    ingest = await startIngest(env);
    device = await rig.connect();
  });

  afterAll(async () => {
    await ingest?.close();
    webhook?.close();
    await rig?.close();
  });

  /** Publishes CGM readings 5 min apart from `startMin` after base, one message each, in order. */
  async function publishGlucose(values: number[], startMin: number): Promise<void> {
    for (const [i, value] of values.entries()) {
      const ts = new Date(base + (startMin + 5 * i) * MIN).toISOString();
      await device.publishAsync(
        topics.telemetry(cgm.id),
        JSON.stringify({ ts, readings: [{ metric: 'glucose', value }] }),
        { qos: 1 },
      );
    }
  }

  const activeRows = async (): Promise<{ rule: string; state: string; cleared: boolean }[]> =>
    db.dataSource.query(
      `SELECT rule, state, cleared_at IS NOT NULL AS cleared FROM alerts WHERE patient_id = $1 AND state <> 'resolved' ORDER BY opened_at`,
      [cgm.patientId],
    );

  it('a glucose fall opens falling_fast, urgent_low_soon, low, urgent_low in order, persisted, with one notification each', async () => {
    await publishGlucose([180, 165, 150, 135, 120, 105, 90, 75, 60, 45], 0);
    const opened = await waitFor(() => {
      const o = alertEvents.filter(
        (a) => a.state === 'open' && a.escalationLevel === 0 && a.openedAt === a.lastTriggeredAt && !a.clearedAt,
      );
      const rules = [...new Set(o.map((a) => a.rule))];
      return rules.length >= 4 ? rules : undefined;
    }, 'four opened alerts');
    expect(opened).toEqual(['glucose.falling_fast', 'glucose.urgent_low_soon', 'glucose.low', 'glucose.urgent_low']);
    await ingest.get(AlertOutputWriter).drained();
    expect((await activeRows()).map((r) => r.rule)).toEqual([
      'glucose.falling_fast',
      'glucose.urgent_low_soon',
      'glucose.low',
      'glucose.urgent_low',
    ]);
    const urgent = alertEvents.find((a) => a.rule === 'glucose.urgent_low')!;
    expect(urgent).toMatchObject({
      patientId: cgm.patientId,
      deviceId: cgm.id,
      metric: 'glucose',
      priority: 'high',
      message: 'Glucose 45 mg/dL — below 54 (urgent low)',
      value: 45,
      openedAt: new Date(base + 45 * MIN).toISOString(),
      late: true, // 23 min old when evaluated: published as a store-and-forward backlog
    });
    const texts = await waitFor(
      () => (notifications.length >= 4 ? notifications.map((n) => n.title) : undefined),
      'four notifications',
    );
    expect(texts).toEqual([
      'Your glucose (blood sugar) is falling quickly',
      'Your glucose (blood sugar) may soon be very low',
      'Your glucose (blood sugar) is low',
      'Your glucose (blood sugar) is very low',
    ]);
    const stored = await db.dataSource.query<{ kind: string; alert: string }[]>(
      `SELECT kind, title, alert_id::text AS alert FROM patient_notifications WHERE patient_id = $1 ORDER BY created_at, title`,
      [cgm.patientId],
    );
    expect(stored).toHaveLength(4);
    expect(stored.every((n) => n.kind === 'alert_opened' && n.alert)).toBe(true);
  });

  it('recovery resolves low and falling_fast and leaves the high alerts latched', async () => {
    await publishGlucose([52, 62, 75, 90], 50);
    await waitFor(async () => ((await activeRows()).length === 2 ? true : undefined), 'two latched alerts');
    expect(await activeRows()).toEqual([
      { rule: 'glucose.urgent_low_soon', state: 'open', cleared: true },
      { rule: 'glucose.urgent_low', state: 'open', cleared: true },
    ]);
    const resolved = await waitFor(() => {
      const rules = alertEvents.filter((a) => a.state === 'resolved').map((a) => a.rule);
      return rules.length >= 2 ? rules : undefined;
    }, 'two resolved events');
    expect(resolved).toEqual(['glucose.falling_fast', 'glucose.low']);
  });

  it('POSTs every transition to the webhook, signed, retrying after a failure', async () => {
    await waitFor(() => (hooks.length >= alertEvents.length ? true : undefined), 'webhook deliveries', 15_000);
    for (const hook of hooks) expect(hook.signature).toBe(webhookSignature(SECRET, hook.body));
    const events = hooks.map((h) => JSON.parse(h.body) as { event: string; alert: AlertResource });
    expect(events[0]).toMatchObject({ event: 'alert.opened', alert: { rule: 'glucose.falling_fast' } });
    expect(hooks.map((h) => h.event)).toContain('alert.cleared');
    expect(events.map((e) => e.event)).toEqual(hooks.map((h) => h.event));
  });

  it('after a restart, active alerts are restored: neither re-opened nor forgotten', async () => {
    await ingest.close();
    ingest = await startIngest(env);
    const before = alertEvents.length;
    await publishGlucose([50], 66); // urgent low again: updates the latched alert, opens low anew
    await waitFor(() => (alertEvents.length >= before + 2 ? true : undefined), 'events after restart');
    await ingest.get(AlertOutputWriter).drained();
    const rows = await db.dataSource.query<{ rule: string; n: number }[]>(
      `SELECT rule, count(*)::int AS n FROM alerts WHERE patient_id = $1 GROUP BY rule ORDER BY rule`,
      [cgm.patientId],
    );
    expect(rows).toEqual([
      { rule: 'glucose.falling_fast', n: 1 },
      { rule: 'glucose.low', n: 2 },
      { rule: 'glucose.urgent_low', n: 1 },
      { rule: 'glucose.urgent_low_soon', n: 1 },
    ]);
    expect(await activeRows()).toContainEqual({ rule: 'glucose.urgent_low', state: 'open', cleared: false });
    // The escalation clock survived the restart: the latched alert was opened by a reading 20-odd
    // minutes old (event time), but raised moments ago (wall clock), so it is not due yet.
    const [clock] = await db.dataSource.query<{ opened: Date; raised: Date }[]>(
      `SELECT opened_at AS opened, raised_at AS raised FROM alerts WHERE patient_id = $1 AND rule = 'glucose.urgent_low'`,
      [cgm.patientId],
    );
    expect(clock.raised.getTime() - clock.opened.getTime()).toBeGreaterThan(10 * MIN);
    const swept = ingest.get(AlertStreamingService).sweep(Date.now());
    expect(swept.transitions.filter((t) => t.kind === 'escalated')).toEqual([]);
  });

  it('signal loss from the sweep notifies the patient; a rule override announced by the api applies within 2 s', async () => {
    const service = ingest.get(AlertStreamingService);
    const { engine } = ingest.get(StreamingCore);
    const lost = service.sweep(Date.now() + 21 * MIN);
    expect(lost.transitions.filter((t) => t.kind === 'opened').map((t) => t.alert.rule)).toEqual([
      'device.signal_loss',
    ]);
    // 21 min later the open high and medium alerts escalate too.
    expect(
      lost.transitions
        .filter((t) => t.kind === 'escalated')
        .map((t) => t.alert.rule)
        .sort(),
    ).toEqual(['glucose.low', 'glucose.urgent_low', 'glucose.urgent_low_soon']);
    await waitFor(() => notifications.find((n) => n.kind === 'signal_lost'), 'signal lost notification');

    await db.dataSource.query(UPSERT_OVERRIDE, [cgm.patientId, 'glucose.low', '{"threshold": 80}']);
    const t0 = Date.now();
    await observer.publishAsync(rig.topics.rulesChanged, JSON.stringify({ patientId: cgm.patientId }), { qos: 1 });
    await waitFor(
      () =>
        (engine.rulesOf(cgm.patientId).find((r) => r.key === 'glucose.low')?.params as { threshold: number })
          .threshold === 80 || undefined,
      'override applied',
      2000,
    );
    expect(Date.now() - t0).toBeLessThan(2000);
  });
});
