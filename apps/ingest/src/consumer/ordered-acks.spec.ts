import { describe, expect, it } from '@jest/globals';
import type { InboundMessage } from './inbound-message.js';
import { OrderedAcks } from './ordered-acks.js';

describe('OrderedAcks', () => {
  it('acknowledges in arrival order even when later messages complete first', () => {
    const sent: number[][] = [];
    const acks = new OrderedAcks((run) => sent.push(run.map((m) => m.messageId!)));
    const [a, b, c] = [1, 2, 3].map((id) => acks.begin(id, 0));
    for (const m of [a, b, c]) m.hold();
    for (const m of [a, b, c]) m.seal();
    c.release();
    b.release();
    expect(sent).toEqual([]);
    a.release();
    expect(sent).toEqual([[1, 2, 3]]);
    expect(acks.pending).toBe(0);
  });

  it('drops unacknowledged messages of a lost connection and never acknowledges them later', () => {
    const sent: number[] = [];
    const acks = new OrderedAcks((run) => sent.push(...run.map((m) => m.messageId!)));
    const old = acks.begin(7, 0);
    old.hold();
    old.seal();
    expect(acks.connectionLost()).toBe(1);
    expect(old.abandoned).toBe(true);
    const fresh = acks.begin(7, 0);
    fresh.seal();
    old.release();
    expect(sent).toEqual([7]);
    expect(fresh.generation).toBe(1);
    expect(acks.pending).toBe(0);
  });

  it('counts the payload bytes held until acknowledgement (a completed message behind an open one still holds them)', () => {
    const acks = new OrderedAcks(() => undefined);
    const [a, b] = [acks.begin(1, 0, 64_000), acks.begin(2, 0, 500)];
    a.hold();
    a.seal();
    b.seal();
    expect(acks.pendingBytes).toBe(64_500);
    a.release();
    expect(acks.pendingBytes).toBe(0);
    acks.begin(3, 0, 1_000);
    acks.connectionLost();
    expect(acks.pendingBytes).toBe(0);
  });

  it("lets go of a message's payload once it is complete, while the message waits in the queue to be compacted", () => {
    const acks = new OrderedAcks(() => undefined);
    const [first, second] = [1, 2].map((id) => acks.begin(id, 0));
    for (const m of [first, second]) {
      m.inbound = { topic: 't', payload: Buffer.from('{}'), qos: 1, receivedAt: 0, pending: m } as InboundMessage;
      m.hold();
      m.seal();
    }
    second.release();
    // Complete but not yet acknowledged (behind the first): a refusal could no longer reach it anyway.
    expect(second.inbound).toBeUndefined();
    expect(first.inbound).toBeDefined();
    first.release();
    expect(first.inbound).toBeUndefined();
  });
});
