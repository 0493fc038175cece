import type { PendingMessage } from '../consumer/pending-message.js';

export interface BatchWriterOptions<T> {
  readonly name: string;
  /** Items per write at most. */
  readonly maxItems: number;
  /** A write starts at the latest this long after the oldest waiting item arrived. */
  readonly maxWaitMs: number;
  /** Writes in flight at once (default 1); the next batch fills while they commit. */
  readonly concurrency?: number;
  /** Writes one batch durably (committed when it resolves). */
  readonly write: (items: T[]) => Promise<void>;
  /**
   * Whether a failed write was refused for its data (it would fail the same way again): such a
   * batch is split to find the items at fault. Without it every failure is retried.
   */
  readonly isRefusal?: (error: unknown) => boolean;
  /**
   * Items the database refused, never retried. Their messages are released right after this
   * returns (and so acknowledged): work done for them here must hold the message itself. Must not throw.
   */
  readonly onRefused?: (refused: readonly BatchEntry<T>[], error: unknown) => void;
  readonly onCommitted?: (items: number, ms: number) => void;
  readonly onError?: (error: unknown, attempt: number, retryInMs: number) => void;
  readonly onRecovered?: (attempts: number) => void;
  /** First retry delay; doubles up to maxBackoffMs. */
  readonly initialBackoffMs?: number;
  readonly maxBackoffMs?: number;
}

/** An item and the message it holds until written (or refused). */
export interface BatchEntry<T> {
  readonly item: T;
  readonly message: PendingMessage | undefined;
}

interface Entry<T> extends BatchEntry<T> {
  readonly addedAt: number;
}

/** A write's current run of retried failures. */
export interface RetryingState {
  /** Epoch ms of the first failure of the run. */
  readonly since: number;
  readonly attempts: number;
}

/**
 * Accumulates items and writes them in size- and time-bounded batches, one write at a time, so the
 * next batch fills while the current one commits. A write that fails transiently (connection,
 * resources) is retried with backoff until it succeeds — nothing is dropped and nothing is
 * acknowledged meanwhile; memory stays bounded because the consumer stops reading when too many
 * messages are unacknowledged. A write refused for its data is split in halves until the refused
 * items stand alone: the others are written, the refused ones handed to `onRefused` — one bad value
 * never jams the writer.
 */
export class RetryingBatchWriter<T> {
  private queue: Entry<T>[] = [];
  private writing = 0;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  private idleWaiters: (() => void)[] = [];
  private readonly failures = new Set<{ since: number; attempts: number }>();

  constructor(private readonly options: BatchWriterOptions<T>) {}

  /** Items waiting for or inside a write. */
  get depth(): number {
    return this.queue.length + this.writing;
  }

  /** Set while a write keeps failing and is being retried (the longest-failing one when several are). */
  get retrying(): RetryingState | undefined {
    let oldest: RetryingState | undefined;
    for (const f of this.failures)
      if (!oldest || f.since < oldest.since) oldest = { since: f.since, attempts: f.attempts };
    return oldest;
  }

  /** Queues an item; the message (if any) is held until the item's batch commits. */
  add(item: T, message?: PendingMessage): void {
    message?.hold();
    this.queue.push({ item, message, addedAt: Date.now() });
    this.schedule();
  }

  /** Resolves when everything queued so far is committed. */
  async drain(): Promise<void> {
    if (this.queue.length === 0 && this.writing === 0) return;
    await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
  }

  /** Stops retrying and timers (shutdown); unwritten items stay unacknowledged and are redelivered. */
  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    for (const resolve of this.idleWaiters.splice(0)) resolve();
  }

  private schedule(): void {
    if (this.writing >= (this.options.concurrency ?? 1) || this.closed || this.queue.length === 0) return;
    if (this.queue.length >= this.options.maxItems) {
      if (this.timer) clearTimeout(this.timer);
      this.timer = undefined;
      void this.writeNext();
      return;
    }
    if (this.timer) return;
    const wait = Math.max(0, this.queue[0].addedAt + this.options.maxWaitMs - Date.now());
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.writeNext();
    }, wait);
  }

  private async writeNext(): Promise<void> {
    if (this.writing >= (this.options.concurrency ?? 1) || this.closed) return;
    // Items of messages whose connection dropped will come again (redelivery): don't write them twice.
    const batch = this.take();
    if (batch.length === 0) return this.settle();
    this.writing += 1;
    // Another write may start at once if the queue holds a full batch more.
    this.schedule();
    const failing = { since: 0, attempts: 0 };
    const done = await this.commit(batch, failing);
    this.failures.delete(failing);
    this.writing -= 1;
    if (!done) return;
    for (const e of done) e.message?.release();
    this.settle();
  }

  /**
   * Writes the entries in order, retrying transient failures and halving refused batches; resolves
   * to the entries done with (written or refused), or undefined once closed.
   */
  private async commit(
    entries: Entry<T>[],
    failing: { since: number; attempts: number },
  ): Promise<Entry<T>[] | undefined> {
    let backoff = this.options.initialBackoffMs ?? 100;
    for (;;) {
      const started = performance.now();
      try {
        await this.options.write(entries.map((e) => e.item));
        this.options.onCommitted?.(entries.length, performance.now() - started);
        this.recovered(failing);
        return entries;
      } catch (error) {
        if (this.options.isRefusal?.(error)) {
          // The database answered: whatever failed before is over; these items are at fault.
          this.recovered(failing);
          if (entries.length === 1) {
            this.options.onRefused?.(entries, error);
            return entries;
          }
          const half = Math.ceil(entries.length / 2);
          const first = await this.commit(entries.slice(0, half), failing);
          const second = first && (await this.commit(entries.slice(half), failing));
          return second && [...first, ...second];
        }
        failing.attempts += 1;
        if (failing.attempts === 1) {
          failing.since = Date.now();
          this.failures.add(failing);
        }
        this.options.onError?.(error, failing.attempts, backoff);
        await sleep(backoff);
        backoff = Math.min(backoff * 2, this.options.maxBackoffMs ?? 5000);
        if (this.closed) return undefined;
        entries = entries.filter((e) => !e.message?.abandoned);
        if (entries.length === 0) return entries;
      }
    }
  }

  private recovered(failing: { since: number; attempts: number }): void {
    if (failing.attempts === 0) return;
    this.options.onRecovered?.(failing.attempts);
    failing.attempts = 0;
    this.failures.delete(failing);
  }

  private take(): Entry<T>[] {
    const batch: Entry<T>[] = [];
    let i = 0;
    for (; i < this.queue.length && batch.length < this.options.maxItems; i++) {
      const e = this.queue[i];
      if (!e.message?.abandoned) batch.push(e);
    }
    this.queue = i === this.queue.length ? [] : this.queue.slice(i);
    return batch;
  }

  private settle(): void {
    if (this.queue.length > 0) this.schedule();
    else if (this.writing === 0) for (const resolve of this.idleWaiters.splice(0)) resolve();
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
