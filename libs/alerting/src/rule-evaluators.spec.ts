import { describe, expect, it } from '@jest/globals';
import type { PredictiveParams, RateParams, ThresholdParams, TrendParams } from './rule-catalog.js';
import {
  evaluateBattery,
  evaluatePredictive,
  evaluateRate,
  evaluateSignalHeard,
  evaluateSignalLoss,
  evaluateThreshold,
  evaluateTrend,
  newConditionState,
  type ConditionState,
} from './rule-evaluators.js';
import { SampleWindow } from './sample-window.js';

const T0 = Date.UTC(2026, 10, 22, 10, 0, 0);
const SEC = 1000;
const MIN = 60 * SEC;

/** Feeds [offsetMs, value] pairs to a threshold rule and returns each condition. */
function runThreshold(
  p: ThresholdParams,
  readings: [number, number][],
  state: ConditionState = newConditionState(),
): string[] {
  return readings.map(([offset, value]) => evaluateThreshold(state, value, T0 + offset, p));
}

describe('threshold', () => {
  const low: ThresholdParams = { direction: 'below', threshold: 54, delaySec: 0, hysteresis: 5, priority: 'high' };
  const hrLow: ThresholdParams = { direction: 'below', threshold: 40, delaySec: 30, hysteresis: 5, priority: 'high' };
  const high: ThresholdParams = { direction: 'above', threshold: 250, delaySec: 1800, hysteresis: 10, priority: 'low' };

  it('fires at once beyond the threshold with no delay, not at the threshold itself', () => {
    expect(
      runThreshold(low, [
        [0, 54],
        [MIN, 53.9],
      ]),
    ).toEqual(['none', 'fire']);
  });

  it('keeps firing while beyond, holds inside the hysteresis band, clears back past threshold + hysteresis', () => {
    expect(
      runThreshold(low, [
        [0, 50],
        [5 * MIN, 48],
        [10 * MIN, 56],
        [15 * MIN, 58.9],
        [20 * MIN, 59],
        [25 * MIN, 60],
      ]),
    ).toEqual(['fire', 'fire', 'none', 'none', 'clear', 'none']);
  });

  it('re-fires from inside the band without a new delay start being needed when delay is 0', () => {
    expect(
      runThreshold(low, [
        [0, 50],
        [MIN, 56],
        [2 * MIN, 53],
      ]),
    ).toEqual(['fire', 'none', 'fire']);
  });

  it('waits the delay in event time from the first reading beyond it', () => {
    const state = newConditionState();
    expect(
      runThreshold(
        hrLow,
        [
          [0, 38],
          [10 * SEC, 37],
          [29 * SEC, 36],
        ],
        state,
      ),
    ).toEqual(['none', 'none', 'none']);
    expect(state.since).toBe(T0);
    expect(runThreshold(hrLow, [[30 * SEC, 39]], state)).toEqual(['fire']);
  });

  it('restarts the delay when a reading comes back inside the threshold', () => {
    expect(
      runThreshold(hrLow, [
        [0, 38],
        [20 * SEC, 41],
        [40 * SEC, 38],
        [60 * SEC, 38],
        [70 * SEC, 38],
      ]),
    ).toEqual(['none', 'none', 'none', 'none', 'fire']);
  });

  it('handles above-rules with a long delay and hysteresis below the threshold', () => {
    expect(
      runThreshold(high, [
        [0, 260],
        [29 * MIN, 300],
        [30 * MIN, 251],
        [35 * MIN, 245],
        [40 * MIN, 240],
        [45 * MIN, 250],
      ]),
    ).toEqual(['none', 'none', 'fire', 'none', 'clear', 'none']);
  });
});

/** A window holding [offsetMs, value] readings. */
function windowOf(spanMs: number, readings: [number, number][]): SampleWindow {
  const w = new SampleWindow(spanMs, 2);
  for (const [offset, value] of readings) w.push(T0 + offset, value);
  return w;
}

describe('sample window', () => {
  it('computes the least-squares slope per minute over the readings in range', () => {
    const w = windowOf(15 * MIN, [
      [0, 100],
      [5 * MIN, 90],
      [10 * MIN, 80],
      [15 * MIN, 70],
    ]);
    expect(w.slopePerMin(T0, 3)).toBeCloseTo(-2, 12);
    expect(w.slopePerMin(T0 + 10 * MIN, 3)).toBeNaN(); // only two readings from there on
    expect(w.slopePerMin(T0 + 10 * MIN, 2)).toBeCloseTo(-2, 12);
  });

  it('fits noisy readings by least squares', () => {
    // x = 0,1,2,3 min; y = 1,3,2,5 → slope = (4·(0+3+4+15) − 6·11) / (4·14 − 36) = 22/20 = 1.1
    const w = windowOf(10 * MIN, [
      [0, 1],
      [MIN, 3],
      [2 * MIN, 2],
      [3 * MIN, 5],
    ]);
    expect(w.slopePerMin(T0, 2)).toBeCloseTo(1.1, 12);
  });

  it('drops readings older than its span and grows past its initial capacity', () => {
    const w = windowOf(
      10 * MIN,
      Array.from({ length: 40 }, (_, i) => [i * MIN, i] as [number, number]),
    );
    expect(w.size).toBe(11); // minutes 29..39
    expect(w.extreme(0, 'min')).toBe(29);
    expect(w.extreme(0, 'max')).toBe(39);
    expect(w.extreme(T0 + 35 * MIN, 'min')).toBe(35);
  });
});

describe('rate', () => {
  const p: RateParams = { direction: 'falling', ratePerMin: 3, windowSec: 900, minSamples: 3, priority: 'medium' };
  const out = new Float64Array(2);

  it('needs minSamples readings in the window', () => {
    const state = newConditionState();
    const w = windowOf(15 * MIN, [
      [0, 150],
      [5 * MIN, 130],
    ]);
    expect(evaluateRate(state, w, T0 + 5 * MIN, p, out)).toBe('none');
  });

  it('fires at exactly the rate (at least), not just below it', () => {
    const exact = windowOf(15 * MIN, [
      [0, 150],
      [5 * MIN, 135],
      [10 * MIN, 120],
    ]);
    expect(evaluateRate(newConditionState(), exact, T0 + 10 * MIN, p, out)).toBe('fire');
    expect(out[0]).toBeCloseTo(-3, 9);
    const slower = windowOf(15 * MIN, [
      [0, 150],
      [5 * MIN, 135.1],
      [10 * MIN, 120.2],
    ]);
    expect(evaluateRate(newConditionState(), slower, T0 + 10 * MIN, p, out)).toBe('none');
  });

  it('ignores readings older than windowSec and clears when the fall slows', () => {
    const state = newConditionState();
    const w = windowOf(15 * MIN, [
      [0, 150],
      [5 * MIN, 130],
      [10 * MIN, 110],
    ]);
    expect(evaluateRate(state, w, T0 + 10 * MIN, p, out)).toBe('fire');
    for (const [offset, value] of [
      [15 * MIN, 100],
      [20 * MIN, 98],
      [25 * MIN, 97],
    ] as const)
      w.push(T0 + offset, value);
    // Window now 10..25 min: 110, 100, 98, 97 → slope ≈ −0.8/min.
    expect(evaluateRate(state, w, T0 + 25 * MIN, p, out)).toBe('clear');
    expect(state.active).toBe(false);
  });

  it('fires on a rise for rising rules', () => {
    const w = windowOf(15 * MIN, [
      [0, 100],
      [MIN, 104],
      [2 * MIN, 108],
    ]);
    expect(evaluateRate(newConditionState(), w, T0 + 2 * MIN, { ...p, direction: 'rising' }, out)).toBe('fire');
  });
});

describe('predictive', () => {
  const p: PredictiveParams = {
    direction: 'below',
    threshold: 55,
    horizonSec: 1200,
    windowSec: 900,
    minSamples: 3,
    priority: 'high',
  };
  const out = new Float64Array(2);

  it('fires when value + slope × horizon crosses while the value has not', () => {
    // slope −2/min; 20 min → −40: 94 → 54 < 55.
    const w = windowOf(15 * MIN, [
      [0, 114],
      [5 * MIN, 104],
      [10 * MIN, 94],
    ]);
    const state = newConditionState();
    expect(evaluatePredictive(state, 94, w, T0 + 10 * MIN, p, false, out)).toBe('fire');
    expect(out[0]).toBeCloseTo(54, 9);
  });

  it('does not fire when the projection lands exactly on the threshold', () => {
    const w = windowOf(15 * MIN, [
      [0, 115],
      [5 * MIN, 105],
      [10 * MIN, 95],
    ]);
    expect(evaluatePredictive(newConditionState(), 95, w, T0 + 10 * MIN, p, false, out)).toBe('none');
  });

  it('clears when the projection no longer crosses, when the value crosses, or when the threshold rule takes over', () => {
    const w = windowOf(15 * MIN, [
      [0, 114],
      [5 * MIN, 104],
      [10 * MIN, 94],
    ]);
    const a = newConditionState();
    evaluatePredictive(a, 94, w, T0 + 10 * MIN, p, false, out);
    w.push(T0 + 15 * MIN, 94);
    w.push(T0 + 20 * MIN, 95);
    expect(evaluatePredictive(a, 95, w, T0 + 20 * MIN, p, false, out)).toBe('clear');

    const b = newConditionState();
    const w2 = windowOf(15 * MIN, [
      [0, 85],
      [5 * MIN, 70],
      [10 * MIN, 60],
    ]);
    expect(evaluatePredictive(b, 60, w2, T0 + 10 * MIN, p, false, out)).toBe('fire');
    w2.push(T0 + 15 * MIN, 54.5);
    expect(evaluatePredictive(b, 54.5, w2, T0 + 15 * MIN, p, false, out)).toBe('clear');

    const c = newConditionState();
    evaluatePredictive(c, 60, w2, T0 + 10 * MIN, p, false, out);
    expect(evaluatePredictive(c, 60, w2, T0 + 10 * MIN, p, true, out)).toBe('clear');
  });

  it('says nothing with too few samples', () => {
    const w = windowOf(15 * MIN, [
      [0, 100],
      [5 * MIN, 70],
    ]);
    expect(evaluatePredictive(newConditionState(), 70, w, T0 + 5 * MIN, p, false, out)).toBe('none');
  });
});

describe('trend', () => {
  const p: TrendParams = { direction: 'rising', delta: 2, windowSec: 72 * 3600, priority: 'medium' };
  const out = new Float64Array(2);
  const DAY = 24 * 3600 * SEC;

  it('fires when the latest is at least delta above the lowest within the window', () => {
    const w = windowOf(72 * 3600 * SEC, [
      [0, 80.5],
      [DAY, 81.2],
      [2 * DAY, 82],
      [3 * DAY, 82.5],
    ]);
    const state = newConditionState();
    expect(evaluateTrend(state, 82.5, w, T0 + 3 * DAY, p, out)).toBe('fire');
    expect(out[0]).toBeCloseTo(2, 9);
  });

  it('does not fire on a gain just under delta, nor on a gain older than the window', () => {
    const under = windowOf(72 * 3600 * SEC, [
      [0, 80.5],
      [DAY, 81.2],
      [2 * DAY, 82.4],
    ]);
    expect(evaluateTrend(newConditionState(), 82.4, under, T0 + 2 * DAY, p, out)).toBe('none');
    const old = windowOf(72 * 3600 * SEC, [
      [0, 79],
      [3 * DAY + 1, 80],
      [4 * DAY, 81],
    ]);
    expect(evaluateTrend(newConditionState(), 81, old, T0 + 4 * DAY, p, out)).toBe('none');
  });

  it('clears when the gain falls below delta; falling rules compare with the highest', () => {
    const w = windowOf(72 * 3600 * SEC, [
      [0, 80],
      [DAY, 82.5],
    ]);
    const state = newConditionState();
    expect(evaluateTrend(state, 82.5, w, T0 + DAY, p, out)).toBe('fire');
    w.push(T0 + 2 * DAY, 81);
    expect(evaluateTrend(state, 81, w, T0 + 2 * DAY, p, out)).toBe('clear');
    expect(
      evaluateTrend(newConditionState(), 81, w, T0 + 2 * DAY, { ...p, direction: 'falling', delta: 1.5 }, out),
    ).toBe('fire');
  });
});

describe('signal loss and battery', () => {
  it('fires once after afterSec of wall clock without data, clears when heard', () => {
    const state = newConditionState();
    expect(evaluateSignalLoss(state, T0, T0 + 20 * MIN - 1, 1200)).toBe('none');
    expect(evaluateSignalLoss(state, T0, T0 + 20 * MIN, 1200)).toBe('fire');
    expect(evaluateSignalLoss(state, T0, T0 + 30 * MIN, 1200)).toBe('none');
    expect(evaluateSignalHeard(state)).toBe('clear');
    expect(evaluateSignalHeard(state)).toBe('none');
  });

  it('never fires for a device never heard from', () => {
    expect(evaluateSignalLoss(newConditionState(), null, T0 + 100 * 24 * 60 * MIN, 60)).toBe('none');
  });

  it('fires at or below the battery threshold and clears above it', () => {
    const state = newConditionState();
    const p = { threshold: 15, priority: 'low' } as const;
    expect([16, 15, 14, 16].map((b) => evaluateBattery(state, b, p))).toEqual(['none', 'fire', 'fire', 'clear']);
  });
});
