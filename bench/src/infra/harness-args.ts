import { parseArgs } from 'node:util';

/**
 * A harness's flag: a switch, text, or a number (checked: `--devices ten` is an error, not NaN).
 * A default makes the flag always have a value; a default that depends on another flag (`--quick`)
 * is left to the harness (`flags.devices ?? (flags.quick ? 40 : 10_000)`).
 */
export type FlagSpec =
  | { readonly type: 'boolean' }
  | { readonly type: 'string'; readonly default?: string }
  | { readonly type: 'number'; readonly default?: number };

export type FlagSpecs = Readonly<Record<string, FlagSpec>>;

type FlagValue<S extends FlagSpec> = S extends { type: 'boolean' }
  ? boolean
  : S extends { type: 'number'; default: number }
    ? number
    : S extends { type: 'number' }
      ? number | undefined
      : S extends { type: 'string'; default: string }
        ? string
        : string | undefined;

export type Flags<S extends FlagSpecs> = { readonly [K in keyof S]: FlagValue<S[K]> };

/**
 * The one command-line parser of the harnesses (bench, chaos, fuzz, eval:alerts, restore, broker
 * persistence), on Node's `util.parseArgs`: `--flag value`, `--flag=value` and `--switch`; an unknown
 * flag, a stray word or a flag without its value is an error rather than silently ignored. With
 * `--help` it prints `help` and returns undefined: the harness then exits 0.
 */
export function parseHarnessArgs<const S extends FlagSpecs>(
  argv: readonly string[],
  specs: S,
  help: string,
): Flags<S> | undefined {
  const options: Record<string, { type: 'string' | 'boolean' }> = { help: { type: 'boolean' } };
  for (const [name, spec] of Object.entries(specs))
    options[name] = { type: spec.type === 'boolean' ? 'boolean' : 'string' };
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: joinNegativeNumbers(argv, options),
      options,
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    throw new Error(`${(error as Error).message} (--help lists the flags)`);
  }
  if (values.help) {
    console.log(help);
    return undefined;
  }
  const flags: Record<string, string | number | boolean | undefined> = {};
  for (const [name, spec] of Object.entries(specs)) {
    const value = values[name];
    switch (spec.type) {
      case 'boolean':
        flags[name] = value === true;
        break;
      case 'string':
        flags[name] = typeof value === 'string' ? value : spec.default;
        break;
      case 'number':
        flags[name] = typeof value === 'string' ? numberValue(name, value) : spec.default;
        break;
    }
  }
  return flags as Flags<S>;
}

/**
 * `--seed -5` as `--seed=-5`: util.parseArgs takes a value that starts with a dash for a forgotten
 * value and refuses it, where the harnesses' earlier parser (and users) read a negative number.
 */
function joinNegativeNumbers(argv: readonly string[], options: Record<string, { type: string }>): string[] {
  const args: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const name = argv[i].startsWith('--') ? argv[i].slice(2) : undefined;
    const next = argv[i + 1];
    if (name && options[name]?.type === 'string' && next !== undefined && /^-\d/.test(next))
      args.push(`${argv[i++]}=${next}`);
    else args.push(argv[i]);
  }
  return args;
}

function numberValue(name: string, value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n)) throw new Error(`--${name} must be a number, got '${value}'`);
  return n;
}
