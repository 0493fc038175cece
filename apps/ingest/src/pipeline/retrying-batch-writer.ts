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
  readonly onCommitted?: (items: number, ms: number) => void;
  readonly onError?: (error: unknown, attempt: number, retryInMs: number) => void;
  readonly onRecovered?: (attempts: number) => void;
  /** First retry delay; doubles up to maxBackoffMs. */
  readonly initialBackoffMs?: number;
  readonly maxBackoffMs?: number;
}

interface Entry<T> {
  readonly item: T;
  readonly message: PendingMessage | undefined;
  readonly addedAt: number;
}

/**
 * Accumulates items and writes them in size- and time-bounded batches, one write at a time, so the
 * next batch fills while the current one commits. A failed write is retried with backoff until it
 * succeeds — nothing is dropped and nothing is acknowledged meanwhile; memory stays bounded because
 * the consumer stops reading when too many messages are unacknowledged.
 */
export class RetryingBatchWriter<T> {
  private queue: Entry<T>[] = [];
  private writing = 0;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  private idleWaiters: (() => void)[] = [];

  constructor(private readonly options: BatchWriterOptions<T>) {}

  /** Items waiting for or inside a write. */
  get depth(): number {
    return this.queue.length + this.writing;
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
    let batch = this.take();
    if (batch.length === 0) return this.settle();
    this.writing += 1;
    // Another write may start at once if the queue holds a full batch more.
    this.schedule();
    let attempt = 0;
    let backoff = this.options.initialBackoffMs ?? 100;
    for (;;) {
      const started = performance.now();
      try {
        await this.options.write(batch.map((e) => e.item));
        this.options.onCommitted?.(batch.length, performance.now() - started);
        if (attempt > 0) this.options.onRecovered?.(attempt);
        break;
      } catch (error) {
        attempt += 1;
        this.options.onError?.(error, attempt, backoff);
        await sleep(backoff);
        backoff = Math.min(backoff * 2, this.options.maxBackoffMs ?? 5000);
        if (this.closed) {
          this.writing -= 1;
          return;
        }
        batch = batch.filter((e) => !e.message?.abandoned);
        if (batch.length === 0) break;
      }
    }
    this.writing -= 1;
    for (const e of batch) e.message?.release();
    this.settle();
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
