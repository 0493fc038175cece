import { createECDH } from 'node:crypto';
import { bool, int, text, url } from './parsers.js';
import { isSet, ParseError, type CrossCheck, type Setting } from './setting.js';

/** "Lantern <alerts@example.org>" or a bare address: the sender of outgoing e-mail. */
const mailbox = (raw: string): string | ParseError =>
  /^([^<>\r\n]*<[^@\s<>]+@[^@\s<>]+>|[^@\s<>]+@[^@\s<>]+)$/.test(raw.trim())
    ? raw.trim()
    : new ParseError(`must be an address or Name <address>, got '${raw}'`);

/** smtp:// or smtps:// with a host. Its problems never quote the URL: it may hold a password. */
const smtpUrl = (raw: string): string | ParseError => {
  const checked = url('smtp:', 'smtps:')(raw);
  if (checked instanceof ParseError) return checked;
  return new URL(raw).hostname === '' ? new ParseError('must name a host') : checked;
};

/** A VAPID key as push services and browsers exchange it: unpadded base64url of `bytes` bytes. */
const vapidKey =
  (bytes: number, what: string) =>
  (raw: string): string | ParseError =>
    /^[A-Za-z0-9_-]+$/.test(raw) && Buffer.from(raw, 'base64url').length === bytes
      ? raw
      : new ParseError(`must be ${what}: ${bytes} bytes in unpadded base64url`);

/**
 * Alerting and its escalation: the signed webhook, the e-mail and Web Push channels, and how often
 * the ingest sweeps for signal loss and releases messages held for quiet hours.
 */
export const ALERTING_SETTINGS = {
  alertWebhookUrl: {
    env: 'ALERT_WEBHOOK_URL',
    description: 'When set, every alert transition is POSTed here, HMAC-signed: requires ALERT_WEBHOOK_SECRET.',
    parse: url('http:', 'https:'),
  },
  alertWebhookSecret: {
    env: 'ALERT_WEBHOOK_SECRET',
    description: 'Key of the webhook HMAC-SHA256 signature header (≥ 16 characters); required with ALERT_WEBHOOK_URL.',
    parse: text(16),
  },
  smtpUrl: {
    env: 'SMTP_URL',
    description:
      "SMTP server of the escalation chain's e-mail channel: smtp://host:587 (STARTTLS) or smtps://host:465, with user:password (percent-encoded) when it asks for a login. Unset: no e-mail deliveries.",
    parse: smtpUrl,
  },
  emailFrom: {
    env: 'EMAIL_FROM',
    description: 'Sender of alert e-mail: an address or Name <address> the SMTP server lets Lantern send as.',
    default: 'Lantern <alerts@localhost>',
    parse: mailbox,
  },
  smtpRequireTls: {
    env: 'SMTP_REQUIRE_TLS',
    description:
      'With an smtp:// SMTP_URL, send only over STARTTLS (alert e-mail carries patient data). false: only for a relay on the same host or a test server.',
    default: 'true',
    parse: bool,
  },
  vapidPublicKey: {
    env: 'VAPID_PUBLIC_KEY',
    description:
      'Web Push: the VAPID public key (base64url, 65 bytes uncompressed P-256), with VAPID_PRIVATE_KEY. Unset: a pair generated once and kept in DATA_DIR/vapid.json.',
    parse: vapidKey(65, 'an uncompressed P-256 public key'),
  },
  vapidPrivateKey: {
    env: 'VAPID_PRIVATE_KEY',
    description: 'Web Push: the VAPID private key (base64url, 32 bytes) of VAPID_PUBLIC_KEY. Keep it secret.',
    parse: vapidKey(32, 'a P-256 private key'),
  },
  vapidSubject: {
    env: 'VAPID_SUBJECT',
    description:
      'Web Push: how push services can reach the operator, a mailto: or https: URL sent in every VAPID token. Unset: mailto:ADMIN_EMAIL.',
    parse: url('mailto:', 'https:'),
  },
  signalLossSweepMs: {
    env: 'SIGNAL_LOSS_SWEEP_MS',
    description: 'How often the ingest checks every device for signal loss and escalates alerts.',
    default: '10000',
    parse: int(100, 600_000),
  },
  quietHoursReleaseMs: {
    env: 'QUIET_HOURS_RELEASE_MS',
    description: 'How often the ingest publishes patient messages held for quiet hours whose window is over.',
    default: '5000',
    parse: int(100, 600_000),
  },
} as const satisfies Record<string, Setting<unknown>>;

const { alertWebhookUrl, alertWebhookSecret, vapidPublicKey, vapidPrivateKey } = ALERTING_SETTINGS;

/** Rules between the alerting settings. */
export const ALERTING_CHECKS: readonly CrossCheck[] = [
  // Receivers authenticate alert deliveries by their signature: an unsigned webhook would let anyone forge alerts.
  (env) =>
    isSet(env, alertWebhookUrl.env) && !isSet(env, alertWebhookSecret.env)
      ? `${alertWebhookSecret.env} must be set when ${alertWebhookUrl.env} is set (webhook deliveries are always signed)`
      : undefined,
  // Browsers subscribed with the public key; signing with another private key gets every push refused (403).
  (env) => {
    const [pub, priv] = [env[vapidPublicKey.env], env[vapidPrivateKey.env]];
    if (isSet(env, vapidPublicKey.env) !== isSet(env, vapidPrivateKey.env))
      return `${vapidPublicKey.env} and ${vapidPrivateKey.env} must be set together`;
    if (!pub || !priv || typeof vapidKey(32, '')(priv) !== 'string' || typeof vapidKey(65, '')(pub) !== 'string')
      return undefined;
    const ecdh = createECDH('prime256v1');
    try {
      ecdh.setPrivateKey(Buffer.from(priv, 'base64url'));
    } catch {
      return `${vapidPrivateKey.env} is not a valid P-256 private key`;
    }
    return ecdh.getPublicKey('base64url', 'uncompressed') === pub
      ? undefined
      : `${vapidPublicKey.env} is not the public key of ${vapidPrivateKey.env}`;
  },
];
