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

describe('RetryingBatchWriter', () => {
  it('keeps at most `concurrency` writes in flight, in batches of at most maxItems, in order', async () => {
    const { writer, writes } = writerWith(2);
    for (const item of ['a', 'b', 'c', 'd', 'e']) writer.add(item);
    await tick();
    expect(writes.map((w) => w.items)).toEqual([
      ['a', 'b'],
      ['c', 'd'],
    ]);
    writes[0].done();
    await tick();
    expect(writes.map((w) => w.items)).toEqual([['a', 'b'], ['c', 'd'], ['e']]);
    writes[1].done();
    writes[2].done();
    await writer.drain();
    expect(writer.depth).toBe(0);
  });

  it('writes one batch at a time by default', async () => {
    const { writer, writes } = writerWith(1);
    for (const item of ['a', 'b', 'c']) writer.add(item);
    await tick();
    expect(writes.map((w) => w.items)).toEqual([['a', 'b']]);
    writes[0].done();
    await tick();
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
    await tick();
    expect(writes.map((w) => w.items)).toEqual([['a', 'b'], ['c']]);
    writes[1].done();
    writes[0].fail();
    await tick();
    expect(completed).toEqual(['second']);
    // The retry of the failed batch, same items.
    expect(writes[2].items).toEqual(['a', 'b']);
    writes[2].done();
    await writer.drain();
    expect(completed).toEqual(['second', 'first']);
  });
});
