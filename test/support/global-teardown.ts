/** Stops, newest first, the servers global-setup.ts started; leaves servers named by the environment alone. */
export default async function globalTeardown(): Promise<void> {
  // The key global-setup.ts stores them under (no import: jest loads both files outside its module system).
  const started = ((globalThis as Record<symbol, unknown>)[Symbol.for('lantern.test.startedServers')] ?? []) as {
    stop(): Promise<void>;
  }[];
  for (const server of started.reverse()) await server.stop();
  started.length = 0;
}
