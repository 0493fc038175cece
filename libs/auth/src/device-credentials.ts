import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * Device secrets are 256-bit random values, so a fast keyed-free hash is as safe as a slow one
 * (nothing to brute-force) and keeps broker authentication cheap when thousands of devices
 * reconnect at once. User passwords, which are guessable, use argon2id instead.
 */
export function generateDeviceSecret(): string {
  return randomBytes(32).toString('base64url');
}

/** Stored form of a device secret: `sha256:<hex>`. */
export function hashDeviceSecret(secret: string): string {
  return `sha256:${createHash('sha256').update(secret, 'utf8').digest('hex')}`;
}

/** Constant-time check of a presented secret against its stored hash. */
export function verifyDeviceSecret(secret: string, storedHash: string): boolean {
  const expected = Buffer.from(storedHash, 'utf8');
  const actual = Buffer.from(hashDeviceSecret(secret), 'utf8');
  return expected.length === actual.length && timingSafeEqual(expected, actual);
}
