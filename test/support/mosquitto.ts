import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { findFreePort } from '@lantern/embedded';
import { startMosquitto as startMosquittoProcess } from '../../bench/src/infra/mosquitto.js';

export interface MosquittoServer {
  readonly port: number;
  readonly url: string;
  stop(): Promise<void>;
}

/**
 * Starts Debian's mosquitto on a free port with the shipped docker/mosquitto.conf limits, for tests
 * that need their own broker (no-loss under load, a broker nobody else's test touches): anonymous,
 * persistence off. `defaults: true` starts it with Mosquitto's own (lossy) defaults instead.
 */
export async function startMosquitto(options: { defaults?: boolean } = {}): Promise<MosquittoServer> {
  const port = await findFreePort();
  const dir = mkdtempSync(join(tmpdir(), 'lantern-mosquitto-'));
  const shipped = fileURLToPath(new URL('../../docker/mosquitto.conf', import.meta.url));
  try {
    const proc = await startMosquittoProcess(join(dir, 'mosquitto.conf'), {
      port,
      ...(options.defaults ? {} : { shippedConf: shipped }),
    });
    return {
      port,
      url: `mqtt://127.0.0.1:${port}`,
      async stop() {
        await proc.stop();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
}
