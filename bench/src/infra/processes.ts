import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { WaitAbandoned, waitFor } from './wait.js';

/** A child process of the bench, with its output kept for the report when it fails. */
export interface BenchProcess {
  readonly name: string;
  readonly child: ChildProcess;
  readonly pid: number;
  output(): string;
  /** SIGTERM, then SIGKILL after `graceMs` (a profiled process writes its profile only when it exits by itself). */
  stop(graceMs?: number): Promise<void>;
}

/** Spawns a process whose stdout/stderr tail is kept (last 20 kB) for error messages. */
export function startProcess(
  name: string,
  command: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  options: { onLine?: (line: string) => void; stdin?: boolean } = {},
): BenchProcess {
  const child = spawn(command, args, {
    env: { ...process.env, ...env },
    stdio: [options.stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'],
  });
  let tail = '';
  let partial = '';
  const keep = (chunk: Buffer) => {
    tail = (tail + chunk.toString()).slice(-20_000);
  };
  child.stdout!.on('data', (chunk: Buffer) => {
    keep(chunk);
    if (!options.onLine) return;
    partial += chunk.toString();
    const lines = partial.split('\n');
    partial = lines.pop()!;
    for (const line of lines) options.onLine(line);
  });
  child.stderr!.on('data', keep);
  return {
    name,
    child,
    pid: child.pid ?? -1,
    output: () => tail,
    async stop(graceMs = 10_000) {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** Peak resident set size (VmHWM) of a live process, bytes; undefined when it is gone. */
export function peakRss(pid: number): number | undefined {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Resets a live process's peak resident set size to its current size (Linux ≥ 4.0, writing 5 to
 * clear_refs), so that a later {@link peakRss} covers only what came after. False when not allowed.
 */
export function resetPeakRss(pid: number): boolean {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
    return true;
  } catch {
    return false;
  }
}

/** A TCP port nobody listens on right now (libs/embedded's probe, under the bench's older name). */
export { findFreePort as freePort } from '@lantern/embedded';

/**
 * Waits (waitFor) until `check` returns true; gives up at once when `proc` exits first, and either
 * way fails with the tail of `proc`'s output, which says why it never got there.
 */
export function waitUntil(
  what: string,
  check: () => Promise<boolean>,
  timeoutMs: number,
  proc?: BenchProcess,
): Promise<true> {
  const withOutput = () => (proc ? `${what}:\n${proc.output().slice(-3000)}` : what);
  return waitFor(
    () => {
      if (proc && proc.child.exitCode !== null)
        throw new WaitAbandoned(`${proc.name} exited (${proc.child.exitCode}) before ${withOutput()}`);
      return check();
    },
    withOutput,
    timeoutMs,
    100,
  );
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Percentile (nearest rank) of unsorted samples. */
export function percentile(samples: readonly number[], p: number): number {
  if (samples.length === 0) return NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}
