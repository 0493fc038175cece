import { describe, expect, it } from '@jest/globals';
import { METRIC_KEYS } from '@lantern/domain';
import { textProblem } from './device-text.js';
import type { Rejection } from './ingest-rejection.js';
import { decodeStatus } from './status.codec.js';
import { decodeTelemetry, MAX_EVENT_TIME, MIN_EVENT_TIME, type DecodeContext } from './telemetry.codec.js';

/**
 * Property-style: thousands of random hostile payloads (seeded, so a failure reproduces) thrown at
 * both codecs. Whatever comes in, a codec returns — it never throws — and everything it returns is
 * safe to store: reasons are well-formed text without control characters, accepted times lie in
 * the sane range, accepted firmware has no text PostgreSQL would refuse.
 */

const NOW = Date.UTC(2026, 11, 7, 10, 0, 0);
const DEVICE = '6f1c2d3e-4b5a-4c6d-8e9f-0a1b2c3d4e5f';
const ctx: DecodeContext = { receivedAt: NOW, maxBackfillMs: 30 * 86_400_000, deviceId: DEVICE };
const RUNS = 4000;

/** mulberry32: small, seeded, good enough to pick cases. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const NUMBER_TEXTS = [
  '0',
  '-0',
  '1e308',
  '-1e308',
  '1e999',
  '-1e999',
  '5e-324',
  '1e-400',
  '1e17',
  '-1e17',
  '8640000000000000',
  '8640000000000001',
  '946684799999',
  '946684800000',
  '253402300799999',
  '253402300800000',
  '9007199254740993',
  '0.5',
  '-5',
  String(NOW),
  String(NOW + 0.4),
  String(NOW - 3_600_000),
  '72',
  '97',
  '1.7976931348623157e308',
];

const STRINGS = [
  '',
  '\u0000',
  'a\u0000b',
  '\ud800',
  '\udc00',
  'x\ud83d',
  '\ude00y',
  '😀',
  '2.3.1',
  'mg/dL',
  'mmol/L',
  'bpm',
  '%',
  '°F',
  '\u0007\u001b[31m',
  '\u007f\u0085',
  '\u2028\u2029',
  '__proto__',
  'constructor',
  'toString',
  'hasOwnProperty',
  ...METRIC_KEYS,
  '2026-12-07T10:00:00Z',
  '2026-12-07T10:00:00.000+01:00',
  '0000-01-01T00:00:00Z',
  '9999-12-31T23:59:59.999Z',
  '+275760-09-13T00:00:00Z',
  '2026-02-30T10:00:00Z',
  '2026-12-07T10:00:00',
  `${'m'.repeat(63)}😀tail`,
  `${'x'.repeat(200)}\u0000`,
  DEVICE,
];

const KEYS = [
  'seq',
  'ts',
  'deviceId',
  'readings',
  'metric',
  'value',
  'unit',
  'battery',
  'online',
  'firmware',
  'rssi',
  'sensorExpiresAt',
  '__proto__',
  'constructor',
  '\u0000',
  '\ud800',
];

/** Generates JSON text directly (not via JSON.stringify) so that duplicate keys, -0 and 1e999 survive. */
class HostileJson {
  constructor(private readonly random: () => number) {}

  private pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.random() * items.length)];
  }

  private chance(p: number): boolean {
    return this.random() < p;
  }

  number(): string {
    if (this.chance(0.3)) return String(Math.round((this.random() - 0.5) * 2 * 10 ** Math.floor(this.random() * 20)));
    return this.pick(NUMBER_TEXTS);
  }

  string(): string {
    // JSON.stringify escapes lone surrogates and controls as \uXXXX: the parsed string has them raw.
    if (this.chance(0.1)) {
      let s = '';
      const n = Math.floor(this.random() * 80);
      for (let i = 0; i < n; i++) s += String.fromCharCode(Math.floor(this.random() * 0x10000));
      return JSON.stringify(s);
    }
    return JSON.stringify(this.pick(STRINGS));
  }

  value(depth: number): string {
    const r = this.random();
    if (depth > 4 || r < 0.35) return this.number();
    if (r < 0.65) return this.string();
    if (r < 0.72) return this.pick(['true', 'false', 'null']);
    if (r < 0.85) return this.array(depth + 1, () => this.value(depth + 1));
    return this.object(depth + 1, () => this.pick(KEYS));
  }

  array(depth: number, item: () => string): string {
    const n = Math.floor(this.random() * 6);
    return `[${Array.from({ length: n }, item).join(',')}]`;
  }

  /** Duplicate keys on purpose: JSON.parse keeps the last, and the codec must cope with either. */
  object(depth: number, key: () => string): string {
    const n = Math.floor(this.random() * 6);
    return `{${Array.from({ length: n }, () => `${JSON.stringify(key())}:${this.value(depth)}`).join(',')}}`;
  }

  reading(): string {
    const fields: string[] = [];
    if (!this.chance(0.05))
      fields.push(`"metric":${this.chance(0.6) ? JSON.stringify(this.pick(METRIC_KEYS)) : this.value(3)}`);
    const plausible = () => this.pick(['72', '97', '98.5', '36.9', '120']);
    if (!this.chance(0.05))
      fields.push(`"value":${this.chance(0.4) ? plausible() : this.chance(0.6) ? this.number() : this.value(3)}`);
    if (this.chance(0.4)) fields.push(`"unit":${this.chance(0.5) ? this.string() : this.value(3)}`);
    const recent = () => String(NOW - Math.floor(this.random() * 3_600_000));
    if (this.chance(0.6))
      fields.push(`"ts":${this.chance(0.4) ? recent() : this.chance(0.6) ? this.number() : this.value(3)}`);
    if (this.chance(0.2)) fields.push(`"metric":${this.string()}`); // a duplicate key
    return `{${fields.join(',')}}`;
  }

  telemetry(): string {
    const fields: string[] = [];
    if (this.chance(0.5)) fields.push(`"seq":${this.chance(0.7) ? this.number() : this.value(2)}`);
    if (this.chance(0.3)) fields.push(`"ts":${this.chance(0.7) ? this.number() : this.string()}`);
    if (this.chance(0.1)) fields.push(`"deviceId":${this.chance(0.5) ? JSON.stringify(DEVICE) : this.value(2)}`);
    if (!this.chance(0.05)) {
      fields.push(
        `"readings":${this.chance(0.85) ? this.array(1, () => (this.chance(0.9) ? this.reading() : this.value(2))) : this.value(1)}`,
      );
    }
    if (this.chance(0.1)) fields.push(`"readings":${this.value(1)}`); // duplicate
    if (this.chance(0.1)) fields.push(`${this.string()}:${this.value(1)}`);
    return `{${fields.join(',')}}`;
  }

  status(): string {
    const fields: string[] = [];
    const field = (name: string, gen: () => string) => {
      if (this.chance(0.5)) fields.push(`"${name}":${this.chance(0.6) ? gen() : this.value(2)}`);
    };
    field('ts', () => this.number());
    field('battery', () => this.number());
    field('online', () => this.pick(['true', 'false']));
    field('firmware', () => this.string());
    field('rssi', () => this.number());
    field('sensorExpiresAt', () => this.string());
    field('deviceId', () => JSON.stringify(DEVICE));
    if (this.chance(0.1)) fields.push(`"firmware":${this.string()}`);
    return `{${fields.join(',')}}`;
  }

  /** Structural damage on top: deep nesting, truncation, raw control bytes, random bytes. */
  mangle(text: string): Uint8Array {
    const r = this.random();
    if (r < 0.75) return Buffer.from(text, 'utf8');
    if (r < 0.8) {
      const depth = 1 + Math.floor(this.random() * 20_000);
      return Buffer.from(`{"readings":${'['.repeat(depth)}${']'.repeat(this.chance(0.5) ? depth : 0)}}`);
    }
    if (r < 0.85) return Buffer.from(text.slice(0, Math.floor(this.random() * text.length)), 'utf8');
    if (r < 0.9) {
      const at = Math.floor(this.random() * (text.length + 1));
      return Buffer.from(`${text.slice(0, at)}${String.fromCharCode(Math.floor(this.random() * 32))}${text.slice(at)}`);
    }
    if (r < 0.95) return Buffer.from(Array.from({ length: Math.floor(this.random() * 64) }, () => this.random() * 256));
    // Any JSON value as the whole payload: a number, a string, an array, an object of random keys.
    return Buffer.from(this.value(0), 'utf8');
  }
}

function expectSafeReasons(rejections: readonly Rejection[], payload: Uint8Array): void {
  for (const r of rejections) {
    const context = `reason ${JSON.stringify(r.reason)} for payload ${Buffer.from(payload).toString('base64')}`;
    expect([typeof r.reason, textProblem(r.reason), context]).toEqual(['string', undefined, context]);
    expect(r.reason.length).toBeLessThan(400);
  }
}

describe('codecs under hostile input (property-style, seeded)', () => {
  it(`decodeTelemetry never throws and returns only storable results (${RUNS} payloads)`, () => {
    const gen = new HostileJson(prng(20261207));
    for (let i = 0; i < RUNS; i++) {
      const payload = gen.mangle(gen.telemetry());
      let result: ReturnType<typeof decodeTelemetry> | undefined;
      expect(() => (result = decodeTelemetry(payload, ctx))).not.toThrow();
      expectSafeReasons(result!.rejections, payload);
      for (const reading of result!.readings) {
        expect(reading.time).toBeGreaterThanOrEqual(MIN_EVENT_TIME);
        expect(reading.time).toBeLessThanOrEqual(MAX_EVENT_TIME);
        expect(Number.isFinite(reading.value)).toBe(true);
      }
    }
  });

  it(`decodeStatus never throws and returns only storable results (${RUNS} payloads)`, () => {
    const gen = new HostileJson(prng(7));
    for (let i = 0; i < RUNS; i++) {
      const payload = gen.mangle(gen.status());
      let result: ReturnType<typeof decodeStatus> | undefined;
      expect(() => (result = decodeStatus(payload, ctx))).not.toThrow();
      if (!result!.ok) {
        expectSafeReasons([result!.rejection], payload);
        continue;
      }
      const status = result!.status;
      expect(status.time).toBeGreaterThanOrEqual(MIN_EVENT_TIME);
      if (status.firmware !== undefined) expect(textProblem(status.firmware)).toBeUndefined();
      if (status.sensorExpiresAt !== undefined) expect(Date.parse(status.sensorExpiresAt)).not.toBeNaN();
    }
  });

  it('the generator does reach the interesting cases (not a test that cannot fail)', () => {
    const gen = new HostileJson(prng(20261207));
    const codes = new Set<string>();
    let accepted = 0;
    for (let i = 0; i < RUNS; i++) {
      const result = decodeTelemetry(gen.mangle(gen.telemetry()), ctx);
      for (const r of result.rejections) codes.add(r.code);
      accepted += result.readings.length;
    }
    expect(accepted).toBeGreaterThan(100);
    for (const code of [
      'invalid_json',
      'invalid_utf8',
      'invalid_ts',
      'invalid_text',
      'unknown_metric',
      'invalid_value',
    ])
      expect([code, codes.has(code)]).toEqual([code, true]);
  });
});
