import { createHmac, timingSafeEqual } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { LANTERN_CONFIG, type LanternConfig } from '@lantern/config';
import { resolveJwtSecret } from '@lantern/auth';

/**
 * The token a recipient's client sends back with a delivery receipt (POST
 * /api/v1/deliveries/:id/receipt): an HMAC of the delivery id under a key derived from the token
 * secret. A service worker has no access token of its own to send; the receipt token proves it
 * received this delivery and nothing more — it can mark that one delivery delivered or read.
 */
@Injectable()
export class DeliveryReceipts {
  private readonly key: Buffer;

  constructor(@Inject(LANTERN_CONFIG) config: LanternConfig) {
    this.key = createHmac('sha256', resolveJwtSecret(config)).update('lantern delivery receipts v1').digest();
  }

  token(deliveryId: string): string {
    return createHmac('sha256', this.key).update(deliveryId).digest('base64url');
  }

  verify(deliveryId: string, token: unknown): boolean {
    if (typeof token !== 'string' || token.length > 100) return false;
    const expected = Buffer.from(this.token(deliveryId));
    const given = Buffer.from(token);
    return given.length === expected.length && timingSafeEqual(given, expected);
  }
}
