/*
 * The shape every section of the configuration schema declares its settings in: one environment
 * variable each, with its default and its parser, plus the rules between settings.
 */

/** One declared setting: its environment variable, default, and how a raw string becomes a value. */
export interface Setting<T> {
  readonly env: string;
  readonly description: string;
  /** Default as the raw string an operator would write; undefined means "unset" (optional setting). */
  readonly default?: string;
  readonly parse: (raw: string) => T | ParseError;
}

/** Why a raw value was refused; reported after the variable's name. */
export class ParseError {
  constructor(readonly message: string) {}
}

/**
 * A rule between settings, checked beside the per-setting ones (every problem is listed at once).
 * It looks at the raw environment, so a value already refused on its own is not reported twice.
 */
export type CrossCheck = (env: NodeJS.ProcessEnv) => string | undefined;

/** Whether a variable is set (an empty value, as docker compose passes an unset one, counts as unset). */
export const isSet = (env: NodeJS.ProcessEnv, name: string): boolean => env[name] !== undefined && env[name] !== '';
