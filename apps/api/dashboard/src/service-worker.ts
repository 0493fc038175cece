/// <reference lib="webworker" />
/**
 * Lantern's service worker, built to /sw.js (scope `/`: the whole app). It only handles alerts
 * pushed by the escalation chain (docs/escalation.md, "Web Push"): shows the notification, then
 * sends the delivery receipt — the push channel's `deliveredAt` is this receipt, not the send. A click
 * sends the read receipt and brings the app forward. No caching, no offline mode: the dashboard
 * must never show stale readings as current.
 *
 * Receipts carry the delivery's own token (an HMAC of its id), not an access token: a service
 * worker has no session, and the token can mark that one delivery and nothing else.
 */
declare const self: ServiceWorkerGlobalScope;

/** What the push channel sends (apps/api/src/escalation/push/push-message.ts PushPayload). */
interface PushPayload {
  deliveryId: string;
  receiptToken: string;
  receiptUrl: string;
  title: string;
  body: string;
  alertId: string;
  patientId: string;
  priority: 'high' | 'medium' | 'low';
}

type ReceiptEvent = 'delivered' | 'read';

function parse(data: PushMessageData | null): PushPayload | null {
  try {
    const payload = data?.json() as Partial<PushPayload> | undefined;
    return payload && typeof payload.receiptUrl === 'string' && typeof payload.title === 'string'
      ? (payload as PushPayload)
      : null;
  } catch {
    return null;
  }
}

/** Posts a receipt; retried a few times, since a phone just woken by a push may not be online yet. */
async function sendReceipt(payload: PushPayload, event: ReceiptEvent): Promise<void> {
  // Only ever to this origin: the payload names the path, never a host.
  const url = new URL(payload.receiptUrl, self.location.origin);
  if (url.origin !== self.location.origin) return;
  for (let attempt = 0; attempt < 4; attempt++) {
    try {
      const res = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ token: payload.receiptToken, event }),
        credentials: 'omit',
      });
      // 4xx: an unknown delivery or a bad token; retrying would not change the answer.
      if (res.ok || (res.status >= 400 && res.status < 500)) return;
    } catch {
      // offline: try again below
    }
    await new Promise((resolve) => setTimeout(resolve, 1000 * 2 ** attempt));
  }
}

self.addEventListener('install', () => void self.skipWaiting());
self.addEventListener('activate', (event) => event.waitUntil(self.clients.claim()));

self.addEventListener('push', (event) => {
  const payload = parse(event.data);
  if (!payload) return;
  event.waitUntil(
    (async () => {
      // Shown first: a push the person cannot see (notifications blocked) is not delivered. Without
      // a receipt, the chain counts it as not delivered and the delivery expires failed.
      await self.registration.showNotification(payload.title, {
        body: payload.body,
        // One notification per alert: a later tier's push replaces the earlier one instead of piling up.
        tag: `alert-${payload.alertId}`,
        requireInteraction: payload.priority === 'high',
        data: payload,
      });
      await sendReceipt(payload, 'delivered');
    })(),
  );
});

self.addEventListener('notificationclick', (event) => {
  event.notification.close();
  const payload = event.notification.data as PushPayload | null;
  event.waitUntil(
    (async () => {
      if (payload) await sendReceipt(payload, 'read');
      const windows = await self.clients.matchAll({ type: 'window', includeUncontrolled: true });
      const open = windows.find((w) => new URL(w.url).origin === self.location.origin);
      if (open) await open.focus();
      // The patient's page for staff; the app sends a patient or a caregiver on to their own view.
      else await self.clients.openWindow(payload ? `/patients/${payload.patientId}` : '/');
    })(),
  );
});

export {};
