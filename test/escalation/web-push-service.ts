import {
  createDecipheriv,
  createECDH,
  createPublicKey,
  hkdfSync,
  randomBytes,
  randomUUID,
  verify,
  type ECDH,
} from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A push service as browsers' vendors run them, on loopback, for the tests: it takes RFC 8030
 * message POSTs, refuses any without a valid RFC 8292 VAPID token for the key the subscription was
 * made with (an ES256 JWT, `aud` = this origin, `exp` in the future and within 24 h), decrypts the
 * RFC 8291 aes128gcm body with the subscription's private key and auth secret — written here from
 * the RFC with node:crypto, not with the library under test — and answers 201. It also plays the
 * browser: {@link newSubscription} makes the keys a browser would, and `onMessage` is where the
 * test acts as the service worker (posting the receipt).
 */
export interface PushedMessage {
  readonly subscriptionId: string;
  readonly at: number;
  readonly ttl: number;
  readonly urgency: string | undefined;
  /** The JWT claims of the VAPID token. */
  readonly claims: { aud: string; exp: number; sub: string };
  /** The VAPID public key (`k=`). */
  readonly vapidKey: string;
  readonly payload: Record<string, unknown>;
}

export interface BrowserSubscription {
  readonly id: string;
  /** What `PushSubscription.toJSON()` gives, as the browser would POST it. */
  readonly json: { endpoint: string; expirationTime: null; keys: { p256dh: string; auth: string } };
}

interface Registered {
  readonly ecdh: ECDH;
  readonly auth: Buffer;
  readonly applicationServerKey: string;
  /** What to answer instead of 201 (410: the browser unsubscribed). */
  answer?: number;
}

export interface WebPushService {
  readonly origin: string;
  readonly messages: PushedMessage[];
  /** Requests refused and errors of the service worker part, each with its reason: a test asserts there are none. */
  readonly problems: string[];
  /** A browser's subscription made with `applicationServerKey` (the VAPID public key, base64url). */
  newSubscription(applicationServerKey: string): BrowserSubscription;
  /** Answers `status` to every message for this subscription from now on. */
  answerWith(subscriptionId: string, status: number): void;
  /** Called after the 201 for each decrypted message: the service worker's part. */
  onMessage: (message: PushedMessage) => void | Promise<void>;
  close(): Promise<void>;
}

const b64url = (buffer: Buffer): string => buffer.toString('base64url');

/** RFC 8291 §3.4 and RFC 8188: one aes128gcm record, decrypted as the user agent does. */
export function decryptAes128gcm(body: Buffer, ecdh: ECDH, authSecret: Buffer): Buffer {
  const salt = body.subarray(0, 16);
  const recordSize = body.readUInt32BE(16);
  const keyIdLength = body[20];
  const serverPublicKey = body.subarray(21, 21 + keyIdLength);
  const ciphertext = body.subarray(21 + keyIdLength);
  if (keyIdLength !== 65) throw new Error(`keyid must be the 65-byte server key, got ${keyIdLength} bytes`);
  if (ciphertext.length > recordSize) throw new Error('more than one record');
  const sharedSecret = ecdh.computeSecret(serverPublicKey);
  const keyInfo = Buffer.concat([Buffer.from('WebPush: info\0'), ecdh.getPublicKey(), serverPublicKey]);
  const ikm = Buffer.from(hkdfSync('sha256', sharedSecret, authSecret, keyInfo, 32));
  const cek = Buffer.from(hkdfSync('sha256', ikm, salt, Buffer.from('Content-Encoding: aes128gcm\0'), 16));
  const nonce = Buffer.from(hkdfSync('sha256', ikm, salt, Buffer.from('Content-Encoding: nonce\0'), 12));
  const decipher = createDecipheriv('aes-128-gcm', cek, nonce);
  decipher.setAuthTag(ciphertext.subarray(ciphertext.length - 16));
  const padded = Buffer.concat([decipher.update(ciphertext.subarray(0, ciphertext.length - 16)), decipher.final()]);
  // The last record ends with the delimiter 0x02, then zero padding.
  let end = padded.length - 1;
  while (end >= 0 && padded[end] === 0) end--;
  if (padded[end] !== 2) throw new Error('last record lacks its padding delimiter 0x02');
  return padded.subarray(0, end);
}

/** RFC 8292 §2–3: `vapid t=<JWT>, k=<key>`, the JWT signed ES256 by `k`. Returns the claims and key, or throws why not. */
export function verifyVapid(
  header: string | undefined,
  origin: string,
): { claims: PushedMessage['claims']; key: string } {
  const match = /^vapid\s+t=([^,\s]+),\s*k=([A-Za-z0-9_-]+)$/.exec(header ?? '');
  if (!match) throw new Error(`Authorization is not "vapid t=…, k=…": ${header}`);
  const [, jwt, key] = match;
  const [head, body, signature] = jwt.split('.');
  const header64 = JSON.parse(Buffer.from(head, 'base64url').toString()) as { alg?: string; typ?: string };
  if (header64.alg !== 'ES256') throw new Error(`JWT alg ${header64.alg}`);
  const point = Buffer.from(key, 'base64url');
  if (point.length !== 65 || point[0] !== 4) throw new Error('k is not an uncompressed P-256 key');
  const publicKey = createPublicKey({
    key: { kty: 'EC', crv: 'P-256', x: b64url(point.subarray(1, 33)), y: b64url(point.subarray(33)) },
    format: 'jwk',
  });
  const valid = verify(
    'sha256',
    Buffer.from(`${head}.${body}`),
    { key: publicKey, dsaEncoding: 'ieee-p1363' },
    Buffer.from(signature, 'base64url'),
  );
  if (!valid) throw new Error('JWT signature does not verify with k');
  const claims = JSON.parse(Buffer.from(body, 'base64url').toString()) as PushedMessage['claims'];
  if (claims.aud !== origin) throw new Error(`aud ${claims.aud} is not ${origin}`);
  const now = Date.now() / 1000;
  if (!(claims.exp > now && claims.exp <= now + 24 * 3600)) throw new Error(`exp ${claims.exp} not within 24 h`);
  if (!/^(mailto:|https:)/.test(claims.sub ?? '')) throw new Error(`sub ${claims.sub}`);
  return { claims, key };
}

/** Starts the push service on a free loopback port. */
export async function startWebPushService(): Promise<WebPushService> {
  const registered = new Map<string, Registered>();
  const messages: PushedMessage[] = [];
  const problems: string[] = [];
  let origin = '';
  const service: WebPushService = {
    get origin() {
      return origin;
    },
    messages,
    problems,
    newSubscription(applicationServerKey) {
      const id = randomUUID();
      const ecdh = createECDH('prime256v1');
      ecdh.generateKeys();
      const auth = randomBytes(16);
      registered.set(id, { ecdh, auth, applicationServerKey });
      return {
        id,
        json: {
          endpoint: `${origin}/push/${id}`,
          expirationTime: null,
          keys: { p256dh: b64url(ecdh.getPublicKey()), auth: b64url(auth) },
        },
      };
    },
    answerWith(id, status) {
      const subscription = registered.get(id);
      if (subscription) subscription.answer = status;
    },
    onMessage: () => undefined,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };

  const refuse = (res: ServerResponse, status: number, reason: string): void => {
    problems.push(reason);
    res.writeHead(status, { 'content-type': 'text/plain' }).end(reason);
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks);
    const id = /^\/push\/([0-9a-f-]{36})$/.exec(req.url ?? '')?.[1];
    const subscription = id === undefined ? undefined : registered.get(id);
    if (req.method !== 'POST' || id === undefined || !subscription)
      return refuse(res, 404, `no such subscription ${req.url}`);
    if (subscription.answer !== undefined) return void res.writeHead(subscription.answer).end();
    let vapid: ReturnType<typeof verifyVapid>;
    try {
      vapid = verifyVapid(req.headers.authorization, origin);
    } catch (error) {
      return refuse(res, 401, (error as Error).message);
    }
    // RFC 8292 §4: a subscription made with an applicationServerKey takes messages signed by that key only.
    if (vapid.key !== subscription.applicationServerKey)
      return refuse(res, 403, 'VAPID key is not the subscription key');
    const ttl = Number(req.headers.ttl);
    if (!Number.isInteger(ttl) || ttl < 0) return refuse(res, 400, `TTL header ${String(req.headers.ttl)}`);
    if (req.headers['content-encoding'] !== 'aes128gcm')
      return refuse(res, 415, `Content-Encoding ${req.headers['content-encoding']}`);
    let payload: Record<string, unknown>;
    try {
      payload = JSON.parse(decryptAes128gcm(body, subscription.ecdh, subscription.auth).toString('utf8')) as Record<
        string,
        unknown
      >;
    } catch (error) {
      return refuse(res, 400, `cannot decrypt: ${(error as Error).message}`);
    }
    const urgency = req.headers.urgency;
    const message: PushedMessage = {
      subscriptionId: id,
      at: Date.now(),
      ttl,
      urgency: typeof urgency === 'string' ? urgency : undefined,
      claims: vapid.claims,
      vapidKey: vapid.key,
      payload,
    };
    messages.push(message);
    res.writeHead(201, { location: `${origin}/message/${randomUUID()}` }).end();
    await service.onMessage(message);
  };

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      problems.push(`push service error: ${String(error)}`);
      if (!res.headersSent) res.writeHead(500).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return service;
}
