import { metricValue, type IngestMetrics } from '../infra/ingest-metrics.js';
import { peakRss, startProcess, waitUntil, type BenchProcess } from '../infra/processes.js';

/**
 * The built ingest as a child process; restarted (and counted) if it ever exits on its own. It owns
 * what the fuzz run learns from the process: its restarts, their last output and its peak memory.
 */
export class IngestUnderTest {
  restarts = 0;
  peakRssBytes = 0;
  private proc: BenchProcess | undefined;
  private stopping = false;
  private readonly exits: string[] = [];

  constructor(
    private readonly entry: string,
    private readonly env: Record<string, string>,
    private readonly endpoint: IngestMetrics,
    private readonly log: (line: string) => void,
  ) {}

  get process(): BenchProcess | undefined {
    return this.proc;
  }

  get exitTails(): readonly string[] {
    return this.exits;
  }

  async start(): Promise<void> {
    const proc = startProcess('ingest', process.execPath, [this.entry], this.env);
    this.proc = proc;
    proc.child.once('exit', (code, signal) => {
      if (this.stopping) return;
      this.restarts++;
      this.noteRss();
      const tail = proc.output().slice(-4000);
      this.exits.push(tail);
      this.log(`  ✗ the ingest exited (${signal ?? code}); restarting it. Last output:\n${tail}`);
      void this.start().catch((error: unknown) => this.log(`  ✗ restarting the ingest failed: ${String(error)}`));
    });
    await waitUntil(
      'the ingest to subscribe',
      async () => {
        const text = await this.metrics();
        return (
          metricValue(text, 'lantern_ingest_broker_connected') === 1 &&
          metricValue(text, 'lantern_ingest_subscribed_filters') > 0
        );
      },
      60_000,
      proc,
    );
  }

  async metrics(): Promise<string> {
    return this.endpoint.text();
  }

  /** Peak resident memory so far (VmHWM), over every process the ingest ran as. */
  noteRss(): void {
    if (!this.proc) return;
    this.peakRssBytes = Math.max(this.peakRssBytes, peakRss(this.proc.pid) ?? 0);
  }

  async stop(): Promise<void> {
    this.stopping = true;
    this.noteRss();
    await this.proc?.stop();
  }
}
