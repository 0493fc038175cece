import { join } from 'node:path';
import { API_ENTRY, INGEST_ENTRY } from '../infra/built-apps.js';
import { IngestMetrics } from '../infra/ingest-metrics.js';
import { freePort, startProcess, waitUntil, type BenchProcess } from '../infra/processes.js';
import { IngestInstance, IngestSlot, RECOVER_TIMEOUT_MS } from './ingest-slot.js';

/**
 * Lantern as the chaos run starts it: the built ingest (supervised in a slot; a standby in a second
 * one) and the built api as child processes on one environment. It owns starting them, which slot and
 * api are current, and the api's health check that times a recovery.
 */
export class ChaosLantern {
  /** The slot of the active ingest (the standby's after a failover). */
  slot: IngestSlot;
  api: BenchProcess | undefined;
  /** Every slot ever made, stopped together at the end. */
  readonly slots: IngestSlot[] = [];

  constructor(
    private readonly rootDir: string,
    private readonly env: Record<string, string>,
    readonly apiUrl: string,
    private readonly onProcess: (proc: BenchProcess) => void,
    private readonly log: (line: string) => void,
  ) {
    this.slot = this.newSlot();
  }

  /** A new supervised ingest slot (not started). */
  newSlot(): IngestSlot {
    const slot = new IngestSlot(() => this.spawnIngest(), this.log);
    this.slots.push(slot);
    return slot;
  }

  /** Starts the first ingest and waits until it has subscribed. */
  async startIngest(): Promise<void> {
    const first = await this.slot.start();
    await first.subscribed(60_000);
  }

  /** Starts the api (again). */
  startApi(): BenchProcess {
    const proc = startProcess('api', process.execPath, [join(this.rootDir, API_ENTRY)], {
      ...this.env,
      LOG_LEVEL: 'warn',
    });
    this.onProcess(proc);
    this.api = proc;
    return proc;
  }

  /** Waits until the api's /health answers 200; ms since `from`. */
  async healthy(from: number): Promise<number> {
    await waitUntil(
      'the api /health to answer 200',
      async () => (await fetch(`${this.apiUrl}/health`)).ok,
      RECOVER_TIMEOUT_MS,
      this.api,
    );
    return performance.now() - from;
  }

  /** Stops every slot from restarting its ingest (the run is ending). */
  stopSlots(): void {
    for (const x of this.slots) x.stopped = true;
  }

  /** Times the ingest exited on its own, over every slot. */
  restarts(): number {
    return this.slots.reduce((n, x) => n + x.restarts, 0);
  }

  private async spawnIngest(): Promise<IngestInstance> {
    const port = await freePort();
    // 'log' level: the standby's "Standby:" line is how the run sees it waiting.
    const proc = startProcess('ingest', process.execPath, [join(this.rootDir, INGEST_ENTRY)], {
      ...this.env,
      INGEST_METRICS_PORT: String(port),
      LOG_LEVEL: 'log',
    });
    this.onProcess(proc);
    return new IngestInstance(proc, IngestMetrics.onPort(port));
  }
}
