import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { resolveBrokerCertificate } from '@lantern/embedded';
import { startMosquitto } from './mosquitto.js';
import { freePort, type BenchProcess } from './processes.js';

export interface BenchBroker {
  /** Plain MQTT on loopback: Lantern's own processes, as under npm start. */
  url: string;
  /** Where the simulated devices connect: `url`, or with `tls` the TLS listener and the certificate to trust. */
  devices: { url: string; caFile?: string };
  process: BenchProcess;
  /** The configuration file it runs on: starting mosquitto on it again gives the same ports and persistence. */
  conf: string;
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
  const shipped = join(rootDir, 'docker/mosquitto.conf');
  if (!existsSync(shipped)) throw new Error(`${shipped} is missing (the ingest's broker configuration)`);
  const port = await freePort();
  const dir = join(workDir, 'mosquitto');
  mkdirSync(dir, { recursive: true });
  // Devices over TLS, as in production: a self-signed certificate made by the embedded broker's own
  // code (for localhost), on a second listener.
  const tlsPort = options.tls ? await freePort() : undefined;
  const certificate = options.tls ? await resolveBrokerCertificate({ dataDir: dir }) : undefined;
  const conf = join(dir, 'mosquitto.conf');
  const proc = await startMosquitto(conf, {
    port,
    shippedConf: shipped,
    // The process's file limit, not Mosquitto, decides how many devices can connect.
    maxConnections: -1,
    persistence: { dir, autosaveIntervalSec: 30 },
    ...(certificate && tlsPort !== undefined
      ? { tls: { port: tlsPort, certFile: certificate.certFile, keyFile: certificate.keyFile } }
      : {}),
  });
  return {
    url: `mqtt://127.0.0.1:${port}`,
    devices: certificate
      ? { url: `mqtts://localhost:${tlsPort}`, caFile: certificate.certFile }
      : { url: `mqtt://127.0.0.1:${port}` },
    process: proc,
    conf,
    async stop() {
      await proc.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
