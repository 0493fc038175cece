import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import type { LogLevel } from '@nestjs/common';
import { resolveJwtSecret } from '@lantern/auth';
import { loadConfig } from '@lantern/config';
import { ApiModule } from './api.module.js';
import { configureApp } from './configure-app.js';

const LEVELS: LogLevel[] = ['fatal', 'error', 'warn', 'log', 'debug', 'verbose'];

/** Builds the configured api application (not yet listening): what main.ts runs and the tests boot. */
export async function createApiApp(options: { logLevel?: LogLevel | false } = {}): Promise<NestExpressApplication> {
  // Checked before any module opens a connection, so that a refused configuration or a weak JWT
  // key file (libs/auth jwt-secret.ts) stops the start with its own message and leaves nothing open.
  resolveJwtSecret(loadConfig());
  const level = options.logLevel;
  const app = await NestFactory.create<NestExpressApplication>(ApiModule, {
    logger: level === false ? false : LEVELS.slice(0, LEVELS.indexOf(level ?? 'log') + 1),
    // A provider that cannot start throws to the caller instead of exiting the process: main.ts
    // still stops (an unhandled rejection), a test sees why.
    abortOnError: false,
  });
  configureApp(app);
  return app;
}
