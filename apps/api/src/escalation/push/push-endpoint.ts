import { createECDH } from 'node:crypto';
import { isIP } from 'node:net';

/** Endpoint URLs of real push services are a few hundred characters; this leaves room and stops abuse. */
export const MAX_ENDPOINT_LENGTH = 2048;

const LOOPBACK_NAMES = new Set(['localhost', '127.0.0.1', '[::1]']);

function isLoopback(hostname: string): boolean {
  return LOOPBACK_NAMES.has(hostname) || hostname.endsWith('.localhost') || /^127\.\d+\.\d+\.\d+$/.test(hostname);
}

/**
 * Why Lantern will not POST to this endpoint, or undefined when it will. Push services are reached
 * over https by name; a browser's endpoint is never a plain-HTTP URL nor an IP address. Those are
 * refused because Lantern would otherwise post to any address a signed-in person names (its own
 * loopback services, the local network). Under NODE_ENV=test (`allowLoopback`) a loopback endpoint,
 * http or https, is accepted: the tests run their push service there.
 */
export function endpointProblem(endpoint: string, { allowLoopback }: { allowLoopback: boolean }): string | undefined {
  if (endpoint.length > MAX_ENDPOINT_LENGTH) return `endpoint must be at most ${MAX_ENDPOINT_LENGTH} characters`;
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    return 'endpoint must be a URL';
  }
  if (url.username !== '' || url.password !== '') return 'endpoint must not carry credentials';
  if (isLoopback(url.hostname))
    return allowLoopback && (url.protocol === 'https:' || url.protocol === 'http:')
      ? undefined
      : 'endpoint must be a push service, not this machine';
  if (url.protocol !== 'https:') return 'endpoint must be an https URL';
  if (isIP(url.hostname.replace(/^\[|\]$/g, '')) !== 0) return 'endpoint must name its host, not an IP address';
  return undefined;
}

/** Why these are not a browser's subscription keys (RFC 8291: a P-256 public key and a 16-byte auth secret), or undefined. */
export function keysProblem(p256dh: string, auth: string): string | undefined {
  if (Buffer.from(auth, 'base64url').length !== 16) return 'keys.auth must be 16 bytes in base64url';
  const key = Buffer.from(p256dh, 'base64url');
  if (key.length !== 65 || key[0] !== 4) return 'keys.p256dh must be an uncompressed P-256 public key in base64url';
  try {
    // Refuses a point off the curve, which would make every send to it fail.
    const ecdh = createECDH('prime256v1');
    ecdh.generateKeys();
    ecdh.computeSecret(key);
  } catch {
    return 'keys.p256dh is not a point of P-256';
  }
  return undefined;
}
