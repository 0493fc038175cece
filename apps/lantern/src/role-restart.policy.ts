/** First wait before restarting a role that exited; doubled after each exit that came soon after a start. */
export const RESTART_INITIAL_DELAY_MS = 1000;
/** Longest wait between restarts. */
export const RESTART_MAX_DELAY_MS = 30_000;
/** A run at least this long counts as healthy: the next exit restarts after the initial delay again. */
export const RESTART_STABLE_AFTER_MS = 60_000;
/** An exit this soon after a start is a start failure (bad configuration, a missing table, …). */
export const START_FAILURE_WITHIN_MS = 15_000;
/** This many start failures in a row stop Lantern: restarting will not fix what fails every time. */
export const MAX_START_FAILURES = 5;

export type RestartDecision =
  | { readonly action: 'restart'; readonly delayMs: number; readonly restarts: number }
  | { readonly action: 'give-up'; readonly startFailures: number };

/**
 * When to restart a role that exited on its own: exponential backoff (1 s doubling to 30 s, back to
 * 1 s after a run of a minute or more), and giving up after {@link MAX_START_FAILURES} runs in a row
 * that each ended within {@link START_FAILURE_WITHIN_MS} of their start. Pure: the caller measures
 * how long each run lasted.
 */
export class RoleRestartPolicy {
  private nextDelayMs = RESTART_INITIAL_DELAY_MS;
  private startFailures = 0;
  private count = 0;

  /** Restarts decided so far (what the role reports as lantern_role_restarts_total). */
  get restarts(): number {
    return this.count;
  }

  /** Decides what follows a run that lasted `uptimeMs` and ended without being asked to. */
  onExit(uptimeMs: number): RestartDecision {
    if (uptimeMs >= RESTART_STABLE_AFTER_MS) this.nextDelayMs = RESTART_INITIAL_DELAY_MS;
    this.startFailures = uptimeMs < START_FAILURE_WITHIN_MS ? this.startFailures + 1 : 0;
    if (this.startFailures >= MAX_START_FAILURES) return { action: 'give-up', startFailures: this.startFailures };
    const delayMs = this.nextDelayMs;
    this.nextDelayMs = Math.min(RESTART_MAX_DELAY_MS, this.nextDelayMs * 2);
    this.count += 1;
    return { action: 'restart', delayMs, restarts: this.count };
  }
}
