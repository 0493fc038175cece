import { createServer, connect, type Server, type Socket } from 'node:net';

export interface TcpProxy {
  readonly port: number;
  /** Connection string of the target with host/port replaced by the proxy's. */
  urlFor(targetUrl: string): string;
  /** Cuts every open connection and refuses new ones (as if the server vanished). */
  cut(): void;
  /** Accepts connections again. */
  restore(): void;
  /**
   * Stops passing bytes in either direction while every connection stays open: a network path that
   * silently stopped delivering (until the peers' keepalive notices).
   */
  freeze(): void;
  /** Passes bytes again (those held meanwhile are delivered). */
  thaw(): void;
  readonly connections: number;
  close(): Promise<void>;
}

/**
 * A TCP proxy the test or the chaos harness controls, to take a server away from the code under
 * test (and give it back) without touching the server itself. Here rather than in test/support so
 * that the bench build, which compiles bench/ and libs/ only, can use it too.
 */
export async function startTcpProxy(targetHost: string, targetPort: number): Promise<TcpProxy> {
  const open = new Set<Socket>();
  const pairs = new Set<[Socket, Socket]>();
  let up = true;
  let frozen = false;
  const server: Server = createServer((client) => {
    if (!up) {
      client.destroy();
      return;
    }
    const upstream = connect({ host: targetHost, port: targetPort });
    open.add(client);
    open.add(upstream);
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
    if (frozen) {
      client.unpipe(upstream);
      upstream.unpipe(client);
      client.pause();
      upstream.pause();
    }
    const pair: [Socket, Socket] = [client, upstream];
    pairs.add(pair);
    client.once('close', () => pairs.delete(pair));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  const cut = (): void => {
    up = false;
    for (const s of open) s.destroy();
    open.clear();
  };
  return {
    port,
    urlFor(targetUrl) {
      const url = new URL(targetUrl);
      url.hostname = '127.0.0.1';
      url.port = String(port);
      return url.toString();
    },
    cut,
    restore() {
      up = true;
    },
    freeze() {
      frozen = true;
      for (const [a, b] of pairs) {
        a.unpipe(b);
        b.unpipe(a);
        a.pause();
        b.pause();
      }
    },
    thaw() {
      frozen = false;
      for (const [a, b] of pairs) {
        a.pipe(b);
        b.pipe(a);
      }
    },
    get connections() {
      return open.size / 2;
    },
    async close() {
      cut();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
