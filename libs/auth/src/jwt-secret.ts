import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * The key that signs access tokens: JWT_SECRET when set, otherwise one generated on first use and
 * kept in DATA_DIR (mode 0600), so tokens survive restarts and every process on the machine agrees.
 */
export function resolveJwtSecret(config: { readonly jwtSecret?: string; readonly dataDir: string }): string {
  if (config.jwtSecret !== undefined) return config.jwtSecret;
  const path = join(config.dataDir, 'jwt-secret');
  try {
    return readFileSync(path, 'utf8').trim();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  mkdirSync(config.dataDir, { recursive: true });
  try {
    // 'wx': when two processes race on first start, the loser reads the winner's key.
    writeFileSync(path, randomBytes(48).toString('base64url'), { mode: 0o600, flag: 'wx' });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  }
  return readFileSync(path, 'utf8').trim();
}
