import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { MqttClient } from 'mqtt';

/**
 * What one harness run (fuzz, chaos) holds and must give back: a work folder, the MQTT clients it
 * opened, the processes it started and the servers it created. `close` ends them in that order
 * (clients, then processes, then the cleanups newest first), so a run's `finally` is one call.
 */
export class RunScope {
  /** The run's own folder under the system's temporary folder, removed by `close`. */
  readonly work: string;
  private readonly clients: MqttClient[] = [];
  private readonly stops: (() => Promise<void>)[] = [];
  private readonly cleanups: (() => Promise<void>)[] = [];

  constructor(
    prefix: string,
    private readonly log: (line: string) => void,
  ) {
    this.work = mkdtempSync(join(tmpdir(), prefix));
  }

  /** Ends `client` (forcibly) on close. */
  client(client: MqttClient): MqttClient {
    this.clients.push(client);
    return client;
  }

  /** Stops a process on close, after the clients; its failure is ignored. */
  process(stop: () => Promise<void>): void {
    this.stops.push(stop);
  }

  /** Runs `cleanup` on close, after the processes, newest first; a failure is logged. */
  defer(cleanup: () => Promise<void>): void {
    this.cleanups.push(cleanup);
  }

  async close(): Promise<void> {
    await Promise.all(this.clients.map((c) => c.endAsync(true).catch(() => undefined)));
    await Promise.all(this.stops.map((stop) => stop().catch(() => undefined)));
    for (const cleanup of this.cleanups.reverse())
      await cleanup().catch((e: unknown) => this.log(`cleanup: ${String(e)}`));
    rmSync(this.work, { recursive: true, force: true });
  }
}

/** A topic root no other run shares, e.g. `fuzz-m3k2x1-a1b2c3/v1`. */
export function runTopicRoot(harness: string): string {
  return `${harness}-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}/v1`;
}
