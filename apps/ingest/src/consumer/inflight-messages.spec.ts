import { describe, expect, it } from '@jest/globals';
import { Logger } from '@nestjs/common';
import { loadConfig } from '@lantern/config';
import { IngestMetrics } from '../metrics/ingest-metrics.js';
import { InflightMessages, type AckMode, type PubackChannel } from './inflight-messages.js';
import { ReadGate } from './read-gate.js';

const T0 = Date.UTC(2026, 11, 6, 10, 0, 0);

/** InflightMessages and ReadGate wired as IngestMqttConnection wires them, over a recording channel. */
function inflight(mode: AckMode = 'held') {
  const config = loadConfig({ INGEST_MAX_PENDING_BYTES: '65536' });
  const metrics = new IngestMetrics(config);
  const logger = new Logger('IngestMqttTest');
  logger.warn = () => undefined;
  logger.log = () => undefined;
  const sent: string[] = [];
  let open = true;
  const channel: PubackChannel = {
    isOpen: () => open,
    cork: () => sent.push('cork'),
    send: (id) => sent.push(`puback ${id}`),
    uncork: () => sent.push('uncork'),
  };
  const messages: InflightMessages = new InflightMessages(mode, config, metrics, logger, () => gate.reopenIfRoom());
  const gate = new ReadGate(messages, metrics, logger);
  messages.attach(channel);
  return { messages, gate, sent, metrics, close: () => (open = false) };
}

describe('InflightMessages', () => {
  it('sends the PUBACKs of completed messages in arrival order, one corked write per run', () => {
    const { messages, sent } = inflight();
    const [a, b, c] = [1, 2, 3].map((id) => messages.begin(1, id, T0, 10, () => undefined));
    for (const m of [a, b, c]) m.hold();
    for (const m of [a, b, c]) m.seal();
    c.release();
    b.release();
    expect(sent).toEqual([]);
    a.release();
    expect(sent).toEqual(['cork', 'puback 1', 'puback 2', 'puback 3', 'uncork']);
    expect(messages.pendingMessages).toBe(0);
  });

  it('never sends the PUBACK of a message whose connection was lost (the broker redelivers it)', () => {
    const { messages, sent } = inflight();
    const old = messages.begin(1, 7, T0, 10, () => undefined);
    old.hold();
    old.seal();
    messages.connectionLost();
    const fresh = messages.begin(1, 7, T0 + 1, 10, () => undefined);
    old.release();
    fresh.seal();
    expect(sent).toEqual(['cork', 'puback 7', 'uncork']);
    expect(messages.pendingMessages).toBe(0);
  });

  it('counts a QoS 0 message until its work commits, with nothing to acknowledge', () => {
    const { messages, sent } = inflight();
    const m = messages.begin(0, undefined, T0, 100, () => undefined);
    m.hold();
    m.seal();
    expect([messages.pendingMessages, messages.pendingBytes, messages.oldestUnackedAt]).toEqual([1, 100, undefined]);
    m.release();
    expect([messages.pendingMessages, messages.pendingBytes]).toEqual([0, 0]);
    expect(sent).toEqual([]);
  });

  it("in naive mode hands each QoS 1 message back to mqtt.js's own callback, in order", () => {
    const { messages, sent } = inflight('naive');
    const acked: number[] = [];
    const [a, b] = [1, 2].map((id) => messages.begin(1, id, T0, 10, () => acked.push(id)));
    b.seal();
    expect(acked).toEqual([]);
    a.seal();
    expect(acked).toEqual([1, 2]);
    expect(sent).toEqual([]);
  });
});

describe('ReadGate', () => {
  it('stops reading once unfinished bytes reach INGEST_MAX_PENDING_BYTES and resumes when a message is done with', async () => {
    const { messages, gate, metrics } = inflight();
    const read: string[] = [];
    const first = messages.begin(1, 1, T0, 40_000, () => undefined);
    gate.pass(() => read.push('after 1'));
    messages.begin(1, 2, T0, 40_000, () => undefined);
    gate.pass(() => read.push('after 2'));
    expect(read).toEqual(['after 1']);
    expect(gate.paused).toBe(true);
    expect((await metrics.paused.get()).values[0].value).toBe(1);
    first.seal();
    expect(read).toEqual(['after 1', 'after 2']);
    expect(gate.paused).toBe(false);
    expect((await metrics.paused.get()).values[0].value).toBe(0);
  });

  it('lets reading go on when the connection closes, room or not', () => {
    const { messages, gate, close } = inflight();
    const read: string[] = [];
    messages.begin(1, 1, T0, 70_000, () => undefined);
    gate.pass(() => read.push('next'));
    expect(read).toEqual([]);
    close();
    messages.connectionLost();
    gate.release();
    expect(read).toEqual(['next']);
  });
});
