import type { SeededDevice } from '../infra/bench-database.js';
import type { LoadProcess } from '../load-process.js';
import type { PhaseOutcome } from '../report.js';
import type { SustainedResult } from './sustained-ingest.phase.js';

/** Open files a simulator or broker needs besides its device connections (listeners, files, its own clients). */
const FILES_BESIDES_CONNECTIONS = 256;

/** Each shape's ladder steps last at most this long (the run's --step-sec when shorter). */
export const SCALING_MAX_STEP_SEC = 20;

/**
 * One load shape of the scaling table: how many devices, how many readings per message, and over how
 * many connections (one per device when not given).
 */
export interface ScalingConfig {
  devices: number;
  readingsPerMessage: number;
  connections?: number;
}

export interface ScalingRow extends ScalingConfig {
  /** Highest step held (0 when none); undefined when the load could not be run at all (`error`). */
  sustainedReadingsPerSec?: number;
  /** Why the ladder stopped: the first failed step. */
  firstFailure?: string;
  /** At the sustained step: CPU µs per reading of the ingest and of its database backends. */
  cpuMicrosPerReading?: { process?: number; database?: number };
  /** 1 s over the ingest's and the database's CPU per reading: what one fully used core buys. */
  readingsPerCore?: number;
  error?: string;
}

/** Parses "1000x2,10000x10,50000x2/10000" (devices × readings per message, optionally / connections). */
export function parseScaling(list: string): ScalingConfig[] {
  return list
    .split(',')
    .filter((item) => item.trim() !== '')
    .map((item) => {
      const m = /^\s*(\d+)\s*x\s*(\d+)\s*(?:\/\s*(\d+)\s*)?$/.exec(item);
      if (!m || (m[3] !== undefined && (Number(m[3]) < 1 || Number(m[3]) > Number(m[1]))))
        throw new Error(
          `--scaling: "${item}" is not DEVICESxREADINGS or DEVICESxREADINGS/CONNECTIONS with 1 ≤ CONNECTIONS ≤ DEVICES (e.g. 10000x2, 50000x2/10000)`,
        );
      return {
        devices: Number(m[1]),
        readingsPerMessage: Number(m[2]),
        ...(m[3] !== undefined && { connections: Number(m[3]) }),
      };
    });
}

/**
 * The connections a shape runs on: its own count, or one per device; but when one per device is more
 * than a process here may open (`fileLimit`), the devices share the most connections that fit, the
 * same number of devices on each (the last one fewer). Undefined: an explicit count that does not fit.
 */
export function connectionsFor(config: ScalingConfig, fileLimit: number | undefined): number | undefined {
  const room = fileLimit === undefined ? Infinity : fileLimit - FILES_BESIDES_CONNECTIONS;
  if (config.connections !== undefined) return config.connections <= room ? config.connections : undefined;
  if (config.devices <= room) return config.devices;
  return Math.ceil(config.devices / Math.ceil(config.devices / room));
}

/**
 * The scaling table (docs/performance.md, "Scaling"): for each load shape, the sustained-ingest
 * ladder against the running ingest, with the CPU per reading at the highest step held. A shape
 * that cannot run here (say, more connections than the process file limit allows) gets its error
 * in its row, and the others still run.
 */
export async function measureScaling(options: {
  configs: readonly ScalingConfig[];
  /**
   * Seeds n devices. Each shape gets its own: a new simulator starts every device's event clock at
   * the same point, so devices reused from an earlier shape would send readings already stored.
   */
  seed: (n: number) => Promise<SeededDevice[]>;
  startLoad: (
    devices: SeededDevice[],
    shape: { readingsPerMessage: number; connections: number },
  ) => Promise<LoadProcess>;
  sustained: (load: LoadProcess) => Promise<SustainedResult>;
  /**
   * Waits until the ingest has stored what earlier load left it (the broker's queue and its own),
   * returning how long that took (s): a ladder's last step fails by leaving a backlog, and rows of one
   * shape stored during the next one's first step were counted as that step's ("36,182 more rows than
   * published").
   */
  settle?: () => Promise<number>;
  /**
   * Open files per process here (`openFileLimit`): a shape's devices share fewer connections when one
   * each would not fit; a shape whose explicit connection count does not fit is not tried.
   */
  fileLimit?: number;
  log: (line: string) => void;
}): Promise<ScalingRow[]> {
  const rows: ScalingRow[] = [];
  for (const config of options.configs) {
    const connections = connectionsFor(config, options.fileLimit);
    options.log(
      `  ${config.devices} devices, ${config.readingsPerMessage} readings per message` +
        (connections !== undefined && connections !== config.devices
          ? `, over ${connections} connections` +
            (config.connections === undefined
              ? ` (one each would need more than the ${options.fileLimit} files a process may open)`
              : '')
          : ''),
    );
    if (connections === undefined) {
      // Tried, it failed as a simulator "exited (1)" with the reason cut from the report's row.
      const error = `${config.connections} connections need as many sockets in the simulator and in the broker, and processes here may open ${options.fileLimit} files (ulimit -n)`;
      options.log(`    not run: ${error}`);
      rows.push({ ...config, error });
      continue;
    }
    let load: LoadProcess | undefined;
    try {
      if (options.settle)
        options.log(`    the ingest had stored the earlier load after ${Math.round(await options.settle())} s`);
      load = await options.startLoad(await options.seed(config.devices), {
        readingsPerMessage: config.readingsPerMessage,
        connections,
      });
      const result = await options.sustained(load);
      const held = result.steps.filter((s) => s.passed).at(-1);
      const cpu = held?.cpuMicrosPerReading;
      const perReading = (cpu?.process ?? 0) + (cpu?.database ?? 0);
      rows.push({
        ...config,
        connections,
        sustainedReadingsPerSec: result.sustainedReadingsPerSec,
        firstFailure: result.steps.find((s) => !s.passed)?.why,
        cpuMicrosPerReading: cpu,
        readingsPerCore: perReading > 0 ? Math.round(1e6 / perReading) : undefined,
      });
    } catch (error) {
      rows.push({ ...config, connections, error: ((error as Error).message ?? String(error)).split('\n')[0] });
    } finally {
      await load?.stop().catch(() => undefined);
    }
  }
  return rows;
}

/** The report's section for the scaling table (benchmarks.md). */
export function scalingSection(outcome: PhaseOutcome<readonly ScalingRow[]>, runStepSec: unknown): string[] {
  if (outcome.status === 'failed') return [`**Failed**: ${outcome.error.split('\n')[0]}`];
  if (outcome.status === 'skipped') return [`Skipped: ${outcome.reason}`];
  const rows = outcome.result;
  const stepSec = Math.min(Number(runStepSec), SCALING_MAX_STEP_SEC);
  const lines = [
    `The sustained-ingest ladder (steps of ${stepSec} s) against the same ingest for each load shape; CPU per reading of the ingest and of its PostgreSQL backends at the highest step held, and what one fully used core buys at that cost (1 s over their sum; Mosquitto and the simulator not counted).`,
    '',
    '| devices | connections | readings per message | sustained readings/s | CPU µs/reading: ingest + database | readings/s per core | stopped by |',
    '|---|---|---|---|---|---|---|',
  ];
  for (const r of rows) {
    const cpu = r.cpuMicrosPerReading;
    const shape = `| ${r.devices} | ${r.connections ?? r.devices} | ${r.readingsPerMessage} |`;
    lines.push(
      r.error !== undefined
        ? `${shape} — | — | — | could not run: ${r.error.replaceAll('|', '/')} |`
        : `${shape} ${r.sustainedReadingsPerSec} | ${cpu?.process ?? '—'} + ${cpu?.database ?? '—'} | ${r.readingsPerCore ?? '—'} | ${r.firstFailure ?? 'the last step'} |`,
    );
  }
  return lines;
}
