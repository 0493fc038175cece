import { createServer } from 'node:net';

/**
 * True when `port` can be bound right now, on every interface as the servers the demo starts will
 * bind it (a probe, closed at once). The demo's own rather than libs/embedded's: the simulator talks
 * to Lantern only through its contract and libs/domain, and libs/embedded pulls in storage and auth.
 */
export function isPortFree(port: number): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'EADDRINUSE' || error.code === 'EACCES') resolve(false);
      else reject(error);
    });
    probe.listen({ port, exclusive: true }, () => probe.close(() => resolve(true)));
  });
}
