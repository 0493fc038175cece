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
}

/** A fresh, inactive condition state. */
export function newConditionState(): ConditionState {
  return { active: false, since: NaN, suppressed: false };
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
 * counted from the first reading beyond it; once active it clears only back past threshold ± hysteresis.
 * The threshold itself is not beyond ("below 54": 54 does not fire).
 */
export function evaluateThreshold(state: ConditionState, value: number, time: number, p: ThresholdParams): Condition {
  const below = p.direction === 'below';
  const beyond = below ? value < p.threshold : value > p.threshold;
  if (state.active) {
    if (beyond) return 'fire';
    const back = below ? value >= p.threshold + p.hysteresis : value <= p.threshold - p.hysteresis;
    if (!back) return 'none';
    state.active = false;
    state.since = NaN;
    return 'clear';
  }
  if (!beyond) {
    state.since = NaN;
    return 'none';
  }
  if (Number.isNaN(state.since)) state.since = time;
  if (time - state.since < p.delaySec * 1000) return 'none';
  state.active = true;
  return 'fire';
}

/**
 * rate: the least-squares slope of the last `windowSec` of readings (at least `minSamples`) is at
 * least `ratePerMin` in the rule's direction. Too few samples neither fires nor clears.
 * Returns the condition; the slope used is left in `out[0]` for messages.
 */
export function evaluateRate(
  state: ConditionState,
  window: SampleWindow,
  latest: number,
  p: RateParams,
  out: Float64Array,
): Condition {
  const slope = window.slopePerMin(latest - p.windowSec * 1000, p.minSamples);
  out[0] = slope;
  if (Number.isNaN(slope)) return 'none';
  const meets = p.direction === 'falling' ? slope <= -p.ratePerMin + EPSILON : slope >= p.ratePerMin - EPSILON;
  return transition(state, meets);
}

/**
 * predictive: the current value has not crossed `threshold`, but current value + slope × horizon
 * has. Clears when the projection no longer crosses, when the value itself crosses, or when the
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
  if (crossedNow || takenOver) return transition(state, false);
  const slope = window.slopePerMin(latest - p.windowSec * 1000, p.minSamples);
  out[1] = slope;
  if (Number.isNaN(slope)) return 'none';
  const projected = value + (slope * p.horizonSec) / 60;
  out[0] = projected;
  return transition(state, below ? projected < p.threshold : projected > p.threshold);
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
