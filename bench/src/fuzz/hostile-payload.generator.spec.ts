import { describe, expect, it } from '@jest/globals';
import { MAX_PAYLOAD_BYTES, topicsFor } from '@lantern/messaging/contract';
import { expectationOf, topicMatches, topicOnTheWire } from './fuzz-expectation.js';
import {
  generateHostileMessage,
  HOSTILE_CATEGORIES,
  SLOT_MS,
  type GeneratorContext,
  type HostileDevice,
} from './hostile-payload.generator.js';

const NOW = Date.UTC(2026, 11, 6, 12, 0, 0, 0);
const topics = topicsFor('fuzz/v1');
const devices: HostileDevice[] = [
  { index: 0, deviceId: '0f6c7c52-3f4e-4f0e-9a51-0d5f3c1b2a10', type: 'pulse_oximeter' },
  { index: 1, deviceId: 'a3d1e7b0-5c2f-4b8e-8d6a-7e9f1c2b3d40', type: 'wearable_patch' },
];
const ctx = (seed: number): GeneratorContext => ({
  seed,
  topics,
  now: NOW,
  slotTime: (seq) => NOW - 86_400_000 + seq * SLOT_MS,
});
const expectation = (device: HostileDevice, seq: number, seed = 7) =>
  expectationOf(generateHostileMessage(ctx(seed), device, seq), {
    topics,
    deviceId: device.deviceId,
    receivedAt: NOW,
    maxBackfillMs: 30 * 86_400_000,
  });

describe('hostile payload generator', () => {
  it('makes the same bytes for the same seed, device and seq, and others for another seed', () => {
    for (let seq = 1; seq <= 200; seq++) {
      const a = generateHostileMessage(ctx(7), devices[seq % 2], seq);
      const b = generateHostileMessage(ctx(7), devices[seq % 2], seq);
      expect(b.payload.equals(a.payload)).toBe(true);
      expect({ ...b, payload: null }).toEqual({ ...a, payload: null });
    }
    const differing = Array.from({ length: 50 }, (_, i) => i + 1).filter(
      (seq) =>
        !generateHostileMessage(ctx(7), devices[0], seq).payload.equals(
          generateHostileMessage(ctx(8), devices[0], seq).payload,
        ),
    );
    expect(differing.length).toBeGreaterThan(40);
  });

  it('covers every category with attributable messages and topics a broker accepts', () => {
    const byCategory = new Map<string, number>();
    const kinds = new Map<string, number>();
    const variants = new Set<string>();
    for (let seq = 1; seq <= 3000; seq++) {
      const device = devices[seq % 2];
      const message = generateHostileMessage(ctx(7), device, seq);
      byCategory.set(message.category, (byCategory.get(message.category) ?? 0) + 1);
      variants.add(`${message.category}: ${message.variant}`);
      // Mosquitto closes the connection of a client publishing a control character, '+' or '#' in a topic.
      expect(message.topic).not.toMatch(/[\u0000-\u001f\u007f+#]/);
      expect(message.payload.length).toBeLessThanOrEqual(4 << 20);
      const e = expectation(device, seq);
      kinds.set(e.kind, (kinds.get(e.kind) ?? 0) + 1);
      if (e.kind === 'readings') {
        expect(e.seq).toBe(seq);
        // Every reading index appears once: accepted by the codec (metric and time) or refused.
        const indexes = e.readings.map((r) => r.index).sort((x, y) => x - y);
        expect(new Set(indexes).size).toBe(indexes.length);
      }
    }
    expect([...byCategory.keys()].sort()).toEqual([...HOSTILE_CATEGORIES].sort());
    expect([...kinds.keys()].sort()).toEqual(['readings', 'single', 'status', 'unrouted']);
    // Labels name the mutation, not the message (no sizes or clock times): the report counts them.
    // (about 750 distinct ones exist; 3,000 messages meet most of them).
    expect(variants.size).toBeLessThan(1000);
  });

  it('includes messages the ingest must store, refuse per reading, and refuse whole', () => {
    let stored = 0;
    let partly = 0;
    let whole = 0;
    for (let seq = 1; seq <= 2000; seq++) {
      const e = expectation(devices[seq % 2], seq);
      if (e.kind !== 'readings') continue;
      const refused = e.readings.filter((r) => r.metric === undefined).length;
      if (e.whole) whole++;
      else if (refused === 0) stored++;
      else partly++;
    }
    expect(Math.min(stored, partly, whole)).toBeGreaterThan(20);
  });

  it('makes payloads at, and just past, the 64 KiB limit', () => {
    const sizes = new Set<number>();
    for (let seq = 1; seq <= 6000; seq++) {
      const m = generateHostileMessage(ctx(3), devices[0], seq);
      if (m.category === 'oversized') sizes.add(m.payload.length);
    }
    expect(sizes.has(MAX_PAYLOAD_BYTES)).toBe(true);
    expect(sizes.has(MAX_PAYLOAD_BYTES + 1)).toBe(true);
  });

  it('matches topics as an MQTT broker does', () => {
    expect(topicMatches('r/devices/+/telemetry', 'r/devices/x/telemetry')).toBe(true);
    expect(topicMatches('r/devices/+/telemetry', 'r/devices//telemetry')).toBe(true);
    expect(topicMatches('r/devices/+/telemetry', 'r/devices/x/telemetry/')).toBe(false);
    expect(topicMatches('r/devices/+/telemetry', 'r/devices/x')).toBe(false);
    expect(topicMatches('r/#', 'r/a/b')).toBe(true);
    expect(topicOnTheWire('a/\ud800/b')).toBe('a/\ufffd/b');
  });
});
