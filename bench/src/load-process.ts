import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startProcess, waitUntil, type BenchProcess } from './infra/processes.js';

export interface LoadSnapshot {
  /** Connections with a session, of `connections` (one per device unless the devices share them). */
  connected: number;
  connections: number;
  devices: number;
  acked: number;
  ackedReadings: number;
  sent: number;
  inFlight: number;
  errors: number;
  heldBack: number;
  readingsPerSec: number;
  rssBytes: number;
  phase: string;
  /** Seconds since the simulator started, on its own clock, when it took this report. */
  elapsedSec: number;
}

/**
 * The share of a target rate the load generator must achieve for a measurement under that load to
 * count: a sustained step in which it published less fails, as does the alert phase.
 */
export const LOAD_ACHIEVED_MIN = 0.95;

/**
 * The simulator's load mode as a separate process (so its memory is measured apart from the
 * harness), driven over stdin: "rate N" changes the rate without reconnecting the devices.
 */
export class LoadProcess {
  latest: LoadSnapshot | undefined;
  private readonly waiting = new Set<(report: LoadSnapshot) => void>();
  private constructor(readonly process: BenchProcess) {}

  static async start(
    rootDir: string,
    workDir: string,
    devices: { deviceId: string; secret: string }[],
    /** Where the devices connect; `caFile`: the certificate they trust for an mqtts:// URL. */
    broker: { url: string; caFile?: string },
    topicRoot: string,
    shape: { readingsPerMessage?: number; connections?: number } = {},
  ): Promise<LoadProcess> {
    const { readingsPerMessage = 2, connections = devices.length } = shape;
    const entry = join(rootDir, 'dist/device-simulator/device-simulator/src/main.js');
    if (!existsSync(entry)) throw new Error(`${entry} is missing: build first (npm run build)`);
    const file = join(workDir, 'load-devices.json');
    writeFileSync(file, JSON.stringify(devices.map(({ deviceId, secret }) => ({ deviceId, secret }))));
    const proc = startProcess(
      'simulator',
      process.execPath,
      [
        entry,
        'load',
        '--devices-file',
        file,
        '--rate',
        '0',
        '--json',
        '--mqtt',
        broker.url,
        '--root',
        topicRoot,
        '--connect-concurrency',
        '250',
        '--readings-per-message',
        String(readingsPerMessage),
        '--connections',
        String(connections),
        ...(broker.caFile !== undefined ? ['--ca', broker.caFile] : []),
      ],
      {},
      {
        stdin: true,
        onLine: (line) => {
          if (!line.startsWith('{')) return;
          try {
            self.latest = JSON.parse(line) as LoadSnapshot;
            for (const resolve of self.waiting) resolve(self.latest);
            self.waiting.clear();
          } catch {
            // a partial line; the next one will do
          }
        },
      },
    );
    const self = new LoadProcess(proc);
    const timeoutMs = 30_000 + devices.length * 10;
    try {
      await waitUntil(
        connections === devices.length
          ? `${devices.length} simulated devices to connect`
          : `${connections} connections of ${devices.length} simulated devices to connect`,
        () => Promise.resolve((self.latest?.connected ?? 0) >= connections && self.latest?.phase === 'running'),
        timeoutMs,
        proc,
      );
    } catch (error) {
      await proc.stop();
      throw error;
    }
    return self;
  }

  /** The next report the simulator sends (about one a second), or an error after `timeoutMs`. */
  nextReport(timeoutMs = 10_000): Promise<LoadSnapshot> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(arrived);
        reject(new Error(`no report from the simulator within ${timeoutMs} ms`));
      }, timeoutMs);
      const arrived = (report: LoadSnapshot) => {
        clearTimeout(timer);
        resolve(report);
      };
      this.waiting.add(arrived);
    });
  }

  /**
   * Readings per second the devices had acknowledged between two of the simulator's reports, on its
   * own clock: `from` and a report taken after it (a window shorter than its report interval would
   * otherwise read as nothing published).
   */
  static achievedBetween(from: LoadSnapshot, to: LoadSnapshot): number {
    const sec = to.elapsedSec - from.elapsedSec;
    return sec > 0 ? Math.round((to.ackedReadings - from.ackedReadings) / sec) : 0;
  }

  setRate(readingsPerSec: number): void {
    this.process.child.stdin!.write(`rate ${Math.round(readingsPerSec)}\n`);
  }

  async stop(): Promise<void> {
    if (this.process.child.exitCode === null) this.process.child.stdin!.write('stop\n');
    const exited = new Promise((r) => this.process.child.once('exit', r));
    const timer = setTimeout(() => void this.process.stop(), 60_000);
    if (this.process.child.exitCode === null) await exited;
    clearTimeout(timer);
  }
}
