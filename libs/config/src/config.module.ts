import { Global, Module } from '@nestjs/common';
import { loadConfig, type LanternConfig } from './config.schema.js';

/** Injection token of the validated {@link LanternConfig}. */
export const LANTERN_CONFIG = Symbol('LANTERN_CONFIG');

/** Provides the configuration read once at start; a bad value fails the start with every problem listed. */
@Global()
@Module({
  providers: [{ provide: LANTERN_CONFIG, useFactory: (): LanternConfig => loadConfig() }],
  exports: [LANTERN_CONFIG],
})
export class ConfigModule {}
