import type { AedesPostgresRepository } from '@lantern/storage';
import { isEmptyBrokerChange } from '@lantern/storage';
import type { BrokerState, StateWrite } from './broker-state.js';
import { errorText, type Waiter } from './persistence-helpers.js';

const RETRY_MIN_MS = 100;
const RETRY_MAX_MS = 5000;

/**
 * Writes the broker's state to PostgreSQL, group-committed: whatever changed while the previous
 * write was in flight goes out as one statement, one write at a time, in order; a failed write is
 * retried with a growing delay, and deferred queue rows are written when due. Owns those waiting
 * for a commit, and the last writes when the persistence closes.
 */
export class GroupCommit {
  /** Wait for the next write that includes everything changed so far. */
  private waiters: Waiter[] = [];
  /** The next write takes deferred changes too (flush(), close()). */
  private writeAll = false;
  private writing: Promise<void> | undefined;
  private writeScheduled = false;
  private retryTimer: NodeJS.Timeout | undefined;
  private deferTimer: NodeJS.Timeout | undefined;
  private failures = 0;
  private closing: Promise<void> | undefined;

  constructor(
    private readonly state: BrokerState,
    private readonly repository: AedesPostgresRepository,
    private readonly onLog: (line: string) => void,
  ) {}

  /** Resolves once a write that includes every change made so far has committed. */
  committed(): Promise<void> {
    if (this.closing) return Promise.reject(new Error('the broker persistence is closed'));
    return new Promise((resolve, reject) => {
      this.waiters.push({ resolve, reject });
      this.scheduleWrite();
    });
  }

  /** Resolves once every change made so far has been committed, deferred queue rows included. */
  flush(): Promise<void> {
    this.writeAll = true;
    return this.committed();
  }

  scheduleWrite(): void {
    if (this.writing || this.writeScheduled || this.retryTimer || this.closing) return;
    this.writeScheduled = true;
    // One turn of the event loop gathers what the same socket reads changed.
    setImmediate(() => {
      this.writeScheduled = false;
      // One write at a time, in order: a running one schedules the next when it ends.
      if (this.writing || this.closing) return;
      this.writing = this.writeOnce().finally(() => {
        this.writing = undefined;
        if (this.waiters.length > 0 || this.state.hasPending()) this.scheduleWrite();
        else this.scheduleDeferred();
      });
    });
  }

  /** Writes what is still pending and stops; rejects when that last write fails (then it is lost). */
  close(): Promise<void> {
    this.closing ??= (async () => {
      await this.writing;
      clearTimeout(this.retryTimer);
      clearTimeout(this.deferTimer);
      this.retryTimer = this.deferTimer = undefined;
      // Several statements when a burst is bigger than one may carry.
      for (;;) {
        const batch = this.take(true);
        if (isEmptyBrokerChange(batch.changes)) {
          batch.committed();
          return;
        }
        try {
          await this.repository.write(batch.changes);
          batch.committed();
        } catch (error) {
          const failure = new Error(`the broker's last changes were not saved: ${errorText(error)}`);
          for (const waiter of batch.waiters) waiter.reject(failure);
          batch.rejectJournal(failure);
          throw failure;
        }
      }
    })();
    return this.closing;
  }

  /** Wakes the writer when the oldest deferred change is due. */
  private scheduleDeferred(): void {
    if (this.deferTimer || this.closing) return;
    const dueAt = this.state.outgoing.nextDeferredDueAt();
    if (dueAt === undefined) return;
    this.deferTimer = setTimeout(
      () => {
        this.deferTimer = undefined;
        this.scheduleWrite();
      },
      Math.max(1, dueAt - performance.now()),
    );
    this.deferTimer.unref();
  }

  private async writeOnce(): Promise<void> {
    const all = this.writeAll;
    this.writeAll = false;
    const batch = this.take(all);
    if (isEmptyBrokerChange(batch.changes)) {
      batch.committed();
      return;
    }
    try {
      await this.repository.write(batch.changes);
      if (this.failures > 0) this.onLog(`broker persistence: writing again after ${this.failures} failed attempt(s)`);
      this.failures = 0;
      batch.committed();
    } catch (error) {
      this.failures += 1;
      batch.failed(error instanceof Error ? error : new Error(String(error)));
      if (all) this.writeAll = true;
      const delay = Math.min(RETRY_MAX_MS, RETRY_MIN_MS * 2 ** (this.failures - 1));
      this.onLog(`broker persistence: write failed (${errorText(error)}); retrying in ${delay} ms`);
      this.retryTimer = setTimeout(() => {
        this.retryTimer = undefined;
        this.scheduleWrite();
      }, delay);
      this.retryTimer.unref();
    }
  }

  /**
   * The state's pending changes as a write (see {@link BrokerState.take}), with those waiting for
   * it: they are told when it commits, and wait for the retry when it fails.
   */
  private take(all: boolean): StateWrite & { readonly waiters: Waiter[] } {
    const waiters = this.waiters;
    this.waiters = [];
    const write = this.state.take(all);
    return {
      ...write,
      waiters,
      committed: () => {
        for (const waiter of waiters) waiter.resolve();
        write.committed();
      },
      failed: (error) => {
        write.failed(error);
        // Those waiting for session state wait for the retry.
        this.waiters.unshift(...waiters);
      },
    };
  }
}
