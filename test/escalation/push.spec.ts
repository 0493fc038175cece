import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import type { INestApplicationContext } from '@nestjs/common';
import type { MqttClient } from 'mqtt';
import webpush from 'web-push';
import type { AlertDeliveryResource, AlertResource, EscalationPolicy } from '@lantern/domain';
import { topicsFor } from '@lantern/messaging';
import { PatientNotificationRepository, PushSubscriptionRepository } from '@lantern/storage';
import { PermanentDeliveryError, type PendingDelivery } from '../../apps/api/src/escalation/delivery-channel.js';
import type { PushPayload } from '../../apps/api/src/escalation/push/push-message.js';
import type { VapidKeys } from '../../apps/api/src/escalation/push/vapid-keys.js';
import { WebPushChannel } from '../../apps/api/src/escalation/push/web-push.channel.js';
import type { PushSubscriptionDto } from '../../apps/api/src/escalation/push/push.dto.js';
import { ApiData, TestData } from '../support/builders.js';
import { ADMIN_EMAIL, ADMIN_PASSWORD, startApi, type ApiFixture } from '../support/boot.js';
import { ingestEnvironment, startIngest } from '../ingest/ingest-fixture.js';
import { bodyOf } from '../support/http.js';
import { connectMqtt } from '../support/mqtt.js';
import { waitFor } from '../support/wait.js';
import {
  startWebPushService,
  type BrowserSubscription,
  type PushedMessage,
  type WebPushService,
} from './web-push-service.js';

const password = 'a-long-password-1';

/**
 * The Web Push channel (docs/escalation.md, "Web Push") against a push service that speaks the
 * protocol (test/escalation/web-push-service.ts): VAPID checked, payload decrypted as a browser
 * would. First the channel alone, with deliveries built by hand on the real database.
 */
/** One api (as the app role, with this VAPID pair) and one push service for the file. */
let api: ApiFixture;
let url: string;
let pushService: WebPushService;
const vapid: VapidKeys = { ...webpush.generateVAPIDKeys(), subject: 'mailto:ops@clinic.test' };
const auth = (token: string) => ({ Authorization: `Bearer ${token}` });

/** Builds over REST as a freshly signed-in admin. */
const asAdmin = async (): Promise<ApiData> => new ApiData(api.http, await api.login(ADMIN_EMAIL, ADMIN_PASSWORD));

beforeAll(async () => {
  pushService = await startWebPushService();
  api = await startApi(
    { VAPID_PUBLIC_KEY: vapid.publicKey, VAPID_PRIVATE_KEY: vapid.privateKey, VAPID_SUBJECT: vapid.subject },
    { asAppRole: true, listen: true },
  );
  url = api.url;
});

afterAll(async () => {
  await api?.close();
  await pushService?.close();
});

describe('Web Push channel against a real push service', () => {
  let channel: WebPushChannel;
  let subscriptions: PushSubscriptionRepository;
  const ids = { patient: '', patientUser: '', clinicianUser: '', alert: '' };

  /** A browser of `userId` subscribed with `key` and registered in push_subscriptions: its row id. */
  async function subscribed(
    userId: string,
    key = vapid.publicKey,
  ): Promise<{ browser: BrowserSubscription; rowId: string }> {
    const browser = pushService.newSubscription(key);
    const row = await subscriptions.upsert(userId, {
      endpoint: browser.json.endpoint,
      p256dh: browser.json.keys.p256dh,
      auth: browser.json.keys.auth,
    });
    return { browser, rowId: row.id };
  }

  function alert(priority: AlertResource['priority'], message: string): AlertResource {
    const now = new Date().toISOString();
    return {
      id: ids.alert,
      patientId: ids.patient,
      rule: 'glucose.urgent_low',
      metric: 'glucose',
      priority,
      state: 'open',
      message,
      value: 48,
      openedAt: now,
      lastTriggeredAt: now,
      raisedAt: now,
      escalationLevel: 0,
      late: false,
    };
  }

  function delivery(
    target: string,
    recipient: PendingDelivery['recipient'],
    priority: AlertResource['priority'] = 'high',
  ): PendingDelivery {
    const id = randomUUID();
    return {
      id,
      alertId: ids.alert,
      patientId: ids.patient,
      patientName: 'Ana Souza',
      tier: 0,
      recipient,
      channel: 'push',
      target,
      attempts: 0,
      alert: alert(priority, 'Glucose 48 mg/dL — below 54 (urgent low)'),
      receiptToken: `token-of-${id}`,
    };
  }

  const messagesTo = (subscriptionId: string) =>
    pushService.messages.filter((m) => m.subscriptionId === subscriptionId);

  beforeAll(async () => {
    const data = await asAdmin();
    ids.patient = await data.patient('Ana Souza');
    // No chain for this patient: the deliveries here are built by hand, none by the running api.
    const admin = await api.login(ADMIN_EMAIL, ADMIN_PASSWORD);
    await api.http
      .put(`/api/v1/patients/${ids.patient}/escalation`)
      .set(auth(admin))
      .send({ high: [], medium: [], low: [] })
      .expect(200);
    ids.patientUser = await data.user({
      email: 'ana.unit@home.test',
      password,
      role: 'patient',
      displayName: 'Ana',
      patientId: ids.patient,
    });
    ids.clinicianUser = await data.user({
      email: 'unit@clinic.test',
      password,
      role: 'clinician',
      displayName: 'Dr Unit',
    });
    ids.alert = await new TestData(api.db).alert(ids.patient, {
      rule: 'glucose.urgent_low',
      message: 'Glucose 48 mg/dL — below 54 (urgent low)',
    });
    subscriptions = new PushSubscriptionRepository(api.db);
    channel = new WebPushChannel(subscriptions, new PatientNotificationRepository(api.db), vapid);
  });

  it('sends a clinician the patient, value and rule, signed and encrypted, urgent for a high alert', async () => {
    const { browser, rowId } = await subscribed(ids.clinicianUser);
    const pending = delivery(rowId, { id: ids.clinicianUser, role: 'clinician', name: 'Dr Reyes' });

    // Handed over, not delivered: the receipt comes from the service worker later.
    await expect(channel.send(pending)).resolves.toEqual({ delivered: false });

    expect(pushService.problems).toEqual([]);
    const [message] = messagesTo(browser.id);
    expect(message.payload).toEqual({
      deliveryId: pending.id,
      receiptToken: pending.receiptToken,
      receiptUrl: `/api/v1/deliveries/${pending.id}/receipt`,
      title: 'High alert for Ana Souza',
      body: 'Glucose 48 mg/dL — below 54 (urgent low)',
      alertId: ids.alert,
      patientId: ids.patient,
      priority: 'high',
    } satisfies PushPayload);
    expect(message.urgency).toBe('high');
    expect(message.ttl).toBe(3600);
    expect(message.vapidKey).toBe(vapid.publicKey);
    expect(message.claims).toEqual({ aud: pushService.origin, exp: expect.any(Number), sub: vapid.subject });
    const [stored] = await api.db.query<{ last_ok_at: Date | null; failed_at: Date | null }[]>(
      'SELECT last_ok_at, failed_at FROM push_subscriptions WHERE id = $1',
      [rowId],
    );
    expect(stored.last_ok_at).toBeInstanceOf(Date);
    expect(stored.failed_at).toBeNull();
  });

  it('sends the patient the words of their own notification of the alert, and a plain pointer when there is none', async () => {
    const { browser, rowId } = await subscribed(ids.patientUser);
    const recipient = { id: ids.patientUser, role: 'patient' as const, name: 'Ana' };

    await channel.send(delivery(rowId, recipient, 'medium'));
    expect(messagesTo(browser.id)[0].payload).toMatchObject({
      title: 'Lantern has an alert for you',
      body: 'Open Lantern to see it. Your care team has been told.',
      priority: 'medium',
    });
    expect(messagesTo(browser.id)[0]).toMatchObject({ urgency: 'normal', ttl: 4 * 3600 });

    await new PatientNotificationRepository(api.db).insertMany([
      {
        id: randomUUID(),
        patientId: ids.patient,
        kind: 'alert_opened',
        severity: 'urgent',
        title: 'Your glucose (blood sugar) is very low',
        body: 'Your latest glucose reading was 48 milligrams per decilitre. Your care team has been told.',
        alertId: ids.alert,
        deviceId: null,
        createdAt: Date.now(),
      },
    ]);
    await channel.send(delivery(rowId, recipient));
    expect(messagesTo(browser.id)[1].payload).toMatchObject({
      title: 'Your glucose (blood sugar) is very low',
      body: 'Your latest glucose reading was 48 milligrams per decilitre. Your care team has been told.',
    });
    // Nothing about the rule's internals reaches the patient's lock screen.
    expect(JSON.stringify(messagesTo(browser.id)[1].payload)).not.toContain('urgent low');
  });

  it('ends the delivery for good on 410 and marks the subscription failed; it is never tried again', async () => {
    const { browser, rowId } = await subscribed(ids.clinicianUser);
    pushService.answerWith(browser.id, 410);
    const recipient = { id: ids.clinicianUser, role: 'clinician' as const };

    await expect(channel.send(delivery(rowId, recipient))).rejects.toThrow(PermanentDeliveryError);
    const [stored] = await api.db.query<{ failed_at: Date | null }[]>(
      'SELECT failed_at FROM push_subscriptions WHERE id = $1',
      [rowId],
    );
    expect(stored.failed_at).toBeInstanceOf(Date);
    expect(await subscriptions.listByUser(ids.clinicianUser, { usableOnly: true })).not.toContainEqual(
      expect.objectContaining({ id: rowId }),
    );

    pushService.answerWith(browser.id, 201);
    await expect(channel.send(delivery(rowId, recipient))).rejects.toThrow(
      new PermanentDeliveryError('push subscription expired'),
    );
    expect(messagesTo(browser.id)).toHaveLength(0);
  });

  it('also ends for good on 404, but a 429, a 5xx or an unreachable service is retried', async () => {
    const recipient = { id: ids.clinicianUser, role: 'clinician' as const };
    for (const status of [429, 500, 503]) {
      const { browser, rowId } = await subscribed(ids.clinicianUser);
      pushService.answerWith(browser.id, status);
      const error = await channel.send(delivery(rowId, recipient)).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(Error);
      expect(error).not.toBeInstanceOf(PermanentDeliveryError);
      expect((error as Error).message).toBe(`push service answered ${status}`);
      expect((await subscriptions.findById(rowId))?.failedAt).toBeNull();
    }

    const gone = await subscribed(ids.clinicianUser);
    pushService.answerWith(gone.browser.id, 404);
    await expect(channel.send(delivery(gone.rowId, recipient))).rejects.toThrow(PermanentDeliveryError);
    expect((await subscriptions.findById(gone.rowId))?.failedAt).toEqual(expect.any(Number));

    // A port nobody listens on: the service is down, not the subscription.
    const down = await subscriptions.upsert(ids.clinicianUser, {
      endpoint: 'http://127.0.0.1:9/push/down',
      ...pushService.newSubscription(vapid.publicKey).json.keys,
    });
    const error = await channel.send(delivery(down.id, recipient)).catch((e: unknown) => e);
    expect(error).not.toBeInstanceOf(PermanentDeliveryError);
    expect((error as Error).message).toMatch(/^push service unreachable/);
  });

  it('is refused by the push service when signed with another key than the browser subscribed with', async () => {
    const { browser, rowId } = await subscribed(ids.clinicianUser, webpush.generateVAPIDKeys().publicKey);
    const before = pushService.problems.length;

    await expect(channel.send(delivery(rowId, { id: ids.clinicianUser, role: 'clinician' }))).rejects.toThrow(
      new PermanentDeliveryError('push service refused the message (403)'),
    );
    expect(pushService.problems.slice(before)).toEqual(['VAPID key is not the subscription key']);
    expect(messagesTo(browser.id)).toHaveLength(0);
    // Not the browser's doing: the subscription stays (the operator may have changed the keys by mistake).
    expect((await subscriptions.findById(rowId))?.failedAt).toBeNull();
  });
});

/**
 * Then the whole path on the real stack: browsers register through the REST routes, the ingest
 * raises a high alert from MQTT readings, the chain fans out, the push arrives at the push service,
 * and the test — as the service worker — posts the receipt that becomes the delivery's deliveredAt.
 */
describe('Web Push end to end: registration, alert over MQTT, receipt from the service worker', () => {
  let ingest: INestApplicationContext | undefined;
  let publisher: MqttClient | undefined;
  const tokens = { admin: '', clinician: '', patient: '', caregiver: '' };
  const ids = { patient: '', patientUser: '', clinicianUser: '', caregiverUser: '', cgm: '' };
  /** Receipts the service worker posted, with the api's answer. */
  const receipts: { deliveryId: string; event: string; status: number }[] = [];

  /** What the service worker does on `push` (apps/api/dashboard/src/service-worker.ts): the receipt. */
  async function serviceWorkerReceipt(message: PushedMessage, event: 'delivered' | 'read'): Promise<void> {
    const payload = message.payload as { deliveryId: string; receiptToken: string; receiptUrl: string };
    const res = await fetch(new URL(payload.receiptUrl, url), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ token: payload.receiptToken, event }),
    });
    receipts.push({ deliveryId: payload.deliveryId, event, status: res.status });
  }

  const register = (token: string, body: object) =>
    api.http.post('/api/v1/me/push-subscriptions').set(auth(token)).send(body);

  beforeAll(async () => {
    tokens.admin = await api.login(ADMIN_EMAIL, ADMIN_PASSWORD);
    const password = 'a-long-password-1';
    const data = new ApiData(api.http, tokens.admin);
    ({
      clinicianId: ids.clinicianUser,
      patientId: ids.patient,
      patientUserId: ids.patientUser,
      cgmId: ids.cgm,
    } = await data.clinic(password));
    tokens.clinician = await api.login('reyes@clinic.test', password);
    tokens.patient = await api.login('ana@home.test', password);
    ({ token: tokens.caregiver } = await data.caregiver(tokens.patient, {
      email: 'maria@family.test',
      scopes: ['glucose', 'alerts'],
      name: 'Maria',
      password,
    }));
  }, 60_000);

  afterAll(async () => {
    await publisher?.endAsync();
    await ingest?.close();
  });

  describe('registration', () => {
    it('gives every signed-in person the VAPID public key, and nobody else', async () => {
      for (const token of Object.values(tokens)) {
        const res = await api.http.get('/api/v1/push/public-key').set(auth(token)).expect(200);
        expect(res.body).toEqual({ publicKey: vapid.publicKey });
      }
      await api.http.get('/api/v1/push/public-key').expect(401);
    });

    it("lets patient, caregiver, clinician and admin register their own browser's subscription", async () => {
      for (const [who, token] of Object.entries(tokens)) {
        const browser = pushService.newSubscription(vapid.publicKey);
        const res = await register(token, browser.json).set('User-Agent', `browser of ${who}`).expect(201);
        expect(bodyOf<PushSubscriptionDto>(res)).toEqual({
          id: expect.any(String),
          endpoint: browser.json.endpoint,
          createdAt: expect.any(String),
        });
        const [row] = await api.db.query<{ email: string; p256dh: string; user_agent: string }[]>(
          `SELECT u.email, s.p256dh, s.user_agent FROM push_subscriptions s JOIN users u ON u.id = s.user_id WHERE s.id = $1`,
          [bodyOf<PushSubscriptionDto>(res).id],
        );
        expect(row).toEqual({
          email: {
            admin: ADMIN_EMAIL,
            clinician: 'reyes@clinic.test',
            patient: 'ana@home.test',
            caregiver: 'maria@family.test',
          }[who],
          p256dh: browser.json.keys.p256dh,
          user_agent: `browser of ${who}`,
        });
        await api.http
          .delete('/api/v1/me/push-subscriptions')
          .set(auth(token))
          .send({ endpoint: browser.json.endpoint })
          .expect(204);
      }
      await register('', pushService.newSubscription(vapid.publicKey).json).expect(401);
    });

    it('refuses what is not a browser subscription to a push service, naming the field', async () => {
      const good = pushService.newSubscription(vapid.publicKey).json;
      const cases: [object, RegExp][] = [
        [{ ...good, endpoint: 'http://push.example.org/x' }, /endpoint must be an https URL/],
        [{ ...good, endpoint: 'https://10.1.2.3/x' }, /endpoint must name its host/],
        [{ ...good, endpoint: `https://push.example.org/${'a'.repeat(2100)}` }, /endpoint/],
        [{ ...good, keys: { ...good.keys, p256dh: 'AAAA' } }, /keys.p256dh must be an uncompressed P-256 public key/],
        [{ ...good, keys: { ...good.keys, auth: 'not base64url!' } }, /keys.auth must be base64url/],
        [{ endpoint: good.endpoint }, /keys/],
        [{ ...good, extra: 1 }, /extra should not exist/],
      ];
      for (const [body, message] of cases) {
        const res = await register(tokens.patient, body).expect(400);
        expect(JSON.stringify(res.body)).toMatch(message);
      }
      const [{ count }] = await api.db.query<{ count: number }[]>(
        'SELECT count(*)::int AS count FROM push_subscriptions WHERE user_id = $1',
        [ids.patientUser],
      );
      expect(count).toBe(0);
    });

    it('moves an endpoint to whoever registers it last, and removes only the caller’s own', async () => {
      const browser = pushService.newSubscription(vapid.publicKey);
      const first = bodyOf<PushSubscriptionDto>(await register(tokens.patient, browser.json).expect(201));
      // Another person signs in on the same browser: the page registers it for them.
      const second = bodyOf<PushSubscriptionDto>(await register(tokens.caregiver, browser.json).expect(201));
      expect(second.id).toBe(first.id);
      await api.http
        .delete('/api/v1/me/push-subscriptions')
        .set(auth(tokens.patient))
        .send({ endpoint: browser.json.endpoint })
        .expect(404);
      await api.http
        .delete('/api/v1/me/push-subscriptions')
        .set(auth(tokens.caregiver))
        .send({ endpoint: browser.json.endpoint })
        .expect(204);
      await api.http
        .delete('/api/v1/me/push-subscriptions')
        .set(auth(tokens.caregiver))
        .send({ endpoint: browser.json.endpoint })
        .expect(404);
    });
  });

  it('pushes a high alert raised from MQTT readings to the patient and the care team; the service worker’s receipt is deliveredAt', async () => {
    // Push only, so that the test sees this channel's receipts; the other channels have their own tests.
    const policy: EscalationPolicy = {
      high: [
        { notify: 'patient', afterSec: 0, channels: ['push'] },
        { notify: 'care_team', afterSec: 0, channels: ['push'] },
      ],
      medium: [],
      low: [],
    };
    await api.http
      .put(`/api/v1/patients/${ids.patient}/escalation`)
      .set(auth(tokens.clinician))
      .send(policy)
      .expect(200);
    const phone = pushService.newSubscription(vapid.publicKey);
    const oldLaptop = pushService.newSubscription(vapid.publicKey);
    const workstation = pushService.newSubscription(vapid.publicKey);
    await register(tokens.patient, phone.json).expect(201);
    const gone = bodyOf<PushSubscriptionDto>(await register(tokens.patient, oldLaptop.json).expect(201));
    await register(tokens.clinician, workstation.json).expect(201);
    // The old laptop's browser unsubscribed: its push service answers 410 Gone.
    pushService.answerWith(oldLaptop.id, 410);
    pushService.onMessage = (message) => serviceWorkerReceipt(message, 'delivered');
    const problemsBefore = pushService.problems.length;

    ingest = await startIngest(
      ingestEnvironment({ databaseUrl: process.env.DATABASE_URL!, mqttUrl: api.mqttUrl, topicRoot: api.topicRoot }),
    );
    publisher = await connectMqtt(api.mqttUrl);
    await publisher.publishAsync(
      topicsFor(api.topicRoot).telemetry(ids.cgm),
      JSON.stringify({
        seq: 1,
        readings: [{ metric: 'glucose', value: 45, unit: 'mg/dL', ts: new Date(Date.now() - 1000).toISOString() }],
      }),
      { qos: 1 },
    );
    const alert = await waitFor(async () => {
      const [row] = await api.db.query<{ id: string; raised_at: Date; message: string }[]>(
        `SELECT id::text, raised_at, message FROM alerts WHERE patient_id = $1 AND rule = 'glucose.urgent_low'`,
        [ids.patient],
      );
      return row;
    }, 'the urgent low alert raised');

    const deliveries = async (): Promise<AlertDeliveryResource[]> =>
      bodyOf<AlertDeliveryResource[]>(
        await api.http.get(`/api/v1/alerts/${alert.id}/deliveries`).set(auth(tokens.clinician)).expect(200),
      );
    const pushRows = await waitFor(async () => {
      const list = (await deliveries()).filter((d) => d.channel === 'push');
      return (
        list.length === 3 && list.filter((d) => d.deliveredAt).length === 2 && list.some((d) => d.failedAt) && list
      );
    }, 'two push receipts and one failed push');
    expect(pushService.problems.slice(problemsBefore)).toEqual([]);
    expect(receipts).toEqual([
      expect.objectContaining({ event: 'delivered', status: 204 }),
      expect.objectContaining({ event: 'delivered', status: 204 }),
    ]);

    // What each browser decrypted: the patient her own notification's words, the clinician the board's.
    const [notification] = await api.db.query<{ title: string; body: string }[]>(
      `SELECT title, body FROM patient_notifications WHERE alert_id = $1 ORDER BY seq LIMIT 1`,
      [alert.id],
    );
    const toPhone = pushService.messages.filter((m) => m.subscriptionId === phone.id);
    const toWorkstation = pushService.messages.filter((m) => m.subscriptionId === workstation.id);
    expect(toPhone).toHaveLength(1);
    expect(toPhone[0].payload).toMatchObject({
      title: notification.title,
      body: notification.body,
      alertId: alert.id,
      patientId: ids.patient,
      priority: 'high',
    });
    expect(notification.title).toMatch(/^Your glucose/);
    expect(toPhone[0]).toMatchObject({ urgency: 'high', ttl: 3600, vapidKey: vapid.publicKey });
    expect(toWorkstation).toHaveLength(1);
    expect(toWorkstation[0].payload).toMatchObject({ title: 'High alert for Ana Souza', body: alert.message });

    const byRole = (role: string) => pushRows.filter((d) => d.recipient.role === role);
    expect(byRole('clinician')).toEqual([expect.objectContaining({ deliveredAt: expect.any(String) })]);
    const [patientOk] = byRole('patient').filter((d) => d.deliveredAt);
    const [patientGone] = byRole('patient').filter((d) => d.failedAt);
    expect(patientOk.id).toBe((toPhone[0].payload as { deliveryId: string }).deliveryId);
    expect(patientGone).toMatchObject({ error: 'push service answered 410: the subscription is gone' });
    expect(patientGone.deliveredAt).toBeUndefined();
    const [subscription] = await api.db.query<{ failed_at: Date | null }[]>(
      'SELECT failed_at FROM push_subscriptions WHERE id = $1',
      [gone.id],
    );
    expect(subscription.failed_at).toBeInstanceOf(Date);
    // The receipt, not the send: deliveredAt is when the service worker answered.
    expect(Date.parse(patientOk.deliveredAt!)).toBeGreaterThanOrEqual(Date.parse(patientOk.sentAt));
    expect(Date.parse(patientOk.deliveredAt!)).toBeGreaterThanOrEqual(toPhone[0].at - 1000);

    // The patient taps the notification: the service worker's read receipt.
    await serviceWorkerReceipt(toPhone[0], 'read');
    const [read] = (await deliveries()).filter((d) => d.id === patientOk.id);
    expect(read.readAt).toEqual(expect.any(String));

    const first = Math.min(...pushRows.filter((d) => d.deliveredAt).map((d) => Date.parse(d.deliveredAt!)));
    console.log(`push first receipt: ${first - alert.raised_at.getTime()} ms`);
  }, 30_000);
});
