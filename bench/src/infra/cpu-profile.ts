import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Reads a V8 CPU profile (`node --cpu-prof`, the `.cpuprofile` JSON Chrome DevTools opens) and
 * sums self time per function: what `npm run bench -- --profile DIR` reports as the ingest's top
 * functions. Idle time is left out of the shares; the garbage collector and native code stay in
 * (they are work the process did).
 */

interface CallFrame {
  readonly functionName: string;
  readonly url: string;
  readonly lineNumber: number;
}

interface ProfileNode {
  readonly id: number;
  readonly callFrame: CallFrame;
}

/** The parts of the `.cpuprofile` format read here. */
export interface CpuProfile {
  readonly nodes: readonly ProfileNode[];
  readonly samples: readonly number[];
  /** Microseconds before each sample (same index as `samples`). */
  readonly timeDeltas: readonly number[];
}

/** One function's self time. */
export interface FunctionCost {
  /** `name file:line`, the file shortened to its last two path segments (or the package under node_modules). */
  readonly fn: string;
  readonly selfMs: number;
  /** Share of the busy (not idle) time. */
  readonly share: number;
}

export interface ProfileSummary {
  /** Sampled time, ms. */
  readonly totalMs: number;
  /** Of which the thread was not idle, ms. */
  readonly busyMs: number;
  /** Functions by self time, most first. */
  readonly top: readonly FunctionCost[];
}

function label(frame: CallFrame): string {
  const name = frame.functionName || '(anonymous)';
  if (frame.url === '') return name;
  const path = frame.url.replace(/^file:\/\//, '');
  const inPackage = /node_modules\/((?:@[^/]+\/)?[^/]+)\/(?:.*\/)?([^/]+)$/.exec(path);
  const where = inPackage ? `${inPackage[1]}/${inPackage[2]}` : path.split('/').slice(-2).join('/');
  return `${name} ${where}:${frame.lineNumber + 1}`;
}

/** Self time per function over one or more profiles (a process restarted writes one each), the `limit` costliest first. */
export function summarizeProfile(profiles: CpuProfile | readonly CpuProfile[], limit = 10): ProfileSummary {
  const self = new Map<string, number>();
  let total = 0;
  const list: readonly CpuProfile[] = 'nodes' in profiles ? [profiles] : profiles;
  for (const profile of list) {
    const labels = new Map(profile.nodes.map((n) => [n.id, label(n.callFrame)]));
    for (let i = 0; i < profile.samples.length; i++) {
      const us = profile.timeDeltas[i] ?? 0;
      total += us;
      const fn = labels.get(profile.samples[i]) ?? '(unknown)';
      self.set(fn, (self.get(fn) ?? 0) + us);
    }
  }
  const idle = self.get('(idle)') ?? 0;
  self.delete('(idle)');
  const busy = total - idle;
  const top = [...self.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, limit)
    .map(([fn, us]) => ({ fn, selfMs: us / 1000, share: busy === 0 ? 0 : us / busy }));
  return { totalMs: total / 1000, busyMs: busy / 1000, top };
}

/** Every `.cpuprofile` in `dir` (one process role's, `--cpu-prof-dir`) summarized together; undefined when there is none. */
export function summarizeProfileDir(dir: string, limit = 10): ProfileSummary | undefined {
  if (!existsSync(dir)) return undefined;
  const files = readdirSync(dir).filter((f) => f.endsWith('.cpuprofile'));
  if (files.length === 0) return undefined;
  return summarizeProfile(
    files.map((f) => JSON.parse(readFileSync(join(dir, f), 'utf8')) as CpuProfile),
    limit,
  );
}

/** Node's flags to write a role's CPU profile into `dir/role` (none when not profiling). */
export function cpuProfileArgs(dir: string | undefined, role: string): string[] {
  return dir === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${join(dir, role)}`];
}
