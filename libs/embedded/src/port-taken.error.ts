import { createServer } from 'node:net';

/** Which server could not bind, with the settings an operator can change about it. */
const HINTS = {
  mqtt: 'set EMBEDDED_MQTT_PORT to a free port, or MQTT_URL to use an existing broker',
  mqtts:
    "set EMBEDDED_MQTTS_PORT to a free port for the embedded broker's TLS listener, or MQTT_URL to use an existing broker",
  postgres: 'set EMBEDDED_POSTGRES_PORT to a free port, or DATABASE_URL to use an existing database',
  api: 'set PORT to a free port for the api (REST, Socket.IO, dashboard)',
  metrics: "set INGEST_METRICS_PORT to a free port (or 0 for any) for the ingest's /metrics",
} as const;

export type EmbeddedServerKind = keyof typeof HINTS;

/**
 * A port Lantern needs is in use. Its message is the whole story in one line (the
 * supervisor prints it without a stack trace): the port and the variables that avoid the clash.
 */
export class PortTakenError extends Error {
  constructor(
    readonly port: number,
    readonly server: EmbeddedServerKind,
  ) {
    super(`Port ${port} is taken: ${HINTS[server]}`);
    this.name = 'PortTakenError';
  }
}

/** Resolves true when `port` can be bound on `host` right now (a probe, closed at once). */
export function isPortFree(port: number, host?: string): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'EADDRINUSE' || error.code === 'EACCES') resolve(false);
      else reject(error);
    });
    probe.listen({ port, host, exclusive: true }, () => probe.close(() => resolve(true)));
  });
}

/** A port the OS considers free at this moment, for tests and throwaway servers. */
export function findFreePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen({ port: 0, host, exclusive: true }, () => {
      const address = probe.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      probe.close(() => resolve(port));
    });
  });
}
