import { execFileSync } from 'node:child_process';
import { cpus, totalmem } from 'node:os';

/**
 * The machine a harness ran on, as every report (bench, fuzz, chaos) states it: one owner so the
 * reports describe it the same way.
 */

/** Cores, CPU model, memory and Node version of this machine. */
export function describeMachine(): { cpus: number; cpuModel: string; memoryGiB: number; node: string } {
  return {
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model ?? 'unknown',
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
  };
}

/** What `cmd args` prints (a tool's version line), or undefined when it is not installed. */
export function toolVersion(cmd: string, args: string[]): string | undefined {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch (error) {
    const out = (error as { stdout?: string }).stdout;
    return out ? out.trim() : undefined;
  }
}
