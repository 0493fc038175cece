import { describe, expect, it } from '@jest/globals';
import type { MetricStats } from '@lantern/storage';
import { expectedReadings, glucoseFigures, summarizeReadings } from './reading-summary.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const T0 = Date.parse('2026-11-01T00:00:00Z');

describe('expectedReadings', () => {
  it('counts the period at the fastest expected interval of the devices measuring the metric', () => {
    expect(expectedReadings('glucose', [{ type: 'cgm', createdAt: T0 - DAY }], T0, T0 + DAY)).toBe(288);
    // heart_rate: patch every 60 s, oximeter every second: the oximeter sets the pace.
    expect(
      expectedReadings(
        'heart_rate',
        [
          { type: 'wearable_patch', createdAt: T0 - DAY },
          { type: 'pulse_oximeter', createdAt: T0 - DAY },
        ],
        T0,
        T0 + HOUR,
      ),
    ).toBe(3600);
  });

  it('counts only the time some measuring device was in service (union, not sum)', () => {
    const devices = [
      { type: 'cgm' as const, createdAt: T0 + 6 * HOUR, decommissionedAt: T0 + 12 * HOUR },
      { type: 'cgm' as const, createdAt: T0 + 10 * HOUR },
    ];
    // 06:00–24:00 covered: 18 h at 5 min.
    expect(expectedReadings('glucose', devices, T0, T0 + DAY)).toBe(18 * 12);
  });

  it('is null when no device measures the metric, 0 when none was in service', () => {
    expect(expectedReadings('spo2', [{ type: 'cgm', createdAt: T0 }], T0, T0 + DAY)).toBeNull();
    expect(expectedReadings('glucose', [{ type: 'cgm', createdAt: T0 + 2 * DAY }], T0, T0 + DAY)).toBe(0);
  });
});

describe('glucoseFigures', () => {
  const stats: MetricStats = {
    metric: 'glucose',
    count: 200,
    min: 45,
    max: 300,
    mean: 150,
    stddev: 45,
    first: T0,
    last: T0 + DAY,
    glucose: { below54: 4, below70: 10, inRange70To180: 140, above180: 50, above250: 12 },
  };

  it('gives the percentages of readings in each range, GMI and CV', () => {
    expect(glucoseFigures(stats)).toEqual({
      timeInRange: 70,
      timeBelow70: 5,
      timeBelow54: 2,
      timeAbove180: 25,
      timeAbove250: 6,
      meanGlucose: 150,
      gmi: 3.31 + 0.02392 * 150,
      cv: 30,
    });
  });

  it('has no CV with a single reading', () => {
    expect(glucoseFigures({ ...stats, count: 1, stddev: null })!.cv).toBeNull();
  });
});

describe('summarizeReadings', () => {
  it('lists measured metrics and expected-but-silent ones in catalog order, coverage capped at 1', () => {
    const stats: MetricStats[] = [
      { metric: 'heart_rate', count: 5000, min: 50, max: 90, mean: 70, stddev: 5, first: T0, last: T0 + HOUR },
    ];
    const summary = summarizeReadings(stats, [{ type: 'pulse_oximeter', createdAt: T0 - DAY }], T0, T0 + HOUR);
    expect(summary.map((m) => m.metric)).toEqual(['heart_rate', 'spo2']);
    expect(summary[0]).toMatchObject({ count: 5000, expectedCount: 3600, coverage: 1, unit: '/min' });
    expect(summary[1]).toMatchObject({ count: 0, mean: null, expectedCount: 3600, coverage: 0 });
  });
});

describe('expectedReadings with devices out of service', () => {
  it('takes the pace from the devices in service during the period', () => {
    const devices = [
      { type: 'pulse_oximeter' as const, createdAt: T0 - 10 * DAY, decommissionedAt: T0 - 5 * DAY },
      { type: 'wearable_patch' as const, createdAt: T0 - DAY },
    ];
    expect(expectedReadings('heart_rate', devices, T0, T0 + HOUR)).toBe(60);
  });
});
