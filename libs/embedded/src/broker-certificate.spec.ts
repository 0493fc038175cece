import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from '@jest/globals';
import {
  GENERATED_CERT_PATH,
  GENERATED_KEY_PATH,
  InvalidCertificateError,
  resolveBrokerCertificate,
} from './broker-certificate.js';

describe('resolveBrokerCertificate', () => {
  const dirs: string[] = [];
  const tempDir = () => {
    const dir = mkdtempSync(join(tmpdir(), 'lantern-cert-'));
    dirs.push(dir);
    return dir;
  };
  afterEach(() => {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  it('generates a self-signed server certificate into DATA_DIR once (key 0600), then reuses it', async () => {
    const dataDir = tempDir();
    const first = await resolveBrokerCertificate({ dataDir, extraHostnames: ['Broker.Example.org', '192.0.2.7'] });
    expect(first.source).toBe('generated');
    expect(first.replaced).toBeUndefined();
    expect(first.certFile).toBe(join(dataDir, GENERATED_CERT_PATH));
    expect(statSync(join(dataDir, GENERATED_KEY_PATH)).mode & 0o777).toBe(0o600);
    const cert = new X509Certificate(readFileSync(first.certFile));
    expect(cert.fingerprint256).toBe(first.fingerprint256);
    expect(cert.ca).toBe(false);
    expect(cert.checkHost('localhost')).toBe('localhost');
    expect(cert.checkIP('127.0.0.1')).toBe('127.0.0.1');
    expect(cert.checkHost('broker.example.org')).toBe('broker.example.org');
    expect(cert.checkIP('192.0.2.7')).toBe('192.0.2.7');
    expect(first.validTo.getTime()).toBeGreaterThan(Date.now() + 9 * 365 * 86_400_000);

    const again = await resolveBrokerCertificate({ dataDir, extraHostnames: ['192.0.2.7'] });
    expect(again.source).toBe('reused');
    expect(again.fingerprint256).toBe(first.fingerprint256);
    expect(again.cert).toBe(first.cert);
  });

  it('replaces the generated certificate when a listed host name is missing from it, or it is about to expire', async () => {
    const dataDir = tempDir();
    const first = await resolveBrokerCertificate({ dataDir });
    const named = await resolveBrokerCertificate({ dataDir, extraHostnames: ['fd00::5'] });
    expect(named.source).toBe('generated');
    expect(named.replaced).toBe('the previous one did not name fd00:0:0:0:0:0:0:5');
    expect(named.fingerprint256).not.toBe(first.fingerprint256);
    expect(new X509Certificate(named.cert).checkIP('fd00::5')).toBe('fd00::5');

    const later = new Date(named.validTo.getTime() - 10 * 86_400_000);
    const renewed = await resolveBrokerCertificate({ dataDir, extraHostnames: ['fd00::5'], now: () => later });
    expect(renewed.source).toBe('generated');
    expect(renewed.replaced).toMatch(/^the previous one expires on \d{4}-\d\d-\d\d$/);
  });

  it('uses a configured pair instead, and refuses a key that is not the certificate’s', async () => {
    const dataDir = tempDir();
    const other = tempDir();
    const a = await resolveBrokerCertificate({ dataDir: other });
    const configured = await resolveBrokerCertificate({
      dataDir,
      certFile: a.certFile,
      keyFile: join(other, GENERATED_KEY_PATH),
    });
    expect(configured.source).toBe('configured');
    expect(configured.fingerprint256).toBe(a.fingerprint256);
    expect(() => statSync(join(dataDir, GENERATED_CERT_PATH))).toThrow(/ENOENT/);

    const b = await resolveBrokerCertificate({ dataDir: tempDir() });
    await expect(
      resolveBrokerCertificate({ dataDir, certFile: a.certFile, keyFile: join(b.certFile, '../broker.key') }),
    ).rejects.toThrow(InvalidCertificateError);
    await expect(resolveBrokerCertificate({ dataDir, certFile: a.certFile })).rejects.toThrow(
      'MQTT_TLS_CERT_FILE and MQTT_TLS_KEY_FILE must be set together',
    );
  });

  it('makes a new pair when the kept one is torn (a crash between writing the key and the certificate)', async () => {
    const dataDir = tempDir();
    const first = await resolveBrokerCertificate({ dataDir });
    writeFileSync(join(dataDir, GENERATED_CERT_PATH), 'not a certificate');
    const again = await resolveBrokerCertificate({ dataDir });
    expect(again.source).toBe('generated');
    expect(again.fingerprint256).not.toBe(first.fingerprint256);
  });
});
