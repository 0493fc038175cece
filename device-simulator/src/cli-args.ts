/** Minimal `--flag value` / `--flag=value` / `--switch` parser: the simulator's flags are few and documented in docs/simulator.md. */
export interface ParsedArgs {
  positional: string[];
  flags: Map<string, string | true>;
}

export function parseArgs(argv: readonly string[]): ParsedArgs {
  const positional: string[] = [];
  const flags = new Map<string, string | true>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (!arg.startsWith('--')) {
      positional.push(arg);
      continue;
    }
    const eq = arg.indexOf('=');
    if (eq > 0) flags.set(arg.slice(2, eq), arg.slice(eq + 1));
    else if (i + 1 < argv.length && !argv[i + 1].startsWith('--')) flags.set(arg.slice(2), argv[++i]);
    else flags.set(arg.slice(2), true);
  }
  return { positional, flags };
}

export function stringFlag(args: ParsedArgs, name: string, fallback?: string): string | undefined {
  const v = args.flags.get(name);
  return typeof v === 'string' ? v : fallback;
}

export function numberFlag(args: ParsedArgs, name: string, fallback: number): number {
  const v = args.flags.get(name);
  if (v === undefined) return fallback;
  const n = Number(v);
  if (typeof v !== 'string' || !Number.isFinite(n)) throw new Error(`--${name} must be a number, got '${String(v)}'`);
  return n;
}

export function boolFlag(args: ParsedArgs, name: string): boolean {
  const v = args.flags.get(name);
  return v === true || v === 'true' || v === '1';
}
