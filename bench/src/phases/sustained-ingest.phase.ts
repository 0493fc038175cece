import type pg from 'pg';
import { LOAD_ACHIEVED_MIN, type LoadProcess } from '../load-process.js';
import { cpuBetween, type CpuSample } from '../infra/cpu-time.js';
import { sleep } from '../infra/processes.js';

export interface IngestStep {
  targetReadingsPerSec: number;
  /** Readings/s the broker acknowledged to the simulator during the step. */
  publishedReadingsPerSec: number;
  published: number;
  /** Rows in the pipeline's table after the drain, minus rows before the step. */
  stored: number;
  lost: number;
  /** Seconds from the end of the step until every published reading was in the database. */
  drainSec: number | null;
  /** Largest age of an unacknowledged message seen during the step (Lantern's own metric), seconds. */
  maxAckLagSec?: number;
  /**
   * CPU microseconds per stored reading from the step's start to the end of its drain: the
   * pipeline's own process, and the PostgreSQL backends serving it (when the server is local).
   */
  cpuMicrosPerReading?: { process?: number; database?: number };
  passed: boolean;
  why?: string;
}

export interface SustainedResult {
  steps: IngestStep[];
  /** Highest target rate held with no loss and a bounded drain; 0 when none. */
  sustainedReadingsPerSec: number;
}

export interface SustainedOptions {
  rates: number[];
  stepSec: number;
  maxDrainSec: number;
  /** Rows of the table the pipeline writes. */
  countRows: (pool: pg.Pool) => Promise<number>;
  /** Optional: a sample of the CPU time the pipeline (process and database backends) has used so far. */
  cpu?: () => Promise<CpuSample>;
  /** Optional: the pipeline's current ack lag in seconds (undefined or NaN: not known). */
  ackLag?: () => Promise<number | undefined>;
  /** Keep stepping past the listed rates until a step fails (off in --quick). */
  extend?: boolean;
  log: (line: string) => void;
}

/**
 * The simulator's count of acknowledged readings once it has stopped publishing: two of its reports
 * in a row (about a second apart) with nothing in flight and nothing sent between them, or after
 * `withinMs` whatever the last report says. A single report with nothing in flight was not enough:
 * the simulator publishes in ticks, so a report between two ticks shows nothing in flight while it
 * is still publishing — at 30,000 messages/s its last sends were then counted in the database but not
 * as published ("2,892 more rows than published").
 */
async function settledAckedReadings(load: LoadProcess, withinMs = 15_000): Promise<number> {
  const until = Date.now() + withinMs;
  let seen = load.latest;
  while (Date.now() < until) {
    await sleep(100);
    const next = load.latest;
    if (!next || next === seen) continue;
    if (seen && next.inFlight === 0 && seen.inFlight === 0 && next.sent === seen.sent) return next.ackedReadings;
    seen = next;
  }
  return load.latest?.ackedReadings ?? 0;
}

/**
 * Steps the simulator's rate up; each step runs `stepSec`, then the load pauses and the step passes
 * when every reading the broker acknowledged is in the database within `maxDrainSec` (counted from
 * when the simulator's count is final, {@link settledAckedReadings}) and the simulator actually
 * achieved ≥ 95 % of the target. Stops at the first failed step.
 */
export async function measureSustained(
  pool: pg.Pool,
  load: LoadProcess,
  options: SustainedOptions,
): Promise<SustainedResult> {
  const steps: IngestStep[] = [];
  let sustained = 0;
  // After the listed rates, keep stepping by the last increment until a step fails (at most 10 more),
  // so a pipeline faster than the list is not reported at the list's ceiling.
  const rates = [...options.rates];
  const increment = rates.length > 1 ? rates.at(-1)! - rates.at(-2)! : rates[0];
  for (let i = 0; i < rates.length; i++) {
    const rate = rates[i];
    if (options.extend && i === rates.length - 1 && rates.length < options.rates.length + 10)
      rates.push(rate + increment);
    const before = await options.countRows(pool);
    const ackedBefore = load.latest?.ackedReadings ?? 0;
    const cpuBefore = await options.cpu?.();
    load.setRate(rate);
    const started = Date.now();
    let maxLag: number | undefined;
    while (Date.now() - started < options.stepSec * 1000) {
      await sleep(Math.min(1000, options.stepSec * 1000));
      const lag = await options.ackLag?.().catch(() => undefined);
      if (lag !== undefined && Number.isFinite(lag)) maxLag = Math.max(maxLag ?? 0, lag);
    }
    load.setRate(0);
    const stepSec = (Date.now() - started) / 1000;
    const published = (await settledAckedReadings(load)) - ackedBefore;
    const stopped = Date.now();
    let stored = 0;
    let drainSec: number | null = null;
    while (Date.now() - stopped < options.maxDrainSec * 1000 + 2000) {
      stored = (await options.countRows(pool)) - before;
      if (stored >= published) {
        drainSec = (Date.now() - stopped) / 1000;
        break;
      }
      await sleep(250);
    }
    const cpuUse = cpuBefore && options.cpu ? cpuBetween(cpuBefore, await options.cpu()) : {};
    const perReading = (sec: number | undefined) =>
      sec === undefined || stored === 0 ? undefined : Math.round((sec * 1e6) / stored);
    const publishedRate = published / stepSec;
    const lost = Math.max(0, published - stored);
    const reasons: string[] = [];
    if (publishedRate < rate * LOAD_ACHIEVED_MIN)
      reasons.push(`simulator reached only ${Math.round(publishedRate)} of ${rate} readings/s`);
    if (drainSec === null) reasons.push(`${lost} readings not in the database ${options.maxDrainSec} s after the step`);
    else if (drainSec > options.maxDrainSec)
      reasons.push(`drain took ${drainSec.toFixed(1)} s (bound ${options.maxDrainSec} s)`);
    if (stored > published) reasons.push(`${stored - published} more rows than published (duplicates?)`);
    const step: IngestStep = {
      targetReadingsPerSec: rate,
      publishedReadingsPerSec: Math.round(publishedRate),
      published,
      stored,
      lost,
      drainSec,
      maxAckLagSec: maxLag,
      cpuMicrosPerReading: options.cpu
        ? { process: perReading(cpuUse.processSec), database: perReading(cpuUse.databaseSec) }
        : undefined,
      passed: reasons.length === 0,
      why: reasons.join('; ') || undefined,
    };
    steps.push(step);
    options.log(
      `    ${rate} readings/s: published ${step.publishedReadingsPerSec}/s, stored ${stored}/${published}, drain ${drainSec ?? '—'} s${maxLag !== undefined ? `, max ack lag ${maxLag.toFixed(2)} s` : ''}${cpuText(step)} → ${step.passed ? 'ok' : `FAIL (${step.why})`}`,
    );
    if (!step.passed) break;
    sustained = rate;
  }
  return { steps, sustainedReadingsPerSec: sustained };
}

/** ", CPU 12 + 20 µs/reading" (process + database) for the log line; empty when not measured. */
function cpuText(step: IngestStep): string {
  const cpu = step.cpuMicrosPerReading;
  if (cpu?.process === undefined) return '';
  return `, CPU ${cpu.process}${cpu.database === undefined ? '' : ` + ${cpu.database}`} µs/reading`;
}
