import { connect, createServer, type Socket } from 'node:net';

/** A TCP proxy in front of PostgreSQL that the chaos run cuts (every connection dropped, new ones refused) and restores. */
export interface ChaosProxy {
  /** `targetUrl` with its host and port replaced by the proxy's. */
  urlFor(targetUrl: string): string;
  cut(): void;
  restore(): void;
  close(): Promise<void>;
}

/**
 * Starts the proxy: the database "unreachable" fault without touching the server, which the harness
 * itself keeps using directly (seeding, verification).
 */
export async function startChaosProxy(targetHost: string, targetPort: number): Promise<ChaosProxy> {
  const open = new Set<Socket>();
  let up = true;
  const server = createServer((client) => {
    if (!up) {
      client.destroy();
      return;
    }
    const upstream = connect({ host: targetHost, port: targetPort });
    open.add(client).add(upstream);
    const drop = (): void => {
      client.destroy();
      upstream.destroy();
      open.delete(client);
      open.delete(upstream);
    };
    client.on('error', drop).on('close', drop);
    upstream.on('error', drop).on('close', drop);
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  const cut = (): void => {
    up = false;
    for (const s of open) s.destroy();
    open.clear();
  };
  return {
    urlFor(targetUrl) {
      const url = new URL(targetUrl);
      url.hostname = '127.0.0.1';
      url.port = String(port);
      return url.toString();
    },
    cut,
    restore: () => {
      up = true;
    },
    async close() {
      cut();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
