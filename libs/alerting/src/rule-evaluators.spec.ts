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
  rearmed,
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

describe('issue 19 options: confirmation, projection from the trend, value limit, re-arming', () => {
  const p: PredictiveParams = {
    direction: 'below',
    threshold: 55,
    horizonSec: 1200,
    windowSec: 900,
    minSamples: 3,
    priority: 'medium',
  };
  const out = new Float64Array(2);
  /** A steady fall of 2 mg/dL/min from 130, one reading every 5 min. */
  const fall = (n: number): [number, number][] => Array.from({ length: n }, (_, i) => [i * 5 * MIN, 130 - 10 * i]);

  it('confirmReadings: the projection must cross on that many consecutive readings before it first fires', () => {
    const w = new SampleWindow(15 * MIN);
    const state = newConditionState();
    const conditions = fall(6).map(([t, v]) => {
      w.push(T0 + t, v);
      return evaluatePredictive(state, v, w, T0 + t, { ...p, confirmReadings: 2 }, false, out);
    });
    // Projections: 110 → 70, 100 → 60 (no); 90 → 50 crosses, once only (not yet); 80 → 40, twice: fires.
    expect(conditions).toEqual(['none', 'none', 'none', 'none', 'none', 'fire']);
  });

  it('projectFrom trend: starts from the least-squares line, so one outlying reading does not fire it', () => {
    const w = windowOf(15 * MIN, [
      [0, 100],
      [5 * MIN, 100],
      [10 * MIN, 100],
      [15 * MIN, 70],
    ]);
    // From the reading: slope −1.8/min (fit of 100, 100, 100, 70 over 15 min) → 70 − 36 = 34: fires.
    expect(evaluatePredictive(newConditionState(), 70, w, T0 + 15 * MIN, p, false, out)).toBe('fire');
    // From the trend line's value now (79): 79 − 36 = 43: still fires 20 min ahead...
    expect(
      evaluatePredictive(newConditionState(), 70, w, T0 + 15 * MIN, { ...p, projectFrom: 'trend' }, false, out),
    ).toBe('fire');
    expect(out[0]).toBeCloseTo(43, 6);
    // ...but 10 min ahead the one low reading after a flat 100 no longer does (79 − 18 = 61; from the reading 52).
    const short = { ...p, horizonSec: 600 };
    expect(evaluatePredictive(newConditionState(), 70, w, T0 + 15 * MIN, short, false, out)).toBe('fire');
    expect(
      evaluatePredictive(newConditionState(), 70, w, T0 + 15 * MIN, { ...short, projectFrom: 'trend' }, false, out),
    ).toBe('none');
  });

  it('valueLimit: a falling rule applies only at or below it, a predictive one too', () => {
    const rate: RateParams = {
      direction: 'falling',
      ratePerMin: 3,
      windowSec: 900,
      minSamples: 3,
      priority: 'medium',
      valueLimit: 180,
    };
    const w = windowOf(15 * MIN, [
      [0, 260],
      [5 * MIN, 245],
      [10 * MIN, 230],
    ]);
    expect(evaluateRate(newConditionState(), w, T0 + 10 * MIN, rate, out, 230)).toBe('none');
    expect(evaluateRate(newConditionState(), w, T0 + 10 * MIN, { ...rate, valueLimit: null }, out, 230)).toBe('fire');
    const steep = windowOf(15 * MIN, [
      [0, 150],
      [5 * MIN, 130],
      [10 * MIN, 110],
    ]);
    expect(
      evaluatePredictive(newConditionState(), 110, steep, T0 + 10 * MIN, { ...p, valueLimit: 100 }, false, out),
    ).toBe('none');
    expect(
      evaluatePredictive(newConditionState(), 110, steep, T0 + 10 * MIN, { ...p, valueLimit: 110 }, false, out),
    ).toBe('fire');
  });

  it('rearmed: within the quiet time only a worse value re-arms; after it, any', () => {
    const state = newConditionState();
    expect(rearmed(state, 60, T0, true)).toBe(true);
    state.quietUntil = T0 + 60 * MIN;
    state.quietPeak = 50;
    expect(rearmed(state, 52, T0 + 10 * MIN, true)).toBe(false);
    expect(rearmed(state, 49, T0 + 10 * MIN, true)).toBe(true);
    expect(rearmed(state, 52, T0 + 60 * MIN, true)).toBe(true);
    expect(rearmed(state, 300, T0 + 10 * MIN, false)).toBe(true);
  });
});

describe('SampleWindow.linearFit', () => {
  it('gives the slope and the line’s value at the latest reading', () => {
    const w = windowOf(60 * MIN, [
      [0, 100],
      [5 * MIN, 95],
      [10 * MIN, 85],
    ]);
    const fit = w.linearFit(T0, 2, new Float64Array(2));
    expect(fit[0]).toBeCloseTo(-1.5, 9);
    // Mean 93.33 at x̄ = −5 min: 93.33 − 1.5 × 5 = 85.83 at the latest reading.
    expect(fit[1]).toBeCloseTo(85.8333333, 6);
    expect([...w.linearFit(T0, 4, new Float64Array(2))]).toEqual([NaN, NaN]);
  });
});

describe('issue 19, second round: confirmation of a measured low, recovery, robust trend, rate and hold of a prediction', () => {
  const urgent: ThresholdParams = { direction: 'below', threshold: 54, delaySec: 0, hysteresis: 5, priority: 'high' };
  const out = new Float64Array(2);

  it('confirmReadings: fires on the second consecutive reading below; a reading back in between starts over', () => {
    expect(
      runThreshold({ ...urgent, confirmReadings: 2 }, [
        [0, 52],
        [5 * MIN, 56],
        [10 * MIN, 53],
        [15 * MIN, 50],
        [20 * MIN, 49],
      ]),
    ).toEqual(['none', 'none', 'none', 'fire', 'fire']);
  });

  it('immediateBeyond: one reading below it fires without confirmation', () => {
    const p = { ...urgent, confirmReadings: 2, immediateBeyond: 45 };
    expect(runThreshold(p, [[0, 44]])).toEqual(['fire']);
    expect(runThreshold(p, [[0, 45]])).toEqual(['none']);
  });

  it('notWhileRecovering: a condition not yet active waits while the trend toward range is at least that fast', () => {
    const p = { ...urgent, notWhileRecovering: 1 };
    // Recovering at 1/min (exactly the guard) or faster: no fire; slower, or unknown (NaN): fires.
    expect(evaluateThreshold(newConditionState(), 52, T0, p, 1)).toBe('none');
    expect(evaluateThreshold(newConditionState(), 52, T0, p, 0.9)).toBe('fire');
    expect(evaluateThreshold(newConditionState(), 52, T0, p, NaN)).toBe('fire');
    // Once active it keeps firing whatever the trend.
    const state = newConditionState();
    expect(evaluateThreshold(state, 52, T0, p, -2)).toBe('fire');
    expect(evaluateThreshold(state, 50, T0 + 5 * MIN, p, 3)).toBe('fire');
  });

  it('slopeMethod robust: one wild reading does not tilt the falling rate (Theil–Sen), where it tilts least squares', () => {
    const rate: RateParams = { direction: 'falling', ratePerMin: 3, windowSec: 900, minSamples: 3, priority: 'medium' };
    // Flat at 150 with one compression-like reading of 100 at the end.
    const w = windowOf(15 * MIN, [
      [0, 150],
      [5 * MIN, 150],
      [10 * MIN, 150],
      [15 * MIN, 100],
    ]);
    expect(evaluateRate(newConditionState(), w, T0 + 15 * MIN, rate, out, 100)).toBe('fire');
    expect(out[0]).toBeCloseTo(-3, 9);
    expect(evaluateRate(newConditionState(), w, T0 + 15 * MIN, { ...rate, slopeMethod: 'robust' }, out, 100)).toBe(
      'none',
    );
    // Pairwise slopes 0, 0, 0, −10/3, −5, −10: median −5/3, well short of −3.
    expect(out[0]).toBeCloseTo(-5 / 3, 9);
  });

  const p: PredictiveParams = {
    direction: 'below',
    threshold: 55,
    horizonSec: 1200,
    windowSec: 900,
    minSamples: 3,
    priority: 'medium',
  };

  it('minRatePerMin: a slow drift near the threshold is not "soon"; a fall at the rate is', () => {
    // 66, 64, 62 over 10 min: −0.4/min → 62 − 8 = 54 crosses, but slower than 1/min.
    const drift = windowOf(15 * MIN, [
      [0, 66],
      [5 * MIN, 64],
      [10 * MIN, 62],
    ]);
    expect(evaluatePredictive(newConditionState(), 62, drift, T0 + 10 * MIN, p, false, out)).toBe('fire');
    expect(
      evaluatePredictive(newConditionState(), 62, drift, T0 + 10 * MIN, { ...p, minRatePerMin: 1 }, false, out),
    ).toBe('none');
    const fall = windowOf(15 * MIN, [
      [0, 100],
      [5 * MIN, 90],
      [10 * MIN, 80],
    ]);
    expect(
      evaluatePredictive(newConditionState(), 80, fall, T0 + 10 * MIN, { ...p, minRatePerMin: 2 }, false, out),
    ).toBe('fire');
  });

  it('hysteresis: once active, held until the projection is back past threshold + hysteresis', () => {
    const held = { ...p, hysteresis: 10 };
    const w = new SampleWindow(15 * MIN);
    const state = newConditionState();
    const steps: [number, number][] = [
      [0, 100],
      [5 * MIN, 90],
      [10 * MIN, 80], // −2/min → 40: fires
      [15 * MIN, 84], // −1.16/min → 60.8: above 55, not past 65: holds
      [20 * MIN, 90], // +0.08/min → 91.6: back past 65, clears
    ];
    const conditions = steps.map(([t, v]) => {
      w.push(T0 + t, v);
      return evaluatePredictive(state, v, w, T0 + t, held, false, out);
    });
    expect(conditions).toEqual(['none', 'none', 'fire', 'fire', 'clear']);
    // Without hysteresis the projection of 60.8 (≥ 55) already clears it.
    const plain = newConditionState();
    const w2 = new SampleWindow(15 * MIN);
    const plainConditions = steps.map(([t, v]) => {
      w2.push(T0 + t, v);
      return evaluatePredictive(plain, v, w2, T0 + t, p, false, out);
    });
    expect(plainConditions).toEqual(['none', 'none', 'fire', 'clear', 'none']);
  });
});

describe('SampleWindow.robustFit', () => {
  it('gives the median pairwise slope and the median intercept at the latest reading', () => {
    const w = windowOf(60 * MIN, [
      [0, 100],
      [5 * MIN, 95],
      [10 * MIN, 85],
    ]);
    // Pairwise slopes −1, −2, −1.5: median −1.5; values − slope × x: 85, 87.5, 85 → 85 (x = 0 at the latest).
    const fit = w.robustFit(T0, 2, new Float64Array(2));
    expect(fit[0]).toBeCloseTo(-1.5, 9);
    expect(fit[1]).toBeCloseTo(85, 9);
    expect([...w.robustFit(T0, 4, new Float64Array(2))]).toEqual([NaN, NaN]);
  });

  it('looks at the newest ROBUST_MAX_SAMPLES readings only', () => {
    const w = new SampleWindow(24 * 60 * MIN);
    // 40 readings a minute apart: a fall of 10/min for the first 8, then a rise of 1/min.
    for (let i = 0; i < 40; i++) w.push(T0 + i * MIN, i < 8 ? 1000 - 10 * i : 900 + i);
    expect(w.robustFit(-Infinity, 3, new Float64Array(2))[0]).toBeCloseTo(1, 9);
  });
});
