import { describe, expect, it } from '@jest/globals';
import { DEVICE_TYPE_KEYS, DEVICE_TYPES, isPlausible, toCanonical, type MetricKey } from '@lantern/domain';
import { readingsOf } from '../../device-simulator/src/plan.js';
import { Prng } from '../../device-simulator/src/prng.js';
import { batteryLevel, generatorFor } from '../../device-simulator/src/signal-generators.js';
import { healthyTimeline, takeUntil } from '../../device-simulator/src/virtual-device.js';
import { SPEC, thresholdFires, type Point } from './rule-checks.js';

const T0 = Date.parse('2026-11-22T00:00:00.000Z');
const DAY = 86_400_000;

describe('Prng', () => {
  it('repeats its sequence for a seed and differs between seeds', () => {
    const a = Array.from(
      { length: 5 },
      (
        (p) => () =>
          p.next()
      )(new Prng(9)),
    );
    const b = Array.from(
      { length: 5 },
      (
        (p) => () =>
          p.next()
      )(new Prng(9)),
    );
    const c = Array.from(
      { length: 5 },
      (
        (p) => () =>
          p.next()
      )(new Prng(10)),
    );
    expect(a).toEqual(b);
    expect(a).not.toEqual(c);
    expect(new Prng('x').uuid()).toBe(new Prng('x').uuid());
  });
});

describe.each(DEVICE_TYPE_KEYS)('%s generator', (type) => {
  const run = (seed: number, samples: number) => {
    const g = generatorFor(type, seed);
    return Array.from({ length: samples }, (_, i) => g.sample(T0 + i * g.intervalMs));
  };

  it('is deterministic for a seed and differs across seeds', () => {
    expect(run(5, 300)).toEqual(run(5, 300));
    expect(run(5, 300)).not.toEqual(run(6, 300));
  });

  it('emits exactly the metrics of its device type at its interval, plausible in canonical units', () => {
    const g = generatorFor(type, 3);
    expect(g.intervalMs).toBe(DEVICE_TYPES[type].expectedIntervalSec * 1000);
    for (const readings of run(3, 500)) {
      expect(readings.map((r) => r.metric).sort()).toEqual([...DEVICE_TYPES[type].metrics].sort());
      for (const r of readings) {
        const c = toCanonical(r.metric, r.value, r.unit);
        expect(c.ok && isPlausible(r.metric, c.value)).toBe(true);
      }
    }
  });
});

describe('healthy signals', () => {
  const day = (type: (typeof DEVICE_TYPE_KEYS)[number], seed: number, metric: MetricKey, span = DAY): Point[] =>
    readingsOf(takeUntil(healthyTimeline(type, { seed, t0: T0 }), span))
      .filter((r) => r.metric === metric)
      .map((r) => ({
        time: r.time,
        value: toCanonical(metric, r.value, r.unit).ok
          ? (toCanonical(metric, r.value, r.unit) as { value: number }).value
          : NaN,
      }));

  it.each([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12])(
    'a healthy day (seed %p) trips none of the vital-sign threshold rules',
    (seed) => {
      const glucose = day('cgm', seed, 'glucose');
      expect(glucose).toHaveLength(288);
      expect(thresholdFires(glucose, SPEC['glucose.low']).firedAt).toBeUndefined();
      // Six hours of the 1 Hz oximeter keep the test fast; activity and artefacts happen within them.
      const hr = day('pulse_oximeter', seed, 'heart_rate', DAY / 4);
      const spo2 = day('pulse_oximeter', seed, 'spo2', DAY / 4);
      expect(hr).toHaveLength(21_600);
      expect(thresholdFires(hr, SPEC['heart_rate.high']).firedAt).toBeUndefined();
      expect(thresholdFires(hr, SPEC['heart_rate.low']).firedAt).toBeUndefined();
      expect(thresholdFires(spo2, SPEC['spo2.low']).firedAt).toBeUndefined();
      const temp = day('wearable_patch', seed, 'body_temperature');
      expect(thresholdFires(temp, SPEC['body_temperature.fever']).firedAt).toBeUndefined();
    },
  );

  it('glucose shows meals: the day spans at least 50 mg/dL', () => {
    const values = day('cgm', 1, 'glucose').map((p) => p.value);
    expect(Math.max(...values) - Math.min(...values)).toBeGreaterThan(50);
  });

  it('signal loss buffers readings and back-fills them after reconnect with their original timestamps, none lost or repeated', () => {
    const steps = takeUntil(healthyTimeline('cgm', { seed: 11, t0: T0, signalLossPerDay: 6 }), 2 * DAY);
    expect(steps.some((s) => s.kind === 'drop')).toBe(true);
    expect(steps.some((s) => s.kind === 'telemetry' && s.note === 'store-and-forward back-fill')).toBe(true);
    const times = readingsOf(steps).map((r) => r.time);
    // A drop that has not reconnected yet still holds its readings, so allow the tail to be missing.
    const expected = Array.from({ length: times.length }, (_, i) => T0 + i * 300_000);
    expect([...times].sort((a, b) => a - b)).toEqual(expected);
  });

  it('status messages report a draining battery', () => {
    const statuses = takeUntil(
      healthyTimeline('pulse_oximeter', { seed: 1, t0: T0, startBattery: 90 }),
      6 * 3_600_000,
    ).flatMap((s) => (s.kind === 'status' && s.payload.battery !== undefined ? [s.payload.battery] : []));
    expect(statuses[0]).toBe(90);
    expect(statuses.at(-1)!).toBeLessThan(70);
    expect(batteryLevel(10, 1, 3 * 3_600_000)).toBe(100 - 1);
  });
});
