import { readFileSync } from 'node:fs';

/**
 * The TLS trust of Lantern's own broker connections: with MQTT_CA_FILE, its certificate(s) — a
 * private CA, or a broker's self-signed certificate itself — replace the system's CAs for mqtts://
 * and wss:// URLs (unused with mqtt://). Certificates are always verified: there is no switch that
 * turns verification off. Throws at start, naming the file, when it cannot be read.
 */
export function brokerTrust(caFile: string | undefined): { ca?: Buffer } {
  if (caFile === undefined) return {};
  try {
    return { ca: readFileSync(caFile) };
  } catch (error) {
    throw new Error(`MQTT_CA_FILE ${caFile} cannot be read (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
  }
}
