import { readFileSync } from 'node:fs';
import type pg from 'pg';

/*
 * CPU time a pipeline spends, split between its own process and the PostgreSQL backends serving it
 * (found by application_name), read from /proc: what one reading costs, whatever else shares the
 * cores. Linux only, and the database only when it runs on this machine; otherwise undefined.
 */

/** /proc reports utime and stime in USER_HZ ticks, 100 per second on Linux whatever the kernel's HZ. */
const TICKS_PER_SEC = 100;

/** User + system CPU seconds a process has used so far; undefined when it is gone or not readable. */
export function processCpuSeconds(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) is in parentheses and may contain spaces: count fields after it.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SEC;
  } catch {
    return undefined;
  }
}

export interface CpuSample {
  process: number | undefined;
  /** CPU seconds of each backend serving the pipeline, by pid. */
  backends: Map<number, number> | undefined;
}

export interface CpuUse {
  /** CPU seconds of the pipeline's process between two samples. */
  processSec?: number;
  /** CPU seconds of its PostgreSQL backends between two samples (a backend that ended meanwhile is missed). */
  databaseSec?: number;
}

/** Samples the CPU time of a pipeline: its process and the backends whose application_name starts with `application`. */
export async function sampleCpu(pool: pg.Pool, pid: number, application: string): Promise<CpuSample> {
  let backends: Map<number, number> | undefined;
  try {
    const { rows } = await pool.query<{ pid: number }>(
      `SELECT pid FROM pg_stat_activity WHERE application_name LIKE $1 || '%'`,
      [application],
    );
    backends = new Map();
    for (const { pid: backend } of rows) {
      const sec = processCpuSeconds(backend);
      if (sec === undefined) {
        backends = undefined; // the server is not on this machine (or not readable)
        break;
      }
      backends.set(backend, sec);
    }
  } catch {
    backends = undefined;
  }
  return { process: processCpuSeconds(pid), backends };
}

/** What was used between two samples; a backend that appeared meanwhile counts from zero. */
export function cpuBetween(before: CpuSample, after: CpuSample): CpuUse {
  const use: CpuUse = {};
  if (before.process !== undefined && after.process !== undefined) use.processSec = after.process - before.process;
  if (before.backends && after.backends) {
    let sec = 0;
    for (const [pid, now] of after.backends) sec += now - (before.backends.get(pid) ?? 0);
    use.databaseSec = sec;
  }
  return use;
}
