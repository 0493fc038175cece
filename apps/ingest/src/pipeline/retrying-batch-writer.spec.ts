import { describe, expect, it } from '@jest/globals';
import { PendingMessage } from '../consumer/pending-message.js';
import { RetryingBatchWriter } from './retrying-batch-writer.js';

/** A write the test completes by hand. */
interface HeldWrite {
  items: string[];
  done(): void;
  fail(): void;
}

function writerWith(concurrency: number) {
  const writes: HeldWrite[] = [];
  const writer = new RetryingBatchWriter<string>({
    name: 'test',
    maxItems: 2,
    maxWaitMs: 0,
    concurrency,
    initialBackoffMs: 1,
    write: (items) =>
      new Promise<void>((resolve, reject) => writes.push({ items, done: resolve, fail: () => reject(new Error('x')) })),
  });
  return { writer, writes };
}

const tick = () => new Promise((resolve) => setTimeout(resolve, 5));

/**
 * Waits until `writes` holds `count` writes, then a tick more (so a write too many would show).
 * A retry waits for its backoff timer, which a loaded machine can delay well past one tick.
 */
async function writesReach(writes: readonly HeldWrite[], count: number): Promise<void> {
  const deadline = Date.now() + 5000;
  while (writes.length < count && Date.now() < deadline) await tick();
  await tick();
}

describe('RetryingBatchWriter', () => {
  it('keeps at most `concurrency` writes in flight, in batches of at most maxItems, in order', async () => {
    const { writer, writes } = writerWith(2);
    for (const item of ['a', 'b', 'c', 'd', 'e']) writer.add(item);
    await writesReach(writes, 2);
    expect(writes.map((w) => w.items)).toEqual([
      ['a', 'b'],
      ['c', 'd'],
    ]);
    writes[0].done();
    await writesReach(writes, 3);
    expect(writes.map((w) => w.items)).toEqual([['a', 'b'], ['c', 'd'], ['e']]);
    writes[1].done();
    writes[2].done();
    await writer.drain();
    expect(writer.depth).toBe(0);
  });

  it('writes one batch at a time by default', async () => {
    const { writer, writes } = writerWith(1);
    for (const item of ['a', 'b', 'c']) writer.add(item);
    await writesReach(writes, 1);
    expect(writes.map((w) => w.items)).toEqual([['a', 'b']]);
    writes[0].done();
    await writesReach(writes, 2);
    expect(writes.map((w) => w.items)).toEqual([['a', 'b'], ['c']]);
    writes[1].done();
    await writer.drain();
  });

  it('releases a message only once its batch committed, retrying a failed write', async () => {
    const { writer, writes } = writerWith(2);
    const completed: string[] = [];
    const message = (id: string) => new PendingMessage(undefined, 0, 0, () => completed.push(id));
    const first = message('first');
    const second = message('second');
    writer.add('a', first);
    writer.add('b', first);
    writer.add('c', second);
    first.seal();
    second.seal();
    await writesReach(writes, 2);
    expect(writes.map((w) => w.items)).toEqual([['a', 'b'], ['c']]);
    writes[1].done();
    writes[0].fail();
    await writesReach(writes, 3);
    expect(completed).toEqual(['second']);
    // The retry of the failed batch, same items.
    expect(writes[2].items).toEqual(['a', 'b']);
    writes[2].done();
    await writer.drain();
    expect(completed).toEqual(['second', 'first']);
  });
});

/** A database stand-in: refuses (SQLSTATE 22021) any batch holding a bad item, optionally after transient failures. */
function refusingWriter(options: { maxItems: number; transientFailures?: number; bad: (item: number) => boolean }) {
  const written: number[] = [];
  const refused: number[] = [];
  const errors: string[] = [];
  const attempts: number[][] = [];
  let transient = options.transientFailures ?? 0;
  const writer = new RetryingBatchWriter<number>({
    name: 'test',
    maxItems: options.maxItems,
    maxWaitMs: 0,
    initialBackoffMs: 1,
    isRefusal: (error) => (error as { code?: string }).code === '22021',
    write: (items) => {
      attempts.push(items);
      if (transient > 0) {
        transient -= 1;
        return Promise.reject(new Error('Connection terminated unexpectedly'));
      }
      if (items.some(options.bad))
        return Promise.reject(
          Object.assign(new Error('invalid byte sequence for encoding "UTF8": 0x00'), { code: '22021' }),
        );
      written.push(...items);
      return Promise.resolve();
    },
    onRefused: (entries, error) => {
      refused.push(...entries.map((e) => e.item));
      errors.push((error as Error).message);
    },
    onError: (error) => errors.push(`retry: ${(error as Error).message}`),
  });
  return { writer, written, refused, errors, attempts };
}

/** Adds items 0..n-1, each holding its own message; returns the ids of completed messages. */
function addAll(writer: RetryingBatchWriter<number>, n: number): number[] {
  const completed: number[] = [];
  for (let i = 0; i < n; i++) {
    const message = new PendingMessage(i, 0, 0, () => completed.push(i));
    writer.add(i, message);
    message.seal();
  }
  return completed;
}

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

describe('RetryingBatchWriter with items the database refuses', () => {
  it('isolates one refused item among 500: writes the 499 others in order, refuses it once, releases every message', async () => {
    const { writer, written, refused, errors, attempts } = refusingWriter({ maxItems: 500, bad: (i) => i === 137 });
    const completed = addAll(writer, 500);
    await writer.drain();
    expect(written).toEqual(range(500).filter((i) => i !== 137));
    expect(refused).toEqual([137]);
    expect(errors).toEqual(['invalid byte sequence for encoding "UTF8": 0x00']);
    expect(completed.sort((a, b) => a - b)).toEqual(range(500));
    // Bisection: about two writes per halving, not one per item.
    expect(attempts.length).toBeLessThanOrEqual(2 * Math.ceil(Math.log2(500)) + 1);
    expect(writer.depth).toBe(0);
    expect(writer.retrying).toBeUndefined();
  });

  it('refuses every item when all are bad, never retrying, and still releases every message', async () => {
    const { writer, written, refused, errors } = refusingWriter({ maxItems: 8, bad: () => true });
    const completed = addAll(writer, 20);
    await writer.drain();
    expect(written).toEqual([]);
    expect(refused).toEqual(range(20));
    expect(errors.filter((e) => e.startsWith('retry'))).toEqual([]);
    expect(completed.sort((a, b) => a - b)).toEqual(range(20));
  });

  it('retries a transient failure with backoff, then splits when the database refuses the data', async () => {
    const { writer, written, refused, errors, attempts } = refusingWriter({
      maxItems: 4,
      transientFailures: 2,
      bad: (i) => i === 2,
    });
    const completed = addAll(writer, 4);
    await writer.drain();
    expect(errors).toEqual([
      'retry: Connection terminated unexpectedly',
      'retry: Connection terminated unexpectedly',
      'invalid byte sequence for encoding "UTF8": 0x00',
    ]);
    expect(attempts).toEqual([[0, 1, 2, 3], [0, 1, 2, 3], [0, 1, 2, 3], [0, 1], [2, 3], [2], [3]]);
    expect(written).toEqual([0, 1, 3]);
    expect(refused).toEqual([2]);
    expect(completed.sort()).toEqual([0, 1, 2, 3]);
  });

  it('keeps the order of items across splits and later batches', async () => {
    const { writer, written, refused } = refusingWriter({ maxItems: 10, bad: (i) => i % 7 === 3 });
    addAll(writer, 35);
    await writer.drain();
    expect(written).toEqual(range(35).filter((i) => i % 7 !== 3));
    expect(refused).toEqual([3, 10, 17, 24, 31]);
  });

  it('reports since when and how often a write keeps failing, and clears that once it succeeds', async () => {
    const { writer, writes } = writerWith(1);
    expect(writer.retrying).toBeUndefined();
    const before = Date.now();
    writer.add('a');
    await writesReach(writes, 1);
    writes[0].fail();
    await writesReach(writes, 2);
    expect(writer.retrying).toEqual({ since: expect.any(Number), attempts: 1 });
    expect(writer.retrying!.since).toBeGreaterThanOrEqual(before);
    writes[1].fail();
    await writesReach(writes, 3);
    expect(writer.retrying?.attempts).toBe(2);
    writes[2].done();
    await writer.drain();
    expect(writer.retrying).toBeUndefined();
  });
});
