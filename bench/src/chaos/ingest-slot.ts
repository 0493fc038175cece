import type { IngestMetrics } from '../infra/ingest-metrics.js';
import { waitUntil, type BenchProcess } from '../infra/processes.js';

/** Bound on the time a fault's recovery (readings stored again, /health 200) may take. */
export const RECOVER_TIMEOUT_MS = 120_000;

/*
 * The chaos run's ingest processes: an instance (a process with its own metrics port, which a standby
 * needs) and the slot that supervises one, restarting it as a supervisor would and measuring how long
 * it takes to store readings again after a fault.
 */

/** One ingest process with its own metrics port (a standby needs another). */
export class IngestInstance {
  constructor(
    readonly proc: BenchProcess,
    readonly metrics: IngestMetrics,
  ) {}

  async stored(): Promise<number> {
    return this.metrics.value('lantern_ingest_readings_stored_total');
  }

  async pending(): Promise<number> {
    return this.metrics.value('lantern_ingest_pending_messages');
  }

  /** Waits until it has subscribed to the devices' topics. */
  async subscribed(timeoutMs: number): Promise<void> {
    await waitUntil(
      'the ingest to subscribe',
      async () => (await this.metrics.value('lantern_ingest_subscribed_filters')) > 0,
      timeoutMs,
      this.proc,
    );
  }

  get alive(): boolean {
    return this.proc.child.exitCode === null && this.proc.child.signalCode === null;
  }

  /** Set when the harness killed it: not restarted by its slot. */
  killed = false;

  kill9(): Promise<void> {
    this.killed = true;
    const exited = new Promise<void>((resolve) => this.proc.child.once('exit', () => resolve()));
    if (!this.alive) return Promise.resolve();
    this.proc.child.kill('SIGKILL');
    return exited;
  }
}

/**
 * One supervised ingest, as `npm start` or a container restart policy runs it: an instance that
 * exits on its own (it steps down when it cannot renew its lease, e.g. with the database away) is
 * started again after 1 s; one the harness kills is not (the fault restarts it, or a standby takes over).
 */
export class IngestSlot {
  current: IngestInstance | undefined;
  restarts = 0;
  stopped = false;

  constructor(
    private readonly spawn: () => Promise<IngestInstance>,
    private readonly log: (line: string) => void,
  ) {}

  async start(): Promise<IngestInstance> {
    const instance = await this.spawn();
    this.current = instance;
    instance.proc.child.once('exit', (code, signal) => {
      if (instance.killed || this.stopped || this.current !== instance) return;
      this.restarts++;
      const last = instance.proc.output().trim().split('\n').slice(-1)[0] ?? '';
      this.log(`  the ingest exited on its own (${signal ?? code}), restarted in 1 s: ${last.slice(0, 300)}`);
      setTimeout(() => {
        if (!this.stopped && this.current === instance) void this.start().catch(() => undefined);
      }, 1000);
    });
    return instance;
  }

  /** Where "stored again" is measured from: the instance running now and its count. */
  async mark(): Promise<{ instance: IngestInstance | undefined; stored: number }> {
    const instance = this.current;
    return { instance, stored: instance?.alive ? await instance.stored().catch(() => 0) : 0 };
  }

  /** Waits until the slot's ingest (that one, or a newer one) has stored readings since `mark`; ms since `from`. */
  async storedAgain(mark: { instance: IngestInstance | undefined; stored: number }, from: number): Promise<number> {
    await waitUntil(
      'the ingest to store readings again',
      async () => {
        const now = this.current;
        if (!now?.alive) return false;
        return (await now.stored()) > (now === mark.instance ? mark.stored : 0);
      },
      RECOVER_TIMEOUT_MS,
    );
    return performance.now() - from;
  }
}
