import { afterEach, describe, expect, it } from '@jest/globals';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import webpush from 'web-push';
import { loadConfig } from '@lantern/config';
import { resolveVapidKeys } from './vapid-keys.js';

describe('VAPID keys', () => {
  const dirs: string[] = [];
  const dataDir = (): string => {
    const dir = mkdtempSync(join(tmpdir(), 'lantern-vapid-'));
    dirs.push(dir);
    return dir;
  };
  afterEach(() => dirs.splice(0).forEach((dir) => rmSync(dir, { recursive: true, force: true })));

  it('generates a pair once into DATA_DIR/vapid.json (mode 0600) and keeps it across starts', () => {
    const dir = dataDir();
    const config = loadConfig({ DATA_DIR: dir, ADMIN_EMAIL: 'ops@clinic.test' });
    const first = resolveVapidKeys(config);
    expect(first.subject).toBe('mailto:ops@clinic.test');
    expect(Buffer.from(first.publicKey, 'base64url')).toHaveLength(65);
    expect(statSync(join(dir, 'vapid.json')).mode & 0o777).toBe(0o600);
    expect(resolveVapidKeys(config)).toEqual(first);
    expect(JSON.parse(readFileSync(join(dir, 'vapid.json'), 'utf8'))).toEqual({
      publicKey: first.publicKey,
      privateKey: first.privateKey,
    });
  });

  it('uses the configured pair and subject, and writes nothing', () => {
    const dir = dataDir();
    const pair = webpush.generateVAPIDKeys();
    const config = loadConfig({
      DATA_DIR: dir,
      VAPID_PUBLIC_KEY: pair.publicKey,
      VAPID_PRIVATE_KEY: pair.privateKey,
      VAPID_SUBJECT: 'https://clinic.example.org/contact',
    });
    expect(resolveVapidKeys(config)).toEqual({ ...pair, subject: 'https://clinic.example.org/contact' });
    expect(() => statSync(join(dir, 'vapid.json'))).toThrow();
  });

  it('refuses a kept file that is not a matching pair, saying how to recover', () => {
    const dir = dataDir();
    writeFileSync(
      join(dir, 'vapid.json'),
      JSON.stringify({
        publicKey: webpush.generateVAPIDKeys().publicKey,
        privateKey: webpush.generateVAPIDKeys().privateKey,
      }),
    );
    expect(() => resolveVapidKeys(loadConfig({ DATA_DIR: dir }))).toThrow(/does not hold a VAPID key pair.*delete it/);
  });

  it('refuses, with the other problems, half a pair, a mismatched pair, bad keys and a bad subject', () => {
    const [a, b] = [webpush.generateVAPIDKeys(), webpush.generateVAPIDKeys()];
    expect(() => loadConfig({ VAPID_PUBLIC_KEY: a.publicKey })).toThrow(
      /VAPID_PUBLIC_KEY and VAPID_PRIVATE_KEY must be set together/,
    );
    expect(() => loadConfig({ VAPID_PUBLIC_KEY: a.publicKey, VAPID_PRIVATE_KEY: b.privateKey })).toThrow(
      /VAPID_PUBLIC_KEY is not the public key of VAPID_PRIVATE_KEY/,
    );
    let problems: string[] = [];
    try {
      loadConfig({ VAPID_PUBLIC_KEY: 'short', VAPID_PRIVATE_KEY: a.privateKey, VAPID_SUBJECT: 'http://x.test' });
    } catch (error) {
      problems = (error as { problems: string[] }).problems;
    }
    expect(problems).toEqual([
      'VAPID_PUBLIC_KEY must be an uncompressed P-256 public key: 65 bytes in unpadded base64url',
      "VAPID_SUBJECT must use mailto:// or https://, got 'http://'",
    ]);
  });
});
