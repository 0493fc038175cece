import { createPrivateKey, randomBytes, X509Certificate } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { hostname, networkInterfaces } from 'node:os';
import { join } from 'node:path';
import selfsigned from 'selfsigned';

/** The TLS certificate the embedded broker presents, and where it came from. */
export interface BrokerCertificate {
  /** PEM: the certificate (and, for a configured one, its chain). */
  readonly cert: string;
  /** PEM private key. Never logged. */
  readonly key: string;
  readonly certFile: string;
  readonly keyFile: string;
  /** `configured`: MQTT_TLS_CERT_FILE/KEY_FILE; `generated` on this start; `reused` from DATA_DIR. */
  readonly source: 'configured' | 'generated' | 'reused';
  /** SHA-256 of the (first) certificate's DER, `AB:CD:…`: what a device pins. */
  readonly fingerprint256: string;
  readonly validTo: Date;
  /** The names and addresses the certificate is valid for. */
  readonly subjectAltNames: readonly string[];
  /** Generated in place of a kept one: why (devices that pinned the old one must pin this one). */
  readonly replaced?: string;
}

export interface BrokerCertificateOptions {
  /** A configured certificate (PEM, chain allowed) and key; both or neither. Takes precedence. */
  readonly certFile?: string;
  readonly keyFile?: string;
  /** Where a self-signed certificate is generated on first start and kept (`DATA_DIR`). */
  readonly dataDir: string;
  /** Names or addresses devices use to reach the broker, beyond localhost, loopback and the host name. */
  readonly extraHostnames?: readonly string[];
  /** Generation only: how long a new self-signed certificate is valid. Default 10 years. */
  readonly validityDays?: number;
  readonly now?: () => Date;
}

/** Self-signed certificate files in DATA_DIR (the key at mode 0600). */
export const GENERATED_CERT_PATH = join('mqtt-tls', 'broker.crt');
export const GENERATED_KEY_PATH = join('mqtt-tls', 'broker.key');

const DEFAULT_VALIDITY_DAYS = 3650;
/** A generated certificate this close to its end is replaced at start (devices then pin the new one). */
const RENEW_BEFORE_MS = 30 * 86_400_000;

/**
 * The embedded broker's TLS certificate: the configured pair when given; otherwise the self-signed
 * one kept in `DATA_DIR/mqtt-tls/`, generated on first start. The generated one is reused as long as
 * it is valid and names every `extraHostnames` entry — its fingerprint is what devices pin, so it
 * changes only when it must (then `source` is `generated` again and the caller says so).
 */
export async function resolveBrokerCertificate(options: BrokerCertificateOptions): Promise<BrokerCertificate> {
  const now = options.now?.() ?? new Date();
  if (options.certFile !== undefined || options.keyFile !== undefined) {
    if (options.certFile === undefined || options.keyFile === undefined)
      throw new InvalidCertificateError('MQTT_TLS_CERT_FILE and MQTT_TLS_KEY_FILE must be set together');
    try {
      return load(options.certFile, options.keyFile, 'configured');
    } catch (error) {
      if (error instanceof InvalidCertificateError) throw error;
      throw new InvalidCertificateError(`MQTT_TLS_CERT_FILE or MQTT_TLS_KEY_FILE: ${(error as Error).message}`);
    }
  }
  const certFile = join(options.dataDir, GENERATED_CERT_PATH);
  const keyFile = join(options.dataDir, GENERATED_KEY_PATH);
  const wanted = requiredNames(options.extraHostnames ?? []);
  const existing = readGenerated(certFile, keyFile);
  let replaced: string | undefined;
  if (existing) {
    const missing = wanted.filter((name) => !existing.subjectAltNames.includes(name));
    if (existing.validTo.getTime() - now.getTime() <= RENEW_BEFORE_MS)
      replaced = `the previous one expires on ${existing.validTo.toISOString().slice(0, 10)}`;
    else if (missing.length > 0) replaced = `the previous one did not name ${missing.join(', ')}`;
    else return existing;
  }
  await generate(certFile, keyFile, [...new Set([...wanted, ...machineNames()])], options, now);
  return { ...load(certFile, keyFile, 'generated'), ...(replaced !== undefined && { replaced }) };
}

/** A certificate or key file that cannot be used as it is (an operator's error: one line says which). */
export class InvalidCertificateError extends Error {
  override readonly name = 'InvalidCertificateError';
}

function readGenerated(certFile: string, keyFile: string): BrokerCertificate | undefined {
  try {
    return load(certFile, keyFile, 'reused');
  } catch (error) {
    // Missing, or a torn pair left by a crash mid-generation: Lantern's own files, made again.
    if ((error as NodeJS.ErrnoException).code === 'ENOENT' || error instanceof InvalidCertificateError)
      return undefined;
    throw error;
  }
}

function load(certFile: string, keyFile: string, source: BrokerCertificate['source']): BrokerCertificate {
  const cert = readFileSync(certFile, 'utf8');
  const key = readFileSync(keyFile, 'utf8');
  let leaf: X509Certificate;
  try {
    leaf = new X509Certificate(cert);
  } catch {
    throw new InvalidCertificateError(`${certFile} holds no PEM certificate`);
  }
  let matches: boolean;
  try {
    matches = leaf.checkPrivateKey(createPrivateKey(key));
  } catch {
    throw new InvalidCertificateError(`${keyFile} holds no PEM private key`);
  }
  if (!matches)
    throw new InvalidCertificateError(`${keyFile} is not the private key of the certificate in ${certFile}`);
  return {
    cert,
    key,
    certFile,
    keyFile,
    source,
    fingerprint256: leaf.fingerprint256,
    validTo: new Date(leaf.validTo),
    subjectAltNames: parseAltNames(leaf.subjectAltName),
  };
}

/** `DNS:localhost, IP Address:127.0.0.1` → `['localhost', '127.0.0.1']` (IPv6 as Node prints it). */
function parseAltNames(text: string | undefined): string[] {
  if (!text) return [];
  return text.split(', ').map((entry) => canonicalName(entry.replace(/^(DNS|IP Address):/, '')));
}

/** What every certificate must name: loopback for Lantern's own tools, and what the operator listed. */
function requiredNames(extra: readonly string[]): string[] {
  return [...new Set(['localhost', '127.0.0.1', ...extra.map(canonicalName)])];
}

/**
 * The machine's host name and network addresses at generation: how devices on the network are
 * likely to reach it. Not required of a reused certificate (an address may change; a device that
 * pins the fingerprint does not check names, one that checks them should use MQTT_TLS_HOSTNAMES).
 */
function machineNames(): string[] {
  const addresses = Object.values(networkInterfaces())
    .flat()
    .filter((info) => info !== undefined && !info.internal && !info.address.startsWith('fe80:'))
    .map((info) => info!.address);
  return [hostname(), '::1', ...addresses].filter((name) => name !== '').map(canonicalName);
}

/** A host name in lower case; an IP address as Node prints it in subjectAltName (IPv6 fully expanded). */
function canonicalName(name: string): string {
  const kind = isIP(name);
  if (kind === 0) return name.toLowerCase();
  if (kind === 4) return name;
  const normalised = new URL(`http://[${name}]/`).hostname.slice(1, -1);
  const [head, tail] = normalised.split('::');
  const left = head === '' ? [] : head.split(':');
  const right = tail === undefined || tail === '' ? [] : tail.split(':');
  const zeros = tail === undefined ? [] : Array<string>(8 - left.length - right.length).fill('0');
  return [...left, ...zeros, ...right].map((group) => group.replace(/^0+(?=.)/, '')).join(':');
}

async function generate(
  certFile: string,
  keyFile: string,
  names: readonly string[],
  options: BrokerCertificateOptions,
  now: Date,
): Promise<void> {
  const validityDays = options.validityDays ?? DEFAULT_VALIDITY_DAYS;
  const pems = await selfsigned.generate([{ name: 'commonName', value: 'Lantern MQTT broker' }], {
    // P-256: small and fast handshakes on device hardware; every TLS 1.2/1.3 stack supports it.
    keyType: 'ec',
    curve: 'P-256',
    algorithm: 'sha256',
    notBeforeDate: new Date(now.getTime() - 60_000),
    notAfterDate: new Date(now.getTime() + validityDays * 86_400_000),
    extensions: [
      // A server certificate that devices trust directly (pinned, or given as their CA file).
      { name: 'basicConstraints', cA: false, critical: true },
      { name: 'keyUsage', digitalSignature: true, critical: true },
      { name: 'extKeyUsage', serverAuth: true },
      {
        name: 'subjectAltName',
        altNames: names.map((name) =>
          isIP(name) ? { type: 7 as const, ip: name } : { type: 2 as const, value: name },
        ),
      },
    ],
  });
  const dir = join(certFile, '..');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  // Each file written whole under a temporary name and renamed into place: a crash leaves no torn
  // file, at worst a new key beside the old certificate, which does not match and is regenerated.
  replaceFile(keyFile, pems.private, 0o600);
  replaceFile(certFile, pems.cert, 0o644);
}

function replaceFile(path: string, content: string, mode: number): void {
  const temporary = `${path}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  writeFileSync(temporary, content, { mode, flag: 'wx' });
  // writeFileSync's mode passes through the umask: set it exactly.
  chmodSync(temporary, mode);
  renameSync(temporary, path);
}
