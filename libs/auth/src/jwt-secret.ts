import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { keptSecretFile } from './secret-file.js';

/** The shortest signing key accepted, from JWT_SECRET or the file: HS256 wants at least 256 bits. */
export const MIN_JWT_SECRET_LENGTH = 32;

/** A signing key that is missing, empty or too short: the process must not start with it. */
export class WeakJwtSecretError extends Error {
  constructor(path: string, length: number) {
    super(
      `${path} holds ${length === 0 ? 'no key' : `a key of ${length} characters`}; at least ${MIN_JWT_SECRET_LENGTH} are required ` +
        '(anyone could sign access tokens with a short or empty key). Delete the file to have a new key generated ' +
        '(signs everyone out), write a longer one into it, or set JWT_SECRET.',
    );
    this.name = 'WeakJwtSecretError';
  }
}

/**
 * The key that signs access tokens: JWT_SECRET when set (the config requires ≥ 32 characters),
 * otherwise one generated on first use and kept in DATA_DIR (mode 0600), so tokens survive restarts
 * and every process on the machine agrees. A key file that is empty or shorter than 32 characters
 * is refused with {@link WeakJwtSecretError}: a zero-length HMAC key lets anyone mint admin tokens.
 */
export function resolveJwtSecret(config: { readonly jwtSecret?: string; readonly dataDir: string }): string {
  if (config.jwtSecret !== undefined) return config.jwtSecret;
  const path = join(config.dataDir, 'jwt-secret');
  return keptSecretFile(
    path,
    () => randomBytes(48).toString('base64url'),
    (text) => {
      const key = text.trim();
      if (key.length < MIN_JWT_SECRET_LENGTH) throw new WeakJwtSecretError(path, key.length);
      return key;
    },
  );
}
