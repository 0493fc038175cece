import { afterAll, describe, expect, it } from '@jest/globals';
import { createHmac } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ADMIN_EMAIL, ADMIN_PASSWORD } from '../api/api-fixture.js';
import { startOutcome } from './security-fixture.js';

/**
 * Issue #14: JWT_SECRET needs 32 characters, but an empty DATA_DIR/jwt-secret was accepted — and
 * a zero-length HMAC key lets anyone mint admin tokens. Now a key file shorter than 32 characters
 * stops the start with a message saying what to do.
 */
const dirs: string[] = [];
function dataDir(key?: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'lantern-jwt-'));
  dirs.push(dir);
  if (key !== undefined) writeFileSync(join(dir, 'jwt-secret'), key, { mode: 0o600 });
  return dir;
}

/** `token`'s claims signed again with `key`: accepted only if `key` is the server's key — which anyone can then use. */
function resigned(token: string, key: string): string {
  const [header, payload] = token.split('.');
  const unsigned = `${header}.${payload}`;
  return `${unsigned}.${createHmac('sha256', key).update(unsigned).digest('base64url')}`;
}

afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

describe('the JWT key file', () => {
  it.each([
    ['empty', ''],
    ['whitespace only', ' \n'],
    ['31 characters', 'k'.repeat(31)],
  ])('is refused when %s: the api does not start', async (_what, key) => {
    const outcome = await startOutcome({ JWT_SECRET: '', DATA_DIR: dataDir(key) }, async (api) => {
      // What the old code allowed: the key in the file signs tokens the api accepts.
      const login = await api.http.post('/api/v1/auth/login').send({ email: ADMIN_EMAIL, password: ADMIN_PASSWORD });
      const token = (login.body as { accessToken: string }).accessToken;
      const me = await api.http.get('/api/v1/me').set('Authorization', `Bearer ${resigned(token, key.trim())}`);
      return `started, and a token signed with the file's key answered ${me.status}`;
    });
    expect(outcome).toMatch(/jwt-secret holds .*at least 32 are required/);
    expect(outcome).toMatch(/Delete the file to have a new key generated/);
  });

  it('is generated when missing (64 characters, mode 0600), and a key of 32 characters is accepted', async () => {
    const fresh = dataDir();
    expect(await startOutcome({ JWT_SECRET: '', DATA_DIR: fresh })).toBe('started');
    const path = join(fresh, 'jwt-secret');
    expect(readFileSync(path, 'utf8')).toMatch(/^[A-Za-z0-9_-]{64}$/);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(await startOutcome({ JWT_SECRET: '', DATA_DIR: dataDir('k'.repeat(32)) })).toBe('started');
  });
});
