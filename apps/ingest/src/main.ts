import 'reflect-metadata';
import { Logger, type LogLevel } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { loadConfig } from '@lantern/config';
import { IngestModule } from './ingest.module.js';

const LEVELS: LogLevel[] = ['error', 'warn', 'log', 'debug', 'verbose'];

async function bootstrap(): Promise<void> {
  const { logLevel } = loadConfig();
  const app = await NestFactory.createApplicationContext(IngestModule, {
    logger: LEVELS.slice(0, LEVELS.indexOf(logLevel) + 1),
  });
  app.enableShutdownHooks();
}

bootstrap().catch((error: unknown) => {
  new Logger('Ingest').error(`Start failed: ${(error as Error).stack ?? String(error)}`);
  process.exit(1);
});
