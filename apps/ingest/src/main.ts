// First: V8 flags must be set before the modules below allocate.
import './v8-flags.js';
import 'reflect-metadata';
import { Logger, type INestApplicationContext, type LogLevel } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { loadConfig } from '@lantern/config';
import { IngestModule } from './ingest.module.js';
import { IngestLease } from './leader/ingest-lease.js';

const LEVELS: LogLevel[] = ['error', 'warn', 'log', 'debug', 'verbose'];
/** A leader that lost its lease gives its in-flight writes this long before it exits. */
const STEP_DOWN_GRACE_MS = 3000;

async function bootstrap(): Promise<void> {
  const config = loadConfig();
  const logger = new Logger('Ingest');
  Logger.overrideLogger(LEVELS.slice(0, LEVELS.indexOf(config.logLevel) + 1));
  // Only the holder of the session's lease consumes; any other instance waits here as a standby.
  const lease = new IngestLease(config);
  const stopWaiting = (): void => void lease.stop().then(() => process.exit(0));
  process.once('SIGTERM', stopWaiting).once('SIGINT', stopWaiting);
  await lease.acquire();
  process.removeListener('SIGTERM', stopWaiting).removeListener('SIGINT', stopWaiting);

  // Renewed from now on, through the boot too (a boot longer than the lease would let a standby in).
  const running: { app?: INestApplicationContext } = {};
  lease.keep((reason) => {
    logger.error(`Stepping down as the consuming ingest: ${reason}. Exiting so a standby can take over.`);
    const exit = (): never => process.exit(1);
    setTimeout(exit, STEP_DOWN_GRACE_MS).unref();
    void (running.app?.close() ?? Promise.resolve()).finally(exit);
  });
  const app = await NestFactory.createApplicationContext(IngestModule, {
    logger: LEVELS.slice(0, LEVELS.indexOf(config.logLevel) + 1),
  });
  running.app = app;
  // Our own shutdown hooks rather than Nest's: stop consuming and drain first (app.close), then
  // hand the lease over, so a standby resumes the session only once this one has let go of it.
  const shutdown = (): void => {
    void app
      .close()
      .catch((error: unknown) => logger.error(`Shutdown failed: ${(error as Error).message}`))
      .finally(() => void lease.stop().finally(() => process.exit(0)));
  };
  process.once('SIGTERM', shutdown).once('SIGINT', shutdown);
}

bootstrap().catch((error: unknown) => {
  new Logger('Ingest').error(`Start failed: ${(error as Error).stack ?? String(error)}`);
  process.exit(1);
});
