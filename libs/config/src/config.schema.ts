import { ALERTING_CHECKS, ALERTING_SETTINGS } from './schema/alerting.settings.js';
import { AUTH_SETTINGS } from './schema/auth.settings.js';
import { BROKER_CHECKS, BROKER_SETTINGS } from './schema/broker.settings.js';
import { DATABASE_SETTINGS } from './schema/database.settings.js';
import { HTTP_SETTINGS } from './schema/http.settings.js';
import { INGEST_SETTINGS } from './schema/ingest.settings.js';
import { PROCESS_SETTINGS } from './schema/process.settings.js';
import { RETENTION_SETTINGS } from './schema/retention.settings.js';
import { ParseError, type CrossCheck, type Setting } from './schema/setting.js';

/**
 * Every setting Lantern reads, declared once, in one section per concern (./schema/). docs/configuration.md
 * documents each (a test keeps them in step).
 */
export const SETTINGS = {
  ...PROCESS_SETTINGS,
  ...HTTP_SETTINGS,
  ...DATABASE_SETTINGS,
  ...BROKER_SETTINGS,
  ...AUTH_SETTINGS,
  ...RETENTION_SETTINGS,
  ...INGEST_SETTINGS,
  ...ALERTING_SETTINGS,
} as const satisfies Record<string, Setting<unknown>>;

type Settings = typeof SETTINGS;

/**
 * Rules between settings, checked beside the per-setting ones (every problem is listed at once).
 * Each looks at the raw environment, so a value already refused on its own is not reported twice.
 */
const CROSS_CHECKS: readonly CrossCheck[] = [...ALERTING_CHECKS, ...BROKER_CHECKS];
type ValueOf<S> = S extends Setting<infer T> ? T : never;
type HasDefault<S> = S extends { default: string } ? true : false;

/** The validated configuration: settings with a default are always present, the others optional. */
export type LanternConfig = {
  readonly [K in keyof Settings]: HasDefault<Settings[K]> extends true
    ? ValueOf<Settings[K]>
    : ValueOf<Settings[K]> | undefined;
};

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/** Reads and validates every setting from `env`, collecting all problems before failing. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): LanternConfig {
  const problems: string[] = [];
  const config: Record<string, unknown> = {};
  for (const [key, setting] of Object.entries(SETTINGS) as [string, Setting<unknown>][]) {
    const raw = env[setting.env];
    const value = raw === undefined || raw === '' ? setting.default : raw;
    if (value === undefined) continue;
    const parsed = setting.parse(value);
    if (parsed instanceof ParseError) problems.push(`${setting.env} ${parsed.message}`);
    else config[key] = parsed;
  }
  for (const check of CROSS_CHECKS) {
    const problem = check(env);
    if (problem !== undefined) problems.push(problem);
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return Object.freeze(config) as LanternConfig;
}

/** The declared settings, for documentation and checks. */
export function describeSettings(): { env: string; default?: string; description: string }[] {
  return Object.values(SETTINGS as Record<string, Setting<unknown>>).map(({ env, default: def, description }) => ({
    env,
    default: def,
    description,
  }));
}
