import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { resolveBrokerCertificate } from '@lantern/embedded';
import { freePort, startProcess, waitUntil, type BenchProcess } from './processes.js';

/** The no-loss settings of docker/mosquitto.conf; listener, persistence and auth are the bench's own. */
const KEPT =
  /^(max_queued_messages|max_queued_bytes|max_inflight_messages|max_inflight_bytes|max_packet_size|upgrade_outgoing_qos|queue_qos0_messages|set_tcp_nodelay|retain_available)\s/;

export interface BenchBroker {
  /** Plain MQTT on loopback: Lantern's own processes, as under npm start. */
  url: string;
  /** Where the simulated devices connect: `url`, or with `tls` the TLS listener and the certificate to trust. */
  devices: { url: string; caFile?: string };
  process: BenchProcess;
  stop(): Promise<void>;
}

/**
 * Starts a real Mosquitto on a free port configured like the shipped docker/mosquitto.conf (the lines
 * that keep QoS 1 from being dropped), persistence on, anonymous access (device credentials are
 * Lantern's concern; the broker's auth plugin is not what this measures).
 */
export async function startBroker(
  rootDir: string,
  workDir: string,
  options: { tls?: boolean } = {},
): Promise<BenchBroker> {
  const binary = ['/usr/sbin/mosquitto', '/usr/bin/mosquitto', '/usr/local/sbin/mosquitto'].find((p) => existsSync(p));
  if (!binary) throw new Error('mosquitto is not installed (apt-get install mosquitto)');
  const shipped = join(rootDir, 'docker/mosquitto.conf');
  if (!existsSync(shipped)) throw new Error(`${shipped} is missing (the ingest's broker configuration)`);
  const kept = readFileSync(shipped, 'utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => KEPT.test(l));
  const port = await freePort();
  const dir = join(workDir, 'mosquitto');
  mkdirSync(dir, { recursive: true });
  const conf = join(dir, 'mosquitto.conf');
  // Devices over TLS, as in production: a self-signed certificate made by the embedded broker's own
  // code (for localhost), on a second listener.
  const tlsPort = options.tls ? await freePort() : undefined;
  const certificate = options.tls ? await resolveBrokerCertificate({ dataDir: dir }) : undefined;
  // 'max_connections -1' and the process's file limit decide how many devices can connect.
  writeFileSync(
    conf,
    [
      ...kept,
      `listener ${port} 127.0.0.1`,
      'max_connections -1',
      'allow_anonymous true',
      'persistence true',
      `persistence_location ${dir}/`,
      // Started as root, Mosquitto drops to the user 'mosquitto', which cannot write into this
      // root-owned folder: its persistence would fail ("Permission denied") and a restart would
      // silently lose every session. Keep root here (a bench's broker, on loopback).
      ...(process.getuid?.() === 0 ? ['user root'] : []),
      'autosave_interval 30',
      // Per-listener settings follow their listener line; the plain one above has none.
      ...(certificate
        ? [`listener ${tlsPort} 127.0.0.1`, `certfile ${certificate.certFile}`, `keyfile ${certificate.keyFile}`]
        : []),
      'log_dest stderr',
      'log_type error',
      '',
    ].join('\n'),
  );
  const proc = startProcess('mosquitto', binary, ['-c', conf], {});
  await waitUntil('mosquitto to listen', () => canConnect(port), 5000, proc);
  if (tlsPort !== undefined) await waitUntil('mosquitto to listen on TLS', () => canConnect(tlsPort), 5000, proc);
  return {
    url: `mqtt://127.0.0.1:${port}`,
    devices: certificate
      ? { url: `mqtts://localhost:${tlsPort}`, caFile: certificate.certFile }
      : { url: `mqtt://127.0.0.1:${port}` },
    process: proc,
    async stop() {
      await proc.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ port, host: '127.0.0.1' });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}
