import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';
import type { MqttClient } from 'mqtt';
import {
  DEFAULT_ESCALATION,
  type AlertDeliveryResource,
  type AlertResource,
  type AlertTimeline,
  type EscalationPolicy,
} from '@lantern/domain';
import { topicsFor } from '@lantern/messaging';
import { DeliveryReceipts } from '../../apps/api/src/escalation/delivery-receipts.js';
import { ApiData, TestData } from '../support/builders.js';
import { ADMIN_EMAIL, ADMIN_PASSWORD, startApi, type ApiFixture } from '../support/boot.js';
import { ingestEnvironment, startIngest } from '../ingest/ingest-fixture.js';
import { connectLive, type LiveClient } from '../live/live-fixture.js';
import type { HealthDto } from '../../apps/api/src/ops/health.controller.js';
import { bodyOf } from '../support/http.js';
import { connectMqtt } from '../support/mqtt.js';
import { waitFor } from '../support/wait.js';
import type { INestApplicationContext } from '@nestjs/common';

/**
 * The escalation chain of contract §4.3 on the real stack: the api (as the app role) on
 * PostgreSQL, Socket.IO clients that acknowledge like the dashboard does, a webhook receiver, and
 * for one alert the ingest raising it from MQTT readings. Waits are configured short per patient
 * (PUT /patients/:id/escalation); the default waits are walked with a test clock in
 * libs/domain/src/escalation.spec.ts.
 */
describe('escalation chain and delivery receipts (contract §4.3)', () => {
  const password = 'a-long-password-1';
  const auth = (token: string) => ({ Authorization: `Bearer ${token}` });
  let api: ApiFixture;
  let url: string;
  let ingest: INestApplicationContext;
  let publisher: MqttClient;
  let hooks: Server;
  const received: { body: { id: string; event: string; tier: number; alert: AlertResource } }[] = [];
  const sockets: LiveClient[] = [];
  const tokens = { admin: '', clinician: '', patient: '', caregiver: '', otherClinician: '' };
  const ids = { patient: '', lonely: '', clinician: '', patientUser: '', caregiver: '', cgm: '' };
  /** Alert events each person's sockets received from the chain (they all acknowledge). */
  const seen: Record<string, AlertResource[]> = { clinician: [], patient: [], caregiver: [] };

  const insertAlert = (patientId: string, priority: 'high' | 'medium' | 'low', metric = 'glucose'): Promise<string> =>
    new TestData(api.db).alert(patientId, { rule: `glucose.test_${randomUUID().slice(0, 8)}`, metric, priority });

  const deliveries = async (alertId: string, token = tokens.clinician): Promise<AlertDeliveryResource[]> =>
    bodyOf<AlertDeliveryResource[]>(
      await api.http.get(`/api/v1/alerts/${alertId}/deliveries`).set(auth(token)).expect(200),
    );

  async function setPolicy(patientId: string, policy: EscalationPolicy): Promise<void> {
    await api.http.put(`/api/v1/patients/${patientId}/escalation`).set(auth(tokens.clinician)).send(policy).expect(200);
  }

  /** A live client that acknowledges every alert, as the dashboard and the patient view do. */
  async function acknowledging(token: string, into: AlertResource[]): Promise<void> {
    const socket = await connectLive(url, token);
    socket.on('alert', (alert, ack) => {
      into.push(alert);
      if (typeof ack === 'function') ack({ ok: true });
    });
    sockets.push(socket);
  }

  beforeAll(async () => {
    hooks = createServer((req: IncomingMessage, res) => {
      let text = '';
      req.on('data', (chunk: Buffer) => (text += chunk.toString('utf8')));
      req.on('end', () => {
        const body = JSON.parse(text) as (typeof received)[number]['body'];
        if (body.event !== 'alert.escalation') return void res.writeHead(204).end();
        received.push({ body });
        // The lone patient's receiver refuses for good: that tier reaches nobody.
        res.writeHead(body.alert.patientId === ids.lonely ? 410 : 204).end();
      });
    });
    await new Promise<void>((resolve) => hooks.listen(0, '127.0.0.1', resolve));
    api = await startApi(
      {
        ALERT_WEBHOOK_URL: `http://127.0.0.1:${(hooks.address() as AddressInfo).port}/hook`,
        ALERT_WEBHOOK_SECRET: 'webhook-secret-0123456789',
      },
      { asAppRole: true, listen: true },
    );
    url = api.url;
    tokens.admin = await api.login(ADMIN_EMAIL, ADMIN_PASSWORD);
    const data = new ApiData(api.http, tokens.admin);
    ({
      clinicianId: ids.clinician,
      patientId: ids.patient,
      patientUserId: ids.patientUser,
      cgmId: ids.cgm,
    } = await data.clinic(password));
    await data.user({ email: 'other@clinic.test', password, role: 'clinician', displayName: 'Dr Other' });
    ids.lonely = await data.patient('Lone Patient');
    await data.careTeam(ids.lonely, ids.clinician);
    tokens.clinician = await api.login('reyes@clinic.test', password);
    tokens.otherClinician = await api.login('other@clinic.test', password);
    tokens.patient = await api.login('ana@home.test', password);
    ({ token: tokens.caregiver } = await data.caregiver(tokens.patient, {
      email: 'maria@family.test',
      scopes: ['glucose', 'alerts'],
      name: 'Maria',
      password,
    }));
    [{ id: ids.caregiver }] = await api.db.query<{ id: string }[]>(
      `SELECT id::text FROM users WHERE email = 'maria@family.test'`,
    );
    await acknowledging(tokens.clinician, seen.clinician);
    await acknowledging(tokens.patient, seen.patient);
    await acknowledging(tokens.caregiver, seen.caregiver);
  }, 60_000);

  afterAll(async () => {
    for (const socket of sockets) socket.close();
    await publisher?.endAsync();
    await ingest?.close();
    await api?.close();
    await new Promise((resolve) => hooks?.close(resolve));
  });

  describe('the policy', () => {
    it('answers the defaults of spec/alerting.md §5 until the care team sets one', async () => {
      const res = await api.http
        .get(`/api/v1/patients/${ids.patient}/escalation`)
        .set(auth(tokens.patient))
        .expect(200);
      expect(res.body).toEqual(DEFAULT_ESCALATION);
      await api.http.get(`/api/v1/patients/${ids.patient}/escalation`).set(auth(tokens.otherClinician)).expect(404);
      await api.http.get(`/api/v1/patients/${ids.patient}/escalation`).set(auth(tokens.caregiver)).expect(403);
    });

    it('is changed by the care team only, validated field by field, and reverted', async () => {
      const policy = { ...DEFAULT_ESCALATION, low: [] };
      await api.http
        .put(`/api/v1/patients/${ids.patient}/escalation`)
        .set(auth(tokens.patient))
        .send(policy)
        .expect(403);
      await api.http
        .put(`/api/v1/patients/${ids.patient}/escalation`)
        .set(auth(tokens.otherClinician))
        .send(policy)
        .expect(404);
      const bad = await api.http
        .put(`/api/v1/patients/${ids.patient}/escalation`)
        .set(auth(tokens.clinician))
        .send({
          high: [
            { notify: 'neighbours', afterSec: -1 },
            { notify: 'patient', afterSec: 0, channels: ['fax'] },
          ],
        })
        .expect(400);
      const message = JSON.stringify(bad.body);
      expect(message).toContain('high[0].notify');
      expect(message).toContain('high[0].afterSec');
      expect(message).toContain('high[1].channels');
      expect(message).toContain('medium must be a list of tiers');
      await setPolicy(ids.patient, policy);
      expect(
        (await api.http.get(`/api/v1/patients/${ids.patient}/escalation`).set(auth(tokens.patient)).expect(200)).body,
      ).toEqual(policy);
      const reverted = await api.http
        .delete(`/api/v1/patients/${ids.patient}/escalation`)
        .set(auth(tokens.clinician))
        .expect(200);
      expect(reverted.body).toEqual(DEFAULT_ESCALATION);
      const audit = await api.db.query<{ action: string }[]>(
        `SELECT action FROM audit_log WHERE patient_id = $1 AND action LIKE 'escalation.%' ORDER BY id`,
        [ids.patient],
      );
      expect(audit.map((a) => a.action)).toEqual(['escalation.update', 'escalation.revert']);
    });
  });

  describe('a high alert nobody confirms', () => {
    let alertId: string;
    beforeAll(async () => {
      await setPolicy(ids.patient, {
        ...DEFAULT_ESCALATION,
        high: [
          { notify: 'patient', afterSec: 0 },
          { notify: 'caregivers', afterSec: 2 },
          { notify: 'care_team', afterSec: 4 },
          { notify: 'webhook', afterSec: 6 },
        ],
      });
      alertId = await insertAlert(ids.patient, 'high');
    });

    it('walks every tier at its wait, each delivery with a receipt from the recipient side', async () => {
      const raised = Date.now();
      await waitFor(
        async () => (await deliveries(alertId)).some((d) => d.channel === 'webhook' && d.deliveredAt),
        'the webhook tier delivered',
        15_000,
      );
      const list = await deliveries(alertId);
      const byTier = (tier: number) => list.filter((d) => d.tier === tier);
      expect(byTier(0)).toEqual([
        expect.objectContaining({
          recipient: { id: ids.patientUser, role: 'patient', name: 'Ana' },
          channel: 'socket',
        }),
      ]);
      expect(byTier(1)).toEqual([
        expect.objectContaining({
          recipient: { id: ids.caregiver, role: 'caregiver', name: 'Maria' },
          channel: 'socket',
        }),
      ]);
      expect(byTier(2)).toEqual([
        expect.objectContaining({
          recipient: { id: ids.clinician, role: 'clinician', name: 'Dr Reyes' },
          channel: 'socket',
        }),
      ]);
      expect(byTier(3)).toEqual([expect.objectContaining({ recipient: { role: 'webhook' }, channel: 'webhook' })]);
      for (const d of list) {
        expect(d.deliveredAt).toBeDefined();
        expect(d.failedAt).toBeUndefined();
        expect(Date.parse(d.deliveredAt!)).toBeGreaterThanOrEqual(Date.parse(d.sentAt));
      }
      // Each tier at its wait after the alert was raised (to within the chain's 1 s tick and the test's start).
      const sent = [0, 1, 2, 3].map((t) => Date.parse(byTier(t)[0].sentAt) - raised);
      for (const [tier, wait] of [0, 2000, 4000, 6000].entries()) {
        expect(sent[tier]).toBeGreaterThanOrEqual(wait - 1500);
        expect(sent[tier]).toBeLessThan(wait + 2500);
      }
      // The receipts are the clients' acknowledgements: each person's socket got the alert.
      for (const who of ['patient', 'caregiver', 'clinician'])
        expect(seen[who].some((a) => a.id === alertId && a.state === 'open')).toBe(true);
      expect(received.filter((r) => r.body.alert.id === alertId)).toEqual([
        { body: expect.objectContaining({ id: byTier(3)[0].id, event: 'alert.escalation', tier: 3 }) },
      ]);
      console.log(
        `first receipt after the alert was raised, socket: ${Date.parse(byTier(0)[0].deliveredAt!) - raised} ms; webhook tier at 6 s: ${Date.parse(byTier(3)[0].deliveredAt!) - raised} ms`,
      );
    }, 20_000);

    it('shows the timeline: tiers due and reached, deliveries, no confirmation', async () => {
      const timeline = bodyOf<AlertTimeline>(
        await api.http.get(`/api/v1/alerts/${alertId}/timeline`).set(auth(tokens.patient)).expect(200),
      );
      expect(timeline.alert.id).toBe(alertId);
      expect(timeline.confirmation).toBeNull();
      expect(timeline.tiers.map((t) => [t.notify, t.afterSec, t.reachedAt !== undefined])).toEqual([
        ['patient', 0, true],
        ['caregivers', 2, true],
        ['care_team', 4, true],
        ['webhook', 6, true],
      ]);
      expect(timeline.deliveries).toHaveLength(4);
      // Another care team's clinician knows nothing of it.
      await api.http.get(`/api/v1/alerts/${alertId}/deliveries`).set(auth(tokens.otherClinician)).expect(404);
      await api.http.get(`/api/v1/alerts/${alertId}/timeline`).set(auth(tokens.otherClinician)).expect(404);
    });
  });

  describe('a person confirms', () => {
    beforeAll(async () => {
      await setPolicy(ids.patient, {
        ...DEFAULT_ESCALATION,
        high: [
          { notify: 'patient', afterSec: 0 },
          { notify: 'caregivers', afterSec: 1 },
          { notify: 'care_team', afterSec: 3 },
          { notify: 'webhook', afterSec: 4 },
        ],
      });
    });

    it('stops at the tier where the caregiver confirms ("I\'m on it")', async () => {
      const alertId = await insertAlert(ids.patient, 'high');
      await waitFor(
        async () => (await deliveries(alertId)).some((d) => d.tier === 1 && d.deliveredAt),
        'the caregiver told',
      );
      const res = await api.http
        .post(`/api/v1/me/alerts/${alertId}/acknowledge`)
        .set(auth(tokens.caregiver))
        .expect(200);
      expect(res.body).toEqual({
        alertId,
        confirmedAt: expect.any(String),
        by: { id: ids.caregiver, role: 'caregiver', name: 'Maria' },
      });
      // Past the care team's and the webhook's waits: neither was told.
      await new Promise((resolve) => setTimeout(resolve, 5500));
      const list = await deliveries(alertId);
      expect(list.map((d) => d.tier)).toEqual([0, 1]);
      expect(list.find((d) => d.tier === 1)?.acknowledgedAt).toBeDefined();
      expect(received.some((r) => r.body.alert.id === alertId)).toBe(false);
      const timeline = bodyOf<AlertTimeline>(
        await api.http.get(`/api/v1/alerts/${alertId}/timeline`).set(auth(tokens.clinician)).expect(200),
      );
      expect(timeline.confirmation?.by).toEqual({ id: ids.caregiver, role: 'caregiver', name: 'Maria' });
      expect(timeline.tiers.filter((t) => t.reachedAt).map((t) => t.notify)).toEqual(['patient', 'caregivers']);
      const audit = await api.db.query<{ n: number }[]>(
        `SELECT count(*)::int AS n FROM audit_log WHERE action = 'alert.confirm' AND resource_id = $1`,
        [alertId],
      );
      expect(audit[0].n).toBe(1);
    }, 20_000);

    it('stops when the patient says "I\'m taking care of it", before anyone else is told', async () => {
      const alertId = await insertAlert(ids.patient, 'high');
      await waitFor(async () => (await deliveries(alertId)).some((d) => d.tier === 0), 'the patient told');
      await api.http.post(`/api/v1/me/alerts/${alertId}/acknowledge`).set(auth(tokens.patient)).expect(200);
      await new Promise((resolve) => setTimeout(resolve, 2500));
      expect((await deliveries(alertId)).map((d) => d.tier)).toEqual([0]);
    }, 15_000);

    it("stops when a clinician acknowledges, and records the clinician's confirmation", async () => {
      const alertId = await insertAlert(ids.patient, 'high');
      await waitFor(async () => (await deliveries(alertId)).some((d) => d.tier === 0), 'the patient told');
      await api.http.post(`/api/v1/alerts/${alertId}/acknowledge`).set(auth(tokens.clinician)).send({}).expect(200);
      await new Promise((resolve) => setTimeout(resolve, 2500));
      expect((await deliveries(alertId)).map((d) => d.tier)).toEqual([0]);
      const timeline = bodyOf<AlertTimeline>(
        await api.http.get(`/api/v1/alerts/${alertId}/timeline`).set(auth(tokens.clinician)).expect(200),
      );
      expect(timeline.confirmation?.by).toEqual({ id: ids.clinician, role: 'clinician', name: 'Dr Reyes' });
    }, 15_000);

    it('is refused to clinicians on the /me route, to strangers, and on a resolved alert', async () => {
      const alertId = await insertAlert(ids.patient, 'high');
      await api.http.post(`/api/v1/me/alerts/${alertId}/acknowledge`).set(auth(tokens.clinician)).expect(403);
      const other = await insertAlert(ids.lonely, 'high');
      await api.http.post(`/api/v1/me/alerts/${other}/acknowledge`).set(auth(tokens.patient)).expect(404);
      await api.http.post(`/api/v1/me/alerts/${other}/acknowledge`).set(auth(tokens.caregiver)).expect(404);
      await api.db.query(`UPDATE alerts SET state = 'resolved', resolved_at = now() WHERE id = $1`, [alertId]);
      await api.http.post(`/api/v1/me/alerts/${alertId}/acknowledge`).set(auth(tokens.patient)).expect(409);
    });
  });

  it('goes to the next tier at once when a tier reaches nobody', async () => {
    // The lone patient has no account and no caregivers: the first two tiers reach nobody.
    await setPolicy(ids.lonely, {
      ...DEFAULT_ESCALATION,
      high: [
        { notify: 'patient', afterSec: 0 },
        { notify: 'caregivers', afterSec: 30 },
        { notify: 'care_team', afterSec: 60 },
      ],
    });
    const alertId = await insertAlert(ids.lonely, 'high');
    const started = Date.now();
    await waitFor(
      async () => (await deliveries(alertId)).some((d) => d.tier === 2 && d.deliveredAt),
      'the care team told',
      10_000,
    );
    expect(Date.now() - started).toBeLessThan(10_000);
    expect((await deliveries(alertId)).map((d) => [d.tier, d.recipient.role])).toEqual([[2, 'clinician']]);
  }, 15_000);

  it('ends a refused webhook failed, goes on to the next tier at once, and says so in /health', async () => {
    await setPolicy(ids.lonely, {
      ...DEFAULT_ESCALATION,
      high: [
        { notify: 'webhook', afterSec: 0 },
        { notify: 'care_team', afterSec: 60 },
      ],
    });
    const alertId = await insertAlert(ids.lonely, 'high');
    await waitFor(
      async () => (await deliveries(alertId)).some((d) => d.tier === 1 && d.deliveredAt),
      'the care team told at once',
    );
    const [hook] = (await deliveries(alertId)).filter((d) => d.channel === 'webhook');
    expect(hook).toMatchObject({ attempts: 1, failedAt: expect.any(String), error: 'webhook answered 410' });
    const health = bodyOf<HealthDto>(await api.http.get('/health').expect(200));
    expect(health.deliveries).toEqual({
      status: 'degraded',
      problems: [
        expect.stringMatching(
          /^Webhook deliveries are failing: \d+ failed in the last 15 minutes \(latest: webhook answered 410\)\.$/,
        ),
      ],
    });
  }, 15_000);

  it('reports the chain stopped (503) while the database refuses it, and catches up after', async () => {
    await setPolicy(ids.patient, {
      ...DEFAULT_ESCALATION,
      high: [{ notify: 'care_team', afterSec: 0 }],
    });
    await api.db.query(`ALTER TABLE alert_chains RENAME TO alert_chains_away`);
    let alertId = '';
    try {
      alertId = await insertAlert(ids.patient, 'high');
      await waitFor(async () => (await api.http.get('/health')).status === 503, '/health 503');
      const health = bodyOf<HealthDto>(await api.http.get('/health').expect(503));
      expect(health.status).toBe('unavailable');
      expect(health.deliveries.status).toBe('down');
      expect(health.deliveries.problems[0]).toMatch(/^Alert escalation has stopped for \d+ s: nobody is being told/);
      const metrics = await api.http.get('/metrics').expect(200);
      expect(metrics.text).toMatch(/lantern_escalation_up 0/);
    } finally {
      await api.db.query(`ALTER TABLE alert_chains_away RENAME TO alert_chains`);
    }
    // Nothing lost: the alert raised meanwhile is delivered once the chain runs again.
    await waitFor(async () => (await deliveries(alertId)).some((d) => d.deliveredAt), 'the care team told after');
    expect(bodyOf<HealthDto>(await api.http.get('/health').expect(200)).deliveries.status).not.toBe('down');
  }, 20_000);

  it('never delivers to a caregiver whose share was revoked after the tier went out', async () => {
    const { shareId, token: joao } = await new ApiData(api.http, tokens.admin).caregiver(tokens.patient, {
      email: 'joao@family.test',
      scopes: ['glucose', 'alerts'],
      name: 'João',
      password,
    });
    await setPolicy(ids.patient, { ...DEFAULT_ESCALATION, high: [{ notify: 'caregivers', afterSec: 0 }] });
    // João is not connected: his delivery waits for him.
    const alertId = await insertAlert(ids.patient, 'high');
    await waitFor(
      async () => (await deliveries(alertId)).some((d) => d.recipient.name === 'João' && !d.deliveredAt),
      'João’s delivery pending',
    );
    await api.http.delete(`/api/v1/me/caregivers/${shareId}`).set(auth(tokens.patient)).expect(204);
    const late: AlertResource[] = [];
    await acknowledging(joao, late);
    await waitFor(
      async () => (await deliveries(alertId)).find((d) => d.recipient.name === 'João')?.failedAt !== undefined,
      'João’s delivery cancelled',
    );
    const mine = (await deliveries(alertId)).find((d) => d.recipient.name === 'João')!;
    expect(mine.error).toBe('cancelled: the recipient no longer has access to this patient');
    expect(mine.deliveredAt).toBeUndefined();
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(late.filter((a) => a.id === alertId)).toEqual([]);
  }, 20_000);

  it('never delivers a glucose alert to a caregiver the patient stopped sharing glucose with', async () => {
    const { shareId, token: lucia } = await new ApiData(api.http, tokens.admin).caregiver(tokens.patient, {
      email: 'lucia@family.test',
      scopes: ['glucose', 'alerts'],
      name: 'Lúcia',
      password,
    });
    await setPolicy(ids.patient, { ...DEFAULT_ESCALATION, high: [{ notify: 'caregivers', afterSec: 0 }] });
    // Lúcia is not connected: her delivery waits for her.
    const alertId = await insertAlert(ids.patient, 'high');
    await waitFor(
      async () => (await deliveries(alertId)).some((d) => d.recipient.name === 'Lúcia' && !d.deliveredAt),
      'Lúcia’s delivery pending',
    );
    // Still a caregiver with `alerts`, but no longer shown glucose: the glucose alert is not hers to see.
    await api.http
      .patch(`/api/v1/me/caregivers/${shareId}`)
      .set(auth(tokens.patient))
      .send({ scopes: ['cardiac', 'alerts'] })
      .expect(200);
    const late: AlertResource[] = [];
    await acknowledging(lucia, late);
    await waitFor(
      async () => (await deliveries(alertId)).find((d) => d.recipient.name === 'Lúcia')?.failedAt !== undefined,
      'Lúcia’s delivery cancelled',
    );
    const hers = (await deliveries(alertId)).find((d) => d.recipient.name === 'Lúcia')!;
    expect(hers.error).toBe('cancelled: the recipient no longer has access to this patient');
    expect(hers.deliveredAt).toBeUndefined();
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(late.filter((a) => a.id === alertId)).toEqual([]);
  }, 20_000);

  it('takes a receipt only with the delivery’s own token', async () => {
    const alertId = await insertAlert(ids.lonely, 'high');
    await waitFor(async () => (await deliveries(alertId)).length > 0, 'a delivery');
    const [delivery] = await deliveries(alertId);
    await api.http
      .post(`/api/v1/deliveries/${delivery.id}/receipt`)
      .send({ token: 'forged', event: 'read' })
      .expect(404);
    await api.http
      .post(`/api/v1/deliveries/${randomUUID()}/receipt`)
      .send({ token: api.app.get(DeliveryReceipts).token(delivery.id), event: 'read' })
      .expect(404);
    await api.http
      .post(`/api/v1/deliveries/${delivery.id}/receipt`)
      .send({ token: api.app.get(DeliveryReceipts).token(delivery.id), event: 'opened' })
      .expect(400);
    await api.http
      .post(`/api/v1/deliveries/${delivery.id}/receipt`)
      .send({ token: api.app.get(DeliveryReceipts).token(delivery.id), event: 'read' })
      .expect(204);
    const [after] = (await deliveries(alertId)).filter((d) => d.id === delivery.id);
    expect(after.readAt).toBeDefined();
    expect(after.deliveredAt).toBeDefined();
  });

  it('walks the chain of an alert the ingest raised from MQTT readings', async () => {
    await setPolicy(ids.patient, DEFAULT_ESCALATION);
    ingest = await startIngest(
      ingestEnvironment({ databaseUrl: process.env.DATABASE_URL!, mqttUrl: api.mqttUrl, topicRoot: api.topicRoot }),
    );
    publisher = await connectMqtt(api.mqttUrl);
    const now = Date.now();
    await publisher.publishAsync(
      topicsFor(api.topicRoot).telemetry(ids.cgm),
      JSON.stringify({
        seq: 1,
        readings: [{ metric: 'glucose', value: 45, unit: 'mg/dL', ts: new Date(now - 1000).toISOString() }],
      }),
      { qos: 1 },
    );
    let alert: { id: string; raised_at: Date } | undefined;
    await waitFor(async () => {
      [alert] = await api.db.query<{ id: string; raised_at: Date }[]>(
        `SELECT id::text, raised_at FROM alerts WHERE patient_id = $1 AND rule = 'glucose.urgent_low'`,
        [ids.patient],
      );
      return alert !== undefined;
    }, 'the urgent low alert raised');
    // Default high tiers at once: the patient, the caregiver (glucose and alerts shared), the care team.
    await waitFor(
      async () => (await deliveries(alert!.id)).filter((d) => d.deliveredAt).length === 3,
      'three people told, each with a receipt',
    );
    const list = await deliveries(alert!.id);
    expect(list.map((d) => [d.tier, d.recipient.role, d.channel])).toEqual([
      [0, 'patient', 'socket'],
      [1, 'caregiver', 'socket'],
      [2, 'clinician', 'socket'],
    ]);
    const first = Math.min(...list.map((d) => Date.parse(d.deliveredAt!)));
    console.log(`alert raised by the ingest → first socket receipt: ${first - alert!.raised_at.getTime()} ms`);
  }, 30_000);
});
