import { createECDH } from 'node:crypto';
import { join } from 'node:path';
import webpush from 'web-push';
import { keptSecretFile } from '@lantern/auth';
import type { LanternConfig } from '@lantern/config';

/** The application server's identity towards push services (RFC 8292), and how they can reach its operator. */
export interface VapidKeys {
  /** base64url, 65 bytes: what browsers subscribe with (`applicationServerKey`). */
  readonly publicKey: string;
  /** base64url, 32 bytes. */
  readonly privateKey: string;
  /** mailto: or https: URL. */
  readonly subject: string;
}

/** Nest token of the resolved {@link VapidKeys}. */
export const VAPID_KEYS = Symbol('VAPID_KEYS');

/**
 * The VAPID pair: VAPID_PUBLIC_KEY/VAPID_PRIVATE_KEY when set (the config checks they match),
 * otherwise one generated on first use and kept in DATA_DIR/vapid.json (mode 0600). It must outlive
 * restarts: every browser subscribed with the public key, and a new pair makes each push service
 * refuse the old subscriptions.
 */
export function resolveVapidKeys(
  config: Pick<LanternConfig, 'vapidPublicKey' | 'vapidPrivateKey' | 'vapidSubject' | 'adminEmail' | 'dataDir'>,
): VapidKeys {
  const subject = config.vapidSubject ?? `mailto:${config.adminEmail}`;
  if (config.vapidPublicKey !== undefined && config.vapidPrivateKey !== undefined)
    return { publicKey: config.vapidPublicKey, privateKey: config.vapidPrivateKey, subject };
  const path = join(config.dataDir, 'vapid.json');
  const pair = keptSecretFile(
    path,
    () => `${JSON.stringify(webpush.generateVAPIDKeys(), null, 2)}\n`,
    (text) => parsePair(path, text),
  );
  return { ...pair, subject };
}

/** The pair in the text of file `path`; throws when it is not a matching pair. */
function parsePair(path: string, text: string): Omit<VapidKeys, 'subject'> {
  const broken = new Error(
    `${path} does not hold a VAPID key pair ({"publicKey", "privateKey"} in base64url). Restore it from a backup, ` +
      'or delete it to have a new pair generated: browsers then have to subscribe again.',
  );
  let pair: { publicKey?: unknown; privateKey?: unknown };
  try {
    pair = JSON.parse(text) as typeof pair;
  } catch {
    throw broken;
  }
  if (typeof pair.publicKey !== 'string' || typeof pair.privateKey !== 'string') throw broken;
  try {
    const ecdh = createECDH('prime256v1');
    ecdh.setPrivateKey(Buffer.from(pair.privateKey, 'base64url'));
    if (ecdh.getPublicKey('base64url', 'uncompressed') !== pair.publicKey) throw broken;
  } catch {
    throw broken;
  }
  return { publicKey: pair.publicKey, privateKey: pair.privateKey };
}
