import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { AddressInfo } from 'node:net';
import type { Browser, BrowserContext, CDPSession, Page } from 'playwright-core';
import webpush from 'web-push';
import type { AlertDeliveryResource, EscalationPolicy } from '@lantern/domain';
import { ADMIN_EMAIL, ADMIN_PASSWORD, startApi, type ApiFixture } from '../api/api-fixture.js';
import { launchChromium, signIn } from '../browser/browser.js';
import { bodyOf } from '../support/http.js';
import { waitFor } from '../support/wait.js';
import { startWebPushService, type WebPushService } from './web-push-service.js';

/**
 * The service worker itself (apps/api/dashboard/src/service-worker.ts, served at /sw.js), in
 * headless Chromium, on the real api: the patient's page installs it; the chain's push goes to the
 * test's push service, which hands the decrypted message to the browser as a push event (Chrome
 * DevTools' ServiceWorker.deliverPushMessage — a headless browser cannot reach a vendor's push
 * service itself). The worker's own receipt must become the delivery's `deliveredAt`.
 * Needs `npm run build:dashboard`.
 */
describe('the service worker in a real browser', () => {
  const vapid = webpush.generateVAPIDKeys();
  const password = 'a-long-password-1';
  const auth = (token: string) => ({ Authorization: `Bearer ${token}` });
  let api: ApiFixture;
  let url: string;
  let pushService: WebPushService;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let cdp: CDPSession;
  const ids = { patient: '', admin: '', patientToken: '' };

  async function asAdmin(path: string, body: object): Promise<string> {
    const res = await api.http.post(path).set(auth(ids.admin)).send(body);
    if (res.status >= 300) throw new Error(`${path}: ${res.status} ${JSON.stringify(res.body)}`);
    return (res.body as { id: string }).id;
  }

  beforeAll(async () => {
    pushService = await startWebPushService();
    api = await startApi(
      { VAPID_PUBLIC_KEY: vapid.publicKey, VAPID_PRIVATE_KEY: vapid.privateKey },
      { asAppRole: true },
    );
    await api.app.listen(0, '127.0.0.1');
    url = `http://127.0.0.1:${(api.app.getHttpServer().address() as AddressInfo).port}`;
    ids.admin = await api.login(ADMIN_EMAIL, ADMIN_PASSWORD);
    ids.patient = await asAdmin('/api/v1/patients', { displayName: 'Ana Souza' });
    await asAdmin('/api/v1/users', {
      email: 'ana@home.test',
      password,
      role: 'patient',
      displayName: 'Ana',
      patientId: ids.patient,
    });
    ids.patientToken = await api.login('ana@home.test', password);
    browser = await launchChromium();
    context = await browser.newContext({ baseURL: url });
    await context.grantPermissions(['notifications'], { origin: url });
    page = await context.newPage();
    cdp = await context.newCDPSession(page);
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await api?.close();
    await pushService?.close();
  });

  it('is installed at /sw.js for the whole app, shows the push, then sends the receipt that is deliveredAt', async () => {
    const registrations = new Map<string, string>();
    cdp.on('ServiceWorker.workerRegistrationUpdated', ({ registrations: list }) => {
      for (const r of list) if (!r.isDeleted) registrations.set(r.scopeURL, r.registrationId);
    });
    await cdp.send('ServiceWorker.enable');

    await signIn(page, 'ana@home.test', password);
    await page.getByRole('button', { name: 'Get alerts on this device' }).waitFor();
    const scope = await page.evaluate<string>('navigator.serviceWorker.ready.then((r) => r.scope)');
    expect(scope).toBe(`${url}/`);
    const registrationId = await waitFor(() => registrations.get(`${url}/`), 'the worker registration');

    // The browser's subscription, registered as the page does; its push service is the test's.
    const browserSide = pushService.newSubscription(vapid.publicKey);
    await api.http.post('/api/v1/me/push-subscriptions').set(auth(ids.patientToken)).send(browserSide.json).expect(201);
    // The push service passes each message on to the browser, as a vendor's would.
    pushService.onMessage = async (message) => {
      await cdp.send('ServiceWorker.deliverPushMessage', {
        origin: url,
        registrationId,
        data: JSON.stringify(message.payload),
      });
    };
    const policy: EscalationPolicy = {
      high: [{ notify: 'patient', afterSec: 0, channels: ['push'] }],
      medium: [],
      low: [],
    };
    await api.http.put(`/api/v1/patients/${ids.patient}/escalation`).set(auth(ids.admin)).send(policy).expect(200);
    const raise = async (rule: string): Promise<string> => {
      const [row] = await api.db.query<{ id: string }[]>(
        `INSERT INTO alerts (patient_id, rule, metric, priority, state, message, opened_at, last_triggered_at, raised_at)
         VALUES ($1, $2, 'glucose', 'high', 'open', 'Glucose 45 mg/dL — below 54 (urgent low)', now(), now(), now())
         RETURNING id::text`,
        [ids.patient, rule],
      );
      return row.id;
    };
    const pushDelivery = async (alertId: string): Promise<AlertDeliveryResource | undefined> =>
      bodyOf<AlertDeliveryResource[]>(
        await api.http.get(`/api/v1/alerts/${alertId}/deliveries`).set(auth(ids.admin)).expect(200),
      ).find((d) => d.channel === 'push');

    // This headless Chromium has no notification platform: it refuses showNotification, as a browser
    // does where the person blocked notifications. The worker then sends no receipt: not delivered.
    const blocked = await raise('glucose.urgent_low');
    await waitFor(() => pushService.messages.length === 1, 'the first push at the push service');
    await new Promise((resolve) => setTimeout(resolve, 2000));
    expect(await pushDelivery(blocked)).toMatchObject({ sentAt: expect.any(String) });
    expect((await pushDelivery(blocked))?.deliveredAt).toBeUndefined();

    // A stand-in for the notification platform, in the worker itself: it records what would show.
    const [worker] = context.serviceWorkers();
    await worker.evaluate(`(() => {
      self.shown = [];
      self.registration.showNotification = (title, options) => {
        self.shown.push({ title, body: options.body, tag: options.tag, requireInteraction: options.requireInteraction });
        return Promise.resolve();
      };
    })()`);
    const alertId = await raise('glucose.low');
    const delivered = await waitFor(
      async () => {
        const d = await pushDelivery(alertId);
        return d?.deliveredAt ? d : undefined;
      },
      'the service worker’s receipt',
      15_000,
    );
    expect(pushService.messages).toHaveLength(2);
    const payload = pushService.messages[1].payload as { deliveryId: string; title: string; body: string };
    expect(delivered).toMatchObject({ id: payload.deliveryId, recipient: { role: 'patient' }, tier: 0 });
    expect(delivered.readAt).toBeUndefined();
    // Shown before the receipt was sent: one notification per alert, in the payload's words.
    expect(await worker.evaluate('self.shown')).toEqual([
      { title: payload.title, body: payload.body, tag: `alert-${alertId}`, requireInteraction: true },
    ]);
  }, 60_000);
});
