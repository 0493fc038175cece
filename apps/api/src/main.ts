import 'reflect-metadata';
import { loadConfig } from '@lantern/config';
import { createApiApp } from './create-api-app.js';

async function bootstrap(): Promise<void> {
  const config = loadConfig();
  const app = await createApiApp({ logLevel: config.logLevel });
  app.enableShutdownHooks();
  await app.listen(config.port, config.host);
}

void bootstrap();
