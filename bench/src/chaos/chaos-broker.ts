import pg from 'pg';
import {
  AedesPostgresPersistence,
  findFreePort,
  startEmbeddedBroker,
  type RunningEmbeddedBroker,
} from '@lantern/embedded';
import { DeviceCredentialRepository } from '@lantern/storage';
import { startBroker } from '../infra/broker.js';
import { launchMosquitto } from '../infra/mosquitto.js';
import type { BenchProcess } from '../infra/processes.js';

export type ChaosBrokerKind = 'mosquitto' | 'embedded';

/** The run's broker, which the "broker-restart" fault stops and starts again on the same port. */
export interface ChaosBroker {
  readonly kind: ChaosBrokerKind;
  readonly url: string;
  /** Orderly stop (Mosquitto saves its persistence file; aedes writes its PostgreSQL state). */
  down(): Promise<void>;
  /** Starts it again on the same port with the same persistence. */
  up(): Promise<void>;
  stop(): Promise<void>;
}

export const SERVICE_USERNAME = 'lantern-service';
export const SERVICE_PASSWORD = 'chaos-service-password';

/**
 * Mosquitto configured as bench/src/infra/broker.ts does (docker/mosquitto.conf's no-loss limits,
 * persistence on); restarted from the same configuration file, so the same port and persistence file.
 */
export async function startChaosMosquitto(rootDir: string, workDir: string): Promise<ChaosBroker> {
  const broker = await startBroker(rootDir, workDir);
  const port = Number(new URL(broker.url).port);
  let current: BenchProcess = broker.process;
  return {
    kind: 'mosquitto',
    url: broker.url,
    down: () => current.stop(),
    async up() {
      current = await launchMosquitto(broker.conf, [port], { timeoutMs: 10_000, what: 'mosquitto to listen again' });
    },
    async stop() {
      await current.stop();
      await broker.stop();
    },
  };
}

/**
 * Lantern's embedded aedes broker in this process, with its sessions kept in PostgreSQL
 * (AedesPostgresPersistence, as `npm start` runs it) so a restart keeps the ingest's session and queue.
 */
export async function startChaosEmbedded(databaseUrl: string, topicRoot: string): Promise<ChaosBroker> {
  const port = await findFreePort();
  const lookupPool = new pg.Pool({ connectionString: databaseUrl, max: 4, application_name: 'chaos-broker' });
  lookupPool.on('error', () => undefined);
  let persistencePool: pg.Pool | undefined;
  let persistence: AedesPostgresPersistence | undefined;
  let running: RunningEmbeddedBroker | undefined;
  const up = async (): Promise<void> => {
    persistencePool = new pg.Pool({ connectionString: databaseUrl, max: 2, application_name: 'chaos-broker-store' });
    persistencePool.on('error', () => undefined);
    persistence = new AedesPostgresPersistence({ pool: persistencePool });
    running = await startEmbeddedBroker({
      port,
      host: '127.0.0.1',
      topicRoot,
      serviceUsername: SERVICE_USERNAME,
      servicePassword: SERVICE_PASSWORD,
      devices: new DeviceCredentialRepository(lookupPool),
      persistence,
    });
  };
  const down = async (): Promise<void> => {
    await running?.stop();
    await persistence?.destroy();
    await persistencePool?.end();
    running = undefined;
    persistence = undefined;
    persistencePool = undefined;
  };
  await up();
  return {
    kind: 'embedded',
    url: `mqtt://127.0.0.1:${port}`,
    down,
    up,
    async stop() {
      await down();
      await lookupPool.end();
    },
  };
}
