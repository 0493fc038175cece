import type { BatteryParams, PredictiveParams, RateParams, ThresholdParams, TrendParams } from './rule-catalog.js';
import type { SampleWindow } from './sample-window.js';

/**
 * What one evaluation says about a rule's condition:
 * - `fire`: the condition holds on this input (it just started, or it still holds);
 * - `clear`: it held until now and no longer does;
 * - `none`: nothing to report (not met, delay still running, inside the hysteresis band, or too few samples).
 */
export type Condition = 'fire' | 'clear' | 'none';

/**
 * The live state of one rule's condition. One shape for every kind so the engine's arrays stay
 * monomorphic; evaluators mutate it in place (no allocation per reading) and return the condition.
 */
export interface ConditionState {
  active: boolean;
  /** Threshold: event time of the first reading beyond the threshold in the current run (NaN: none). */
  since: number;
  /** Set when a clinician resolved the alert while the condition still held: no new alert until it clears. */
  suppressed: boolean;
  /** Predictive: consecutive readings whose projection crossed, while not yet active. */
  streak: number;
  /** Re-arming: until this event time a new alert opens only for a value worse than `quietPeak` (-Infinity: none). */
  quietUntil: number;
  /** Re-arming: peak of the alert that ended (NaN: none). */
  quietPeak: number;
}

/** A fresh, inactive condition state. */
export function newConditionState(): ConditionState {
  return { active: false, since: NaN, suppressed: false, streak: 0, quietUntil: -Infinity, quietPeak: NaN };
}

/**
 * Re-arming ({@link RearmParams}): whether the rule may open a new alert on `value` at `time`, given
 * when its previous alert ended. Worse is lower for `lower`, higher otherwise.
 */
export function rearmed(state: ConditionState, value: number, time: number, lower: boolean): boolean {
  if (time >= state.quietUntil || Number.isNaN(state.quietPeak)) return true;
  return lower ? value < state.quietPeak : value > state.quietPeak;
}

// Rates and trends are sums of floating-point terms: compare "at least" with a small tolerance.
const EPSILON = 1e-9;

function transition(state: ConditionState, meets: boolean): Condition {
  if (meets) {
    state.active = true;
    return 'fire';
  }
  if (state.active) {
    state.active = false;
    return 'clear';
  }
  return 'none';
}

/**
 * threshold: fires once the value has been beyond the threshold for `delaySec` of event time,
 * counted from the first reading beyond it, and on `confirmReadings` consecutive readings beyond it
 * (one beyond `immediateBeyond` is enough); once active it clears only back past threshold ±
 * hysteresis. The threshold itself is not beyond ("below 54": 54 does not fire). With
 * `notWhileRecovering`, a condition not yet active waits while `recoveringPerMin` — the trend,
 * positive toward range — is at least that (NaN: unknown, no wait).
 */
export function evaluateThreshold(
  state: ConditionState,
  value: number,
  time: number,
  p: ThresholdParams,
  recoveringPerMin: number = NaN,
): Condition {
  const below = p.direction === 'below';
  const beyond = below ? value < p.threshold : value > p.threshold;
  if (state.active) {
    if (beyond) return 'fire';
    const back = below ? value >= p.threshold + p.hysteresis : value <= p.threshold - p.hysteresis;
    if (!back) return 'none';
    state.active = false;
    state.since = NaN;
    state.streak = 0;
    return 'clear';
  }
  if (!beyond) {
    // Only a run in progress has anything to reset (since is NaN exactly when streak is 0): the hot
    // path of a value in range then leaves \`since\`, a number V8 keeps in a box of its own, untouched.
    if (state.streak !== 0) {
      state.since = NaN;
      state.streak = 0;
    }
    return 'none';
  }
  if (Number.isNaN(state.since)) state.since = time;
  state.streak++;
  if (time - state.since < p.delaySec * 1000) return 'none';
  const immediate = p.immediateBeyond ?? null;
  const confirmed =
    state.streak >= (p.confirmReadings ?? 1) || (immediate !== null && (below ? value < immediate : value > immediate));
  if (!confirmed) return 'none';
  const guard = p.notWhileRecovering ?? null;
  if (guard !== null && recoveringPerMin >= guard - EPSILON) return 'none';
  state.active = true;
  return 'fire';
}

/**
 * rate: the slope (least-squares, or with `slopeMethod: 'robust'` Theil–Sen) of the last `windowSec` of readings (at least `minSamples`) is at
 * least `ratePerMin` in the rule's direction, and the current `value` is within `valueLimit` when the
 * rule has one. Too few samples neither fires nor clears.
 * Returns the condition; the slope used is left in `out[0]` for messages.
 */
export function evaluateRate(
  state: ConditionState,
  window: SampleWindow,
  latest: number,
  p: RateParams,
  out: Float64Array,
  value: number = NaN,
): Condition {
  const from = latest - p.windowSec * 1000;
  const slope = (
    p.slopeMethod === 'robust' ? window.robustFit(from, p.minSamples, out) : window.linearFit(from, p.minSamples, out)
  )[0];
  out[0] = slope;
  if (Number.isNaN(slope)) return 'none';
  const falling = p.direction === 'falling';
  const limit = p.valueLimit ?? null;
  const inRange = limit === null || Number.isNaN(value) || (falling ? value <= limit : value >= limit);
  const meets = inRange && (falling ? slope <= -p.ratePerMin + EPSILON : slope >= p.ratePerMin - EPSILON);
  return transition(state, meets);
}

/**
 * predictive: the current value has not crossed `threshold`, but current value (or, with
 * `projectFrom: 'trend'`, the trend line's value now) + slope × horizon has — on
 * `confirmReadings` consecutive readings before it first fires, and with the trend at least
 * `minRatePerMin` toward the threshold. Clears when the projection is back past the threshold by
 * `hysteresis`, when the value leaves `valueLimit`, when the value itself crosses, or when the
 * matching threshold rule is active (`takenOver`): that rule has taken over.
 * The projected value is left in `out[0]`, the slope in `out[1]`.
 */
export function evaluatePredictive(
  state: ConditionState,
  value: number,
  window: SampleWindow,
  latest: number,
  p: PredictiveParams,
  takenOver: boolean,
  out: Float64Array,
): Condition {
  const below = p.direction === 'below';
  const crossedNow = below ? value < p.threshold : value > p.threshold;
  if (crossedNow || takenOver) {
    state.streak = 0;
    return transition(state, false);
  }
  const from = latest - p.windowSec * 1000;
  if (p.slopeMethod === 'robust') window.robustFit(from, p.minSamples, out);
  else window.linearFit(from, p.minSamples, out);
  const slope = out[0];
  const fitted = out[1];
  out[1] = slope;
  if (Number.isNaN(slope)) {
    state.streak = 0;
    return 'none';
  }
  const projected = (p.projectFrom === 'trend' ? fitted : value) + (slope * p.horizonSec) / 60;
  out[0] = projected;
  const limit = p.valueLimit ?? null;
  const inRange = limit === null || (below ? value <= limit : value >= limit);
  const minRate = p.minRatePerMin ?? null;
  const fastEnough = minRate === null || (below ? slope <= -minRate + EPSILON : slope >= minRate - EPSILON);
  if (state.active) {
    // Held while in range until the projection is back past the threshold by the hysteresis (whatever the rate).
    const margin = p.hysteresis ?? 0;
    const back = below ? projected >= p.threshold + margin : projected <= p.threshold - margin;
    return transition(state, inRange && !back);
  }
  const meets = inRange && fastEnough && (below ? projected < p.threshold : projected > p.threshold);
  // Not yet active: the crossing must hold on `confirmReadings` consecutive readings.
  state.streak = meets ? state.streak + 1 : 0;
  return transition(state, meets && state.streak >= (p.confirmReadings ?? 1));
}

/**
 * trend: the latest value differs from the lowest (rising) or highest (falling) value of the last
 * `windowSec` by at least `delta`. The change found is left in `out[0]`.
 */
export function evaluateTrend(
  state: ConditionState,
  value: number,
  window: SampleWindow,
  latest: number,
  p: TrendParams,
  out: Float64Array,
): Condition {
  const rising = p.direction === 'rising';
  const extreme = window.extreme(latest - p.windowSec * 1000, rising ? 'min' : 'max');
  const change = rising ? value - extreme : extreme - value;
  out[0] = change;
  if (Number.isNaN(change)) return 'none';
  return transition(state, change >= p.delta - EPSILON);
}

/**
 * signal_loss, from the periodic sweep: fires once when nothing was heard for `afterSec` of wall
 * clock (`lastHeardAt` null: never heard, nothing to lose yet). Clearing happens on data arrival,
 * through {@link evaluateSignalHeard}.
 */
export function evaluateSignalLoss(
  state: ConditionState,
  lastHeardAt: number | null,
  now: number,
  afterSec: number,
): Condition {
  if (state.active || lastHeardAt === null) return 'none';
  if (now - lastHeardAt < afterSec * 1000) return 'none';
  state.active = true;
  return 'fire';
}

/** signal_loss: the device was heard from; clears an active loss. */
export function evaluateSignalHeard(state: ConditionState): Condition {
  return transition(state, false);
}

/** battery: the reported level (percent) is at or below `threshold`. */
export function evaluateBattery(state: ConditionState, battery: number, p: BatteryParams): Condition {
  return transition(state, battery <= p.threshold);
}
