import { LanternChildProcess } from './lantern-child-process.js';
import { RoleRestartPolicy, START_FAILURE_WITHIN_MS } from './role-restart.policy.js';

/** What a role tells the supervisor: its log lines, and that restarting it is hopeless. */
export interface RoleEvents {
  say(line: string): void;
  warn(line: string): void;
  /** The role keeps failing right after its start: Lantern stops (the line has been printed). */
  gaveUp(): void;
}

/**
 * One role (api or ingest) under the supervisor: started, restarted with backoff when it exits on
 * its own (see {@link RoleRestartPolicy}), stopped on request. Each process learns how many times
 * its role was restarted from `LANTERN_ROLE_RESTARTS` and reports it as lantern_role_restarts_total.
 */
export class SupervisedRole {
  private readonly policy = new RoleRestartPolicy();
  private child: LanternChildProcess | undefined;
  private restartTimer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(
    readonly name: string,
    private readonly script: string,
    private readonly env: NodeJS.ProcessEnv,
    private readonly events: RoleEvents,
  ) {}

  /** The current process's id (undefined between a crash and its restart). */
  get pid(): number | undefined {
    return this.child?.running ? this.child.pid : undefined;
  }

  start(): void {
    const restarts = this.policy.restarts;
    const child = new LanternChildProcess(this.name, this.script, {
      ...this.env,
      LANTERN_ROLE_RESTARTS: String(restarts),
    });
    this.child = child;
    const startedAt = Date.now();
    this.events.say(
      restarts === 0
        ? `${this.name} started (pid ${child.pid})`
        : `${this.name} restarted (pid ${child.pid}, restart ${restarts})`,
    );
    void child.exited.then(({ code, signal }) => {
      if (this.stopped) return;
      const uptimeMs = Date.now() - startedAt;
      const how = `${signal ? `signal ${signal}` : `code ${code}`}`;
      const decision = this.policy.onExit(uptimeMs);
      if (decision.action === 'give-up') {
        this.events.warn(
          `${this.name} exited unexpectedly (${how}): it failed ${decision.startFailures} times in a row within ${START_FAILURE_WITHIN_MS / 1000} s of starting, so restarting will not help: stopping Lantern (its output above says why)`,
        );
        this.events.gaveUp();
        return;
      }
      this.events.warn(
        `${this.name} exited unexpectedly (${how}) after ${formatDuration(uptimeMs)}: restarting it in ${formatDuration(decision.delayMs)} (restart ${decision.restarts})`,
      );
      this.restartTimer = setTimeout(() => {
        this.restartTimer = undefined;
        if (!this.stopped) this.start();
      }, decision.delayMs);
    });
  }

  /** Stops the role for good: no restart pending or later; SIGTERM, SIGKILL after `graceMs`. */
  async stop(graceMs: number): Promise<void> {
    this.stopped = true;
    clearTimeout(this.restartTimer);
    await this.child?.stop(graceMs);
  }
}

/** "1 s", "2.5 s", "45 s", "14 min", "2 h 14 min": how long a role ran, or waits. */
export function formatDuration(ms: number): string {
  if (ms < 10_000) return `${(ms / 1000).toFixed(1).replace(/\.0$/, '')} s`;
  if (ms < 120_000) return `${Math.round(ms / 1000)} s`;
  const minutes = Math.floor(ms / 60_000);
  return minutes < 120 ? `${minutes} min` : `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
}
