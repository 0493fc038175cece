import { createHmac } from 'node:crypto';

/** `X-Lantern-Signature` value: `sha256=` + hex HMAC-SHA256 of the raw body with ALERT_WEBHOOK_SECRET. */
export function webhookSignature(secret: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

/** One POST to ALERT_WEBHOOK_URL: its id (the receiver's deduplication key), event name and JSON body. */
export interface WebhookDelivery {
  readonly id: string;
  readonly event: string;
  readonly body: string;
}

/**
 * POSTs one delivery, signed, with a timeout. Resolves whether the receiver accepted it (2xx); the
 * reason of a refusal or failure goes to `onFailure`, with the HTTP status when there was an answer.
 * Never throws.
 */
export async function postWebhook(
  target: { readonly url: string; readonly secret: string | undefined; readonly timeoutMs: number },
  delivery: WebhookDelivery,
  onFailure: (reason: string, status?: number) => void,
): Promise<boolean> {
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    'x-lantern-event': delivery.event,
    'x-lantern-delivery': delivery.id,
  };
  if (target.secret) headers['x-lantern-signature'] = webhookSignature(target.secret, delivery.body);
  try {
    const response = await fetch(target.url, {
      method: 'POST',
      headers,
      body: delivery.body,
      signal: AbortSignal.timeout(target.timeoutMs),
    });
    await response.arrayBuffer().catch(() => undefined);
    if (response.ok) return true;
    onFailure(`answered ${response.status}`, response.status);
    return false;
  } catch (error) {
    onFailure(`unreachable: ${(error as Error).message}`);
    return false;
  }
}
