import type { PushPublicKeyResource } from '@lantern/domain';
import { request } from './api.js';
import { h } from './dom.js';

/**
 * "Get alerts on this device": Web Push for whoever is signed in — patient, caregiver, clinician
 * (docs/escalation.md, "Web Push"). The browser asks for permission only on a click; the
 * subscription (made with the server's VAPID key) is registered for the signed-in person. When
 * this browser is already subscribed, signing in registers it again, so alerts on it are those of
 * the person now signed in, never the previous one's. Clicking again switches alerts off here.
 */
export function pushOptInButton(toast: (text: string, kind?: 'info' | 'error') => void): HTMLButtonElement | null {
  if (!('serviceWorker' in navigator) || !('PushManager' in window) || !('Notification' in window)) return null;
  const button = h(
    'button',
    { type: 'button', class: 'push-opt-in', 'aria-pressed': 'false' },
    'Get alerts on this device',
  );
  let subscribed = false;
  const show = (on: boolean): void => {
    subscribed = on;
    button.setAttribute('aria-pressed', String(on));
    button.textContent = on ? '✓ Alerts on this device' : 'Get alerts on this device';
    button.title = on ? 'Alerts reach this device even when Lantern is closed. Click to stop them.' : '';
  };

  const registration = navigator.serviceWorker.register('/sw.js', { scope: '/' });

  async function subscribe(): Promise<void> {
    if ((await Notification.requestPermission()) !== 'granted') {
      toast('Alerts on this device need permission to show notifications (see the browser’s site settings).', 'error');
      return;
    }
    const { publicKey } = await request<PushPublicKeyResource>('GET', '/push/public-key');
    const manager = (await registration).pushManager;
    let subscription = await manager.getSubscription();
    // Made with another key (the server's pair changed): the push service would refuse every message.
    if (subscription && !sameKey(subscription.options.applicationServerKey, publicKey)) {
      await subscription.unsubscribe();
      subscription = null;
    }
    subscription ??= await manager.subscribe({ userVisibleOnly: true, applicationServerKey: fromBase64Url(publicKey) });
    await request('POST', '/me/push-subscriptions', subscription.toJSON());
    show(true);
    toast('Alerts will reach this device.');
  }

  async function unsubscribe(): Promise<void> {
    const subscription = await (await registration).pushManager.getSubscription();
    if (subscription) {
      await request('DELETE', '/me/push-subscriptions', { endpoint: subscription.endpoint }).catch(() => undefined);
      await subscription.unsubscribe();
    }
    show(false);
    toast('Alerts no longer reach this device.');
  }

  button.addEventListener('click', () => {
    button.disabled = true;
    (subscribed ? unsubscribe() : subscribe())
      .catch((error: Error) => toast(`Could not change alerts on this device: ${error.message}`, 'error'))
      .finally(() => (button.disabled = false));
  });

  // Already subscribed on this browser: register it for the person now signed in — unless it was
  // made with a key the server no longer has (then it shows as off; a click subscribes anew).
  void (async () => {
    if (Notification.permission !== 'granted') return;
    const subscription = await (await registration).pushManager.getSubscription();
    if (!subscription) return;
    const { publicKey } = await request<PushPublicKeyResource>('GET', '/push/public-key');
    if (!sameKey(subscription.options.applicationServerKey, publicKey)) return;
    await request('POST', '/me/push-subscriptions', subscription.toJSON());
    show(true);
  })().catch((error: unknown) => console.warn('push subscription not registered', error));
  return button;
}

function fromBase64Url(text: string): Uint8Array<ArrayBuffer> {
  const binary = atob(text.replace(/-/g, '+').replace(/_/g, '/'));
  return Uint8Array.from(binary, (c) => c.charCodeAt(0));
}

function sameKey(key: ArrayBuffer | null, publicKey: string): boolean {
  if (!key) return false;
  const expected = fromBase64Url(publicKey);
  const actual = new Uint8Array(key);
  return actual.length === expected.length && actual.every((byte, i) => byte === expected[i]);
}
