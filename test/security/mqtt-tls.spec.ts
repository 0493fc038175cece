import { spawn } from 'node:child_process';
import { randomBytes, X509Certificate } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { networkInterfaces, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import mqtt from 'mqtt';
import pg from 'pg';
import selfsigned from 'selfsigned';
import { generateDeviceSecret, hashDeviceSecret } from '@lantern/auth';
import {
  findFreePort,
  GENERATED_CERT_PATH,
  GENERATED_KEY_PATH,
  resolveBrokerCertificate,
  startEmbeddedBroker,
} from '@lantern/embedded';
import { DeviceCredentialRepository } from '@lantern/storage';
import { DeviceClient } from '../../device-simulator/src/device-client.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { SUPERVISOR, startSupervisor, waitForBanner, type SupervisorRun } from '../support/supervisor.js';
import { waitFor } from '../support/wait.js';

// Issue 14, transport: npm start's embedded broker serves devices over TLS (a configured
// certificate, or a self-signed one generated into DATA_DIR and printed by fingerprint), plain MQTT
// on loopback only. Real processes: the built supervisor with its api and ingest, the built simulator.
const root = new URL('../../', import.meta.url).pathname;
const SIMULATOR = join(root, 'dist/device-simulator/device-simulator/src/main.js');

async function stop(run: SupervisorRun): Promise<void> {
  run.child.kill('SIGINT');
  expect(await run.exit).toBe(0);
}

/** The fingerprint the banner printed. */
function printedFingerprint(run: SupervisorRun): string | undefined {
  return /SHA-256 fingerprint ((?:[0-9A-F]{2}:){31}[0-9A-F]{2})/.exec(run.stdout)?.[1];
}

/** The outcome of one MQTT connection attempt: 'connected', or the error's code/message. */
async function tryConnect(url: string, options: mqtt.IClientOptions): Promise<string> {
  const client = mqtt.connect(url, { reconnectPeriod: 0, connectTimeout: 5000, protocolVersion: 4, ...options });
  try {
    return await new Promise<string>((resolve) => {
      client.once('connect', () => resolve('connected'));
      client.once('error', (error: Error & { code?: string | number }) => resolve(String(error.code ?? error.message)));
      client.once('close', () => resolve('closed'));
    });
  } finally {
    client.end(true);
  }
}

/** Whether a plain TCP connection to host:port is accepted. */
function accepts(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** A non-loopback IPv4 address of this machine, if it has one. */
function networkAddress(): string | undefined {
  return Object.values(networkInterfaces())
    .flat()
    .find((info) => info !== undefined && info.family === 'IPv4' && !info.internal)?.address;
}

describe('MQTT over TLS (npm start, embedded broker)', () => {
  let database: TestDatabase;
  const dirs: string[] = [];
  const runs: SupervisorRun[] = [];
  const topicRoot = `test-tls-${randomBytes(4).toString('hex')}/v1`;
  let device: { id: string; secret: string };

  const tempDir = (prefix: string) => {
    const dir = mkdtempSync(join(tmpdir(), prefix));
    dirs.push(dir);
    return dir;
  };

  async function env(dataDir: string, extra: Record<string, string | undefined> = {}) {
    return {
      DATABASE_URL: database.url,
      MQTT_URL: undefined,
      MQTT_PASSWORD: undefined,
      MQTT_CA_FILE: undefined,
      MQTT_TLS_CERT_FILE: undefined,
      MQTT_TLS_KEY_FILE: undefined,
      MQTT_TLS_HOSTNAMES: undefined,
      EMBEDDED_MQTT_HOST: undefined,
      EMBEDDED_MQTTS_HOST: undefined,
      PORT: String(await findFreePort()),
      INGEST_METRICS_PORT: String(await findFreePort()),
      EMBEDDED_MQTT_PORT: String(await findFreePort()),
      EMBEDDED_MQTTS_PORT: String(await findFreePort()),
      MQTT_TOPIC_ROOT: topicRoot,
      DATA_DIR: dataDir,
      JWT_SECRET: undefined,
      NODE_ENV: 'test',
      ...extra,
    };
  }

  beforeAll(async () => {
    for (const built of [SUPERVISOR, SIMULATOR])
      if (!existsSync(built)) throw new Error(`${built} is missing: run npm run build first`);
    database = await createTestDatabase({ poolSize: 2 });
    const secret = generateDeviceSecret();
    const rows = await database.dataSource.query<{ id: string }[]>(
      `WITH patient AS (INSERT INTO patients (display_name) VALUES ('TLS Test') RETURNING id)
       INSERT INTO devices (patient_id, type, secret_hash) SELECT id, 'pulse_oximeter', $1 FROM patient RETURNING id::text`,
      [hashDeviceSecret(secret)],
    );
    device = { id: rows[0].id, secret };
  });

  // A test that failed midway leaves its supervisor running: stop it, or the next start finds the
  // database's broker schema taken.
  afterEach(async () => {
    for (const run of runs) {
      if (run.child.exitCode !== null || run.child.signalCode !== null) continue;
      run.child.kill('SIGINT');
      const timer = setTimeout(() => run.child.kill('SIGKILL'), 20_000);
      await run.exit;
      clearTimeout(timer);
    }
  });

  afterAll(async () => {
    for (const run of runs) if (run.child.exitCode === null) run.child.kill('SIGKILL');
    await database?.drop();
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  const storedReadings = async (): Promise<number> =>
    (
      await database.dataSource.query<{ n: number }[]>(`SELECT count(*)::int AS n FROM readings WHERE device_id = $1`, [
        device.id,
      ])
    )[0].n;

  /** DATA_DIR of the first start, whose certificate the restart must reuse. */
  let firstDataDir = '';
  let firstFingerprint = '';

  it('generates a certificate into DATA_DIR on first start (key 0600) and prints its fingerprint; a device trusting it publishes over TLS and the reading is stored; one that does not is refused; plain MQTT is on loopback only', async () => {
    const dataDir = (firstDataDir = tempDir('lantern-tls-'));
    const settings = await env(dataDir);
    const run = startSupervisor(settings);
    runs.push(run);
    await waitForBanner(run, 90_000);

    const certFile = join(dataDir, GENERATED_CERT_PATH);
    expect(run.stdout).toContain(`Generated a self-signed certificate for the broker's TLS listener in ${certFile}`);
    expect(statSync(join(dataDir, GENERATED_KEY_PATH)).mode & 0o777).toBe(0o600);
    const cert = readFileSync(certFile);
    firstFingerprint = new X509Certificate(cert).fingerprint256;
    expect(printedFingerprint(run)).toBe(firstFingerprint);
    const tlsPort = Number(settings.EMBEDDED_MQTTS_PORT);
    const plainPort = Number(settings.EMBEDDED_MQTT_PORT);
    expect(run.stdout).toContain(`Broker     mqtts://localhost:${tlsPort} (embedded, TLS`);

    // A device as the simulator plays it (mqtt.js), trusting the generated certificate: the
    // publish resolves on its PUBACK, and the ingest (on plain loopback) stores the reading.
    const tlsUrl = `mqtts://localhost:${tlsPort}`;
    const client = new DeviceClient({
      deviceId: device.id,
      secret: device.secret,
      mqttUrl: tlsUrl,
      ca: cert,
      topicRoot,
    });
    await client.connect();
    await client.sendTelemetry({
      seq: 1,
      readings: [{ metric: 'spo2', value: 97, ts: new Date(Date.now() - 5000).toISOString() }],
    });
    await client.close();
    await waitFor(async () => (await storedReadings()) >= 1, 'the reading sent over TLS to be stored', 30_000);

    // The same device without trusting the certificate, or trusting another one: refused in the handshake.
    const login = { clientId: device.id, username: device.id, password: device.secret };
    expect(await tryConnect(tlsUrl, login)).toBe('DEPTH_ZERO_SELF_SIGNED_CERT');
    const stranger = await selfsigned.generate([{ name: 'commonName', value: 'localhost' }], { keyType: 'ec' });
    expect(await tryConnect(tlsUrl, { ...login, ca: stranger.cert })).toBe('DEPTH_ZERO_SELF_SIGNED_CERT');
    expect(await tryConnect(tlsUrl, { ...login, ca: cert })).toBe('connected');

    // Plain MQTT answers on loopback, and not on the machine's network address, where TLS does.
    expect(await accepts('127.0.0.1', plainPort)).toBe(true);
    const address = networkAddress();
    if (address !== undefined) {
      expect(await accepts(address, plainPort)).toBe(false);
      // The generated certificate names the machine's addresses: a device may connect by IP.
      expect(await tryConnect(`mqtts://${address}:${tlsPort}`, { ...login, ca: cert })).toBe('connected');
    }
    await stop(run);
  }, 150_000);

  it('reuses the kept certificate on restart (same fingerprint printed), and the simulator load mode publishes over mqtts with --ca', async () => {
    const dataDir = firstDataDir;
    const certFile = join(dataDir, GENERATED_CERT_PATH);
    const before = readFileSync(certFile, 'utf8');
    const settings = await env(dataDir);
    const run = startSupervisor(settings);
    runs.push(run);
    await waitForBanner(run, 90_000);
    expect(run.stdout).not.toContain('Generated a self-signed certificate');
    expect(printedFingerprint(run)).toBe(firstFingerprint);
    expect(readFileSync(certFile, 'utf8')).toBe(before);

    const devicesFile = join(tempDir('lantern-tls-sim-'), 'devices.json');
    writeFileSync(devicesFile, JSON.stringify([{ deviceId: device.id, secret: device.secret }]));
    const tlsUrl = `mqtts://localhost:${settings.EMBEDDED_MQTTS_PORT}`;
    const simulate = (extra: string[]) =>
      spawnAsync(process.execPath, [
        SIMULATOR,
        'load',
        '--devices-file',
        devicesFile,
        '--rate',
        '4',
        '--duration',
        '2',
        '--json',
        '--mqtt',
        tlsUrl,
        '--root',
        topicRoot,
        ...extra,
      ]);
    const storedBefore = await storedReadings();
    const trusted = await simulate(['--ca', certFile]);
    const final = finalLine(trusted.stdout);
    expect({ code: trusted.code, connectFailures: final?.connectFailures }).toEqual({ code: 0, connectFailures: 0 });
    expect(final?.acked).toBeGreaterThan(0);
    await waitFor(async () => (await storedReadings()) > storedBefore, "the simulator's readings to be stored", 30_000);
    // Without --ca the simulated device does not trust the broker: it never connects.
    const untrusted = await simulate([]);
    expect({ code: untrusted.code, connectFailures: finalLine(untrusted.stdout)?.connectFailures }).toEqual({
      code: 1,
      connectFailures: 1,
    });
    await stop(run);
  }, 150_000);

  it('uses a configured certificate and key (MQTT_TLS_CERT_FILE/KEY_FILE) instead of generating one', async () => {
    const dataDir = tempDir('lantern-tls-configured-');
    const files = tempDir('lantern-tls-files-');
    const pair = await selfsigned.generate([{ name: 'commonName', value: 'configured.lantern.test' }], {
      keyType: 'ec',
      algorithm: 'sha256',
      extensions: [{ name: 'subjectAltName', altNames: [{ type: 2, value: 'localhost' }] }],
    });
    const certFile = join(files, 'broker.crt');
    const keyFile = join(files, 'broker.key');
    writeFileSync(certFile, pair.cert);
    writeFileSync(keyFile, pair.private, { mode: 0o600 });
    const settings = await env(dataDir, { MQTT_TLS_CERT_FILE: certFile, MQTT_TLS_KEY_FILE: keyFile });
    const run = startSupervisor(settings);
    runs.push(run);
    await waitForBanner(run, 90_000);
    expect(run.stdout).not.toContain('Generated a self-signed certificate');
    expect(run.stdout).toContain(`certificate ${certFile} (MQTT_TLS_CERT_FILE)`);
    expect(printedFingerprint(run)).toBe(new X509Certificate(pair.cert).fingerprint256);
    expect(existsSync(join(dataDir, GENERATED_CERT_PATH))).toBe(false);

    const tlsUrl = `mqtts://localhost:${settings.EMBEDDED_MQTTS_PORT}`;
    const login = { clientId: device.id, username: device.id, password: device.secret };
    expect(await tryConnect(tlsUrl, { ...login, ca: pair.cert })).toBe('connected');
    // The certificate of the first start is not what this broker presents.
    expect(await tryConnect(tlsUrl, { ...login, ca: readFileSync(join(firstDataDir, GENERATED_CERT_PATH)) })).toBe(
      'DEPTH_ZERO_SELF_SIGNED_CERT',
    );
    await stop(run);

    // A configured file that is not there stops the start with one line (no fallback to a generated one).
    const missing = startSupervisor(
      await env(dataDir, { MQTT_TLS_CERT_FILE: join(files, 'absent.crt'), MQTT_TLS_KEY_FILE: keyFile }),
    );
    runs.push(missing);
    expect(await missing.exit).toBe(1);
    expect(missing.stderr).toMatch(
      /^MQTT_TLS_CERT_FILE or MQTT_TLS_KEY_FILE: ENOENT: no such file or directory, open '.*absent\.crt'\n$/,
    );
    expect(existsSync(join(dataDir, GENERATED_CERT_PATH))).toBe(false);
  }, 150_000);

  it("connects Lantern's own processes to an mqtts:// broker when MQTT_CA_FILE names its certificate, and not without it", async () => {
    // An external broker with a self-signed certificate: the embedded one, started here.
    const dataDir = tempDir('lantern-tls-external-');
    const certificate = await resolveBrokerCertificate({ dataDir: tempDir('lantern-tls-external-cert-') });
    const servicePassword = randomBytes(16).toString('hex');
    const pool = new pg.Pool({ connectionString: database.url, max: 2 });
    const broker = await startEmbeddedBroker({
      port: await findFreePort(),
      host: '127.0.0.1',
      tls: { port: await findFreePort(), host: '127.0.0.1', cert: certificate.cert, key: certificate.key },
      topicRoot,
      serviceUsername: 'lantern-service',
      servicePassword,
      devices: new DeviceCredentialRepository(pool),
    });
    try {
      const mqttUrl = `mqtts://localhost:${broker.tlsPort}`;
      const external = { MQTT_URL: mqttUrl, MQTT_PASSWORD: servicePassword };

      const untrusting = startSupervisor(await env(dataDir, external));
      runs.push(untrusting);
      await waitForBanner(untrusting, 90_000);
      await waitFor(
        () =>
          /\[ingest\].*Broker mqtts:\/\/localhost:\d+ not ready \(self-signed certificate\)/.test(
            untrusting.stdout + untrusting.stderr,
          ),
        () =>
          `the ingest to refuse the broker's certificate; output so far:\n${untrusting.stdout}\n${untrusting.stderr}`,
        30_000,
      );
      await stop(untrusting);

      const settings = await env(dataDir, { ...external, MQTT_CA_FILE: certificate.certFile });
      const trusting = startSupervisor(settings);
      runs.push(trusting);
      await waitForBanner(trusting, 90_000);
      // The api's broker connection and the ingest's, both over TLS.
      await waitFor(
        async () => {
          const response = await fetch(`http://127.0.0.1:${settings.PORT}/health`);
          const body = (await response.json()) as { broker?: string; ingest?: { status?: string } };
          return response.status === 200 && body.broker === 'up' && body.ingest?.status === 'up';
        },
        () => `/health to report the broker and the ingest up; output so far:\n${trusting.stdout}\n${trusting.stderr}`,
        60_000,
        200,
      );
      const before = await storedReadings();
      const client = new DeviceClient({
        deviceId: device.id,
        secret: device.secret,
        mqttUrl,
        ca: Buffer.from(certificate.cert),
        topicRoot,
      });
      await client.connect();
      await client.sendTelemetry({
        seq: 2,
        readings: [{ metric: 'heart_rate', value: 72, ts: new Date(Date.now() - 3000).toISOString() }],
      });
      await client.close();
      await waitFor(async () => (await storedReadings()) > before, 'the reading to be stored', 30_000);
      await stop(trusting);
    } finally {
      await broker.stop();
      await pool.end();
    }
  }, 150_000);
});

/** Runs a process to its end without blocking the event loop (the supervisor's output keeps flowing). */
function spawnAsync(command: string, args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.once('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

/** The load mode's closing JSON line. */
function finalLine(stdout: string): { acked: number; connectFailures: number } | undefined {
  const line = stdout.split('\n').find((l) => l.startsWith('{"type":"final"'));
  return line ? (JSON.parse(line) as { acked: number; connectFailures: number }) : undefined;
}
