import { describe, expect, it } from '@jest/globals';
import { loadConfig } from '@lantern/config';
import { MAX_PAYLOAD_BYTES } from '@lantern/messaging';
import type { InboundMessage } from '../consumer/inbound-message.js';
import { PendingMessage } from '../consumer/pending-message.js';
import { IngestMetrics } from '../metrics/ingest-metrics.js';
import { DeadLetterBudget, summaryOf } from './dead-letter-budget.js';

const T0 = Date.UTC(2026, 11, 6, 10, 0, 0);
const HOUR = 3_600_000;

function message(bytes: number, receivedAt = T0): InboundMessage {
  return {
    topic: 'lantern/devices/x/telemetry',
    payload: Buffer.alloc(bytes, 0x61),
    qos: 1,
    receivedAt,
    pending: new PendingMessage(1, 0, receivedAt, () => undefined),
  };
}

function budget(
  limit: number,
  known: readonly string[] = ['known'],
): { budget: DeadLetterBudget; metrics: IngestMetrics } {
  const metrics = new IngestMetrics(loadConfig({}));
  return { budget: new DeadLetterBudget(limit, (id) => known.includes(id), metrics), metrics };
}

async function counted(counter: { get(): Promise<{ values: { value: number }[] }> }): Promise<number> {
  return (await counter.get()).values[0]?.value ?? 0;
}

describe('DeadLetterBudget', () => {
  it("keeps a device's payloads until its hour's budget is spent, then drops them (counted), and starts again the next hour", async () => {
    const { budget: b, metrics } = budget(1000);
    const first = message(600);
    // 600 bytes of payload + 256 for the row: 856 of 1000 spent.
    expect(b.spend(first, 'known', 1)).toEqual({ payload: first.payload, rows: true });
    expect(b.spend(message(600), 'known', 1)).toEqual({ payload: undefined, rows: true });
    expect(await counted(metrics.deadLetterPayloadBytesDropped)).toBe(600);
    const nextHour = message(600, T0 + HOUR);
    expect(b.spend(nextHour, 'known', 1)).toEqual({ payload: nextHour.payload, rows: true });
  });

  it('decides once per message whether its payload is kept, however many dead letters it has', () => {
    const { budget: b } = budget(1000);
    const m = message(600);
    expect(b.spend(m, 'known', 1).payload).toBe(m.payload);
    // 856 spent: a second charge of the payload would exceed the budget, but it was decided already.
    expect(b.spend(m, 'known', 1).payload).toBe(m.payload);
  });

  it("summarizes a message's rows once they would exceed the budget (a single row is always kept)", async () => {
    const { budget: b, metrics } = budget(1000);
    // 10 + 3 × 256 = 778 ≤ 1000.
    expect(b.spend(message(10), 'known', 3).rows).toBe(true);
    // 788 + 2 × 256 > 1000.
    expect(b.spend(message(10), 'known', 2).rows).toBe(false);
    expect(await counted(metrics.deadLettersSummarized)).toBe(2);
    expect(b.spend(message(0), 'known', 1).rows).toBe(true);
  });

  it('charges every device id that is not a registered device to one shared budget', () => {
    const { budget: b } = budget(1000);
    expect(b.spend(message(600), 'made-up-1', 1).payload).toBeDefined();
    expect(b.spend(message(600), 'made-up-2', 1).payload).toBeUndefined();
    expect(b.spend(message(600), undefined, 1).payload).toBeUndefined();
    expect(b.spend(message(600), 'known', 1).payload).toBeDefined();
  });

  it('keeps at most MAX_PAYLOAD_BYTES of a payload, as a copy', () => {
    const { budget: b } = budget(10 * MAX_PAYLOAD_BYTES);
    const big = message(MAX_PAYLOAD_BYTES + 1000);
    const kept = b.spend(big, 'known', 1).payload;
    expect(kept?.byteLength).toBe(MAX_PAYLOAD_BYTES);
    expect(kept?.buffer).not.toBe(big.payload.buffer);
  });
});

describe('summaryOf', () => {
  it('stands for many refusals under the most frequent code, with the tally', () => {
    expect(
      summaryOf([
        { code: 'unknown_metric', reason: 'a', index: 0 },
        { code: 'invalid_value', reason: 'b', index: 1 },
        { code: 'unknown_metric', reason: 'c', index: 2 },
      ]),
    ).toEqual({
      code: 'unknown_metric',
      reason:
        '3 refusals (unknown_metric ×2, invalid_value ×1); kept as one: the device is over its dead-letter budget for the hour',
    });
  });
});
