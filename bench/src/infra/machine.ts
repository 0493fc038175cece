import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
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

/**
 * The open-file limit the harness and the processes it starts run under (`ulimit -n`, read from
 * /proc/self/limits), or undefined where that cannot be read. Each simulated device is a socket in the
 * simulator and one in the broker, so it bounds how many devices a run can connect.
 */
export function openFileLimit(): number | undefined {
  try {
    const m = /^Max open files\s+(\d+)/m.exec(readFileSync('/proc/self/limits', 'utf8'));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}
