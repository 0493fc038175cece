import { describe, expect, it } from '@jest/globals';
import { MAX_WINDOW_SAMPLES, SampleWindow } from './sample-window.js';
import { DEFAULT_RULES } from './rule-catalog.js';
import { METRICS } from '@lantern/domain';

const T0 = Date.UTC(2026, 11, 7, 10, 0, 0);
const MIN = 60_000;
const HOUR = 60 * MIN;

describe('SampleWindow', () => {
  it('keeps the readings within the span behind the latest and drops older ones', () => {
    const w = new SampleWindow(15 * MIN);
    for (let i = 0; i <= 20; i++) w.push(T0 + i * MIN, 100 + i);
    // 15 min behind the latest (T0 + 20 min) keeps T0 + 5 … T0 + 20 min.
    expect(w.size).toBe(16);
    expect(w.extreme(-Infinity, 'min')).toBe(105);
    expect(w.extreme(-Infinity, 'max')).toBe(120);
    expect(w.slopePerMin(T0, 3)).toBeCloseTo(1, 10);
  });

  it('at its cap drops the oldest sample for each new one, and its answers cover only what it holds', () => {
    const w = new SampleWindow(24 * HOUR, 2, 4);
    for (let i = 0; i < 10; i++) w.push(T0 + i * MIN, i);
    expect(w.size).toBe(4);
    // Samples 6, 7, 8, 9 remain, although all ten lie within the span.
    expect(w.extreme(-Infinity, 'min')).toBe(6);
    expect(w.extreme(-Infinity, 'max')).toBe(9);
    expect(w.slopePerMin(-Infinity, 4)).toBeCloseTo(1, 10);
    expect(w.slopePerMin(-Infinity, 5)).toBeNaN();
  });

  it('a stream 1 ms apart fills a 15 min window only up to MAX_WINDOW_SAMPLES (the newest ones)', () => {
    const w = new SampleWindow(15 * MIN);
    const n = 100_000;
    for (let i = 0; i < n; i++) w.push(T0 + i, i % 1000 === 0 ? 1 : 100);
    expect(w.size).toBe(MAX_WINDOW_SAMPLES);
    // Among the newest 8,192 (i ≥ 91,808) the 1s sit at i = 92,000 … 99,000.
    expect(w.extreme(-Infinity, 'min')).toBe(1);
    const w2 = new SampleWindow(15 * MIN);
    for (let i = 0; i < n; i++) w2.push(T0 + i, i < n - MAX_WINDOW_SAMPLES ? 1 : 100);
    expect(w2.extreme(-Infinity, 'min')).toBe(100);
  });

  it('holds every sample the default rules need at the catalog’s minimum intervals (the cap never cuts an admitted stream)', () => {
    let needed = 0;
    for (const rule of DEFAULT_RULES) {
      if (rule.scope !== 'metric' || !('windowSec' in rule.params)) continue;
      needed = Math.max(needed, Math.floor((rule.params.windowSec * 1000) / METRICS[rule.metric].minIntervalMs) + 1);
    }
    expect(needed).toBe(4321); // body_weight.gain_3d: 72 h at one weighing a minute, both ends included
    expect(needed).toBeLessThanOrEqual(MAX_WINDOW_SAMPLES);

    const w = new SampleWindow(72 * HOUR);
    for (let i = 0; i < needed; i++) w.push(T0 + i * METRICS.body_weight.minIntervalMs, i === 0 ? 80 : 82.5);
    expect(w.size).toBe(needed);
    expect(w.extreme(-Infinity, 'min')).toBe(80);
  });

  it('refuses capacities that are not powers of two', () => {
    expect(() => new SampleWindow(MIN, 3)).toThrow(RangeError);
    expect(() => new SampleWindow(MIN, 16, 1000)).toThrow(RangeError);
    expect(() => new SampleWindow(MIN, 32, 16)).toThrow(RangeError);
  });
});
