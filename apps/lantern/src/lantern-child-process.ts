import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';

/** Compiled next to this file: makes the role stop when the supervisor dies (see the file). */
const SUPERVISOR_WATCH = new URL('./supervisor-watch.preload.js', import.meta.url).href;

/** One Lantern process (api or ingest) run by the supervisor, its output prefixed with `[name]`. */
export class LanternChildProcess {
  private readonly child: ChildProcess;
  /** Resolves when the process has exited, with how it ended. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  constructor(
    readonly name: string,
    script: string,
    env: NodeJS.ProcessEnv,
  ) {
    this.child = spawn(process.execPath, ['--import', SUPERVISOR_WATCH, script], {
      env,
      // The IPC channel is only there to close when the supervisor dies.
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      // Its own process group: Ctrl-C in a terminal reaches the supervisor alone, which stops the
      // roles itself, in order; a role that exits while nobody stopped it has crashed.
      detached: true,
    });
    this.child.channel?.unref();
    this.exited = new Promise((resolve) => this.child.once('exit', (code, signal) => resolve({ code, signal })));
    for (const [stream, sink] of [
      [this.child.stdout!, process.stdout],
      [this.child.stderr!, process.stderr],
    ] as const) {
      createInterface({ input: stream, crlfDelay: Infinity }).on('line', (line) => sink.write(`[${name}] ${line}\n`));
    }
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** SIGTERM, then SIGKILL when it is still running after `graceMs`; resolves once it has exited. */
  async stop(graceMs: number): Promise<void> {
    if (!this.running) return;
    this.child.kill('SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    const killed = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), graceMs)));
    if ((await Promise.race([this.exited, killed])) === 'timeout') {
      process.stderr.write(`[lantern] ${this.name} did not stop within ${graceMs / 1000} s: killing it\n`);
      this.child.kill('SIGKILL');
      await this.exited;
    }
    clearTimeout(timer);
  }
}
