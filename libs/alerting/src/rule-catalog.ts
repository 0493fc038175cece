import type { AlertPriority, MetricKey } from '@lantern/domain';

export const RULE_KINDS = ['threshold', 'rate', 'predictive', 'trend', 'signal_loss', 'battery'] as const;
export type RuleKind = (typeof RULE_KINDS)[number];

/** How a metric rule's alerts relate to an episode (docs/alerting.md, "One episode, fewer alerts"). */
export interface EpisodeParams {
  /**
   * Re-arming: once an alert of the rule has ended — its condition cleared, and it resolved by
   * itself or, latched, when a clinician acknowledged it — the rule opens a new alert within
   * `rearmSec` of event time after that clear only for a value worse than the ended alert's peak.
   * Absent or 0: re-arms at once (every new crossing is a new alert).
   */
  rearmSec?: number;
  /**
   * Rules (of the same metric) whose active alert already covers this rule's episode: while one of
   * them has an active alert this rule opens no new alert; an alert it already has goes on, and once
   * none is active a condition that still holds opens one as usual. Absent or empty: none.
   */
  coveredBy?: readonly string[];
}

export interface ThresholdParams extends EpisodeParams {
  direction: 'below' | 'above';
  threshold: number;
  delaySec: number;
  hysteresis: number;
  priority: AlertPriority;
  /**
   * Consecutive readings beyond the threshold before the rule fires (absent: 1, at once) — one
   * reading can be a sensor's error, two in a row rarely are. Counted with `delaySec`: both must hold.
   */
  confirmReadings?: number;
  /** A reading beyond this fires without waiting for `confirmReadings` (absent or null: never). */
  immediateBeyond?: number | null;
  /**
   * No new alert while the trend (least-squares slope of the last {@link RISING_WINDOW_SEC}, at
   * least 3 readings) moves back toward range at least this fast, per minute: a low already rising
   * is being treated. Absent or null: off.
   */
  notWhileRecovering?: number | null;
}

/** Window of the trend that {@link ThresholdParams.notWhileRecovering} looks at. */
export const RISING_WINDOW_SEC = 900;

/**
 * How a windowed rule estimates the trend: `least_squares` (absent: this), the least-squares line;
 * `robust`, the Theil–Sen line (median of the pairwise slopes), which one wild reading — a
 * compression artefact, a spike — cannot tilt.
 */
export type SlopeMethod = 'least_squares' | 'robust';

export interface RateParams extends EpisodeParams {
  direction: 'falling' | 'rising';
  ratePerMin: number;
  windowSec: number;
  minSamples: number;
  priority: AlertPriority;
  /**
   * Falling: the rule applies only while the value is at or below this; rising: at or above. A fall
   * from 250 to 200 is no warning of a low. Absent or null: at any value.
   */
  valueLimit?: number | null;
  slopeMethod?: SlopeMethod;
}

export interface PredictiveParams extends EpisodeParams {
  direction: 'below' | 'above';
  threshold: number;
  horizonSec: number;
  windowSec: number;
  minSamples: number;
  priority: AlertPriority;
  /**
   * Below: the rule applies only while the value is at or below this; above: at or above. Absent or
   * null: at any value.
   */
  valueLimit?: number | null;
  /** Consecutive readings whose projection must cross before the rule fires (absent: 1, at once). */
  confirmReadings?: number;
  /**
   * Where the projection starts: `reading`, the latest value (absent: this), or `trend`, the
   * least-squares line's value now — less sensitive to one noisy reading.
   */
  projectFrom?: 'reading' | 'trend';
  slopeMethod?: SlopeMethod;
  /**
   * The projection counts only when the trend moves toward the threshold at least this fast, per
   * minute: a value drifting slowly near the threshold is not "soon". Absent or null: any rate.
   */
  minRatePerMin?: number | null;
  /**
   * Once active, the rule clears only when the projection is back past threshold ± this (or the
   * value itself crossed, or the threshold rule took over): a projection hovering at the threshold
   * keeps one alert, not one per crossing. Absent: 0.
   */
  hysteresis?: number;
}

export interface TrendParams {
  direction: 'rising' | 'falling';
  delta: number;
  windowSec: number;
  priority: AlertPriority;
}

export interface SignalLossParams {
  /** Null: the device type's `signalLossAfterSec`. */
  afterSec: number | null;
  priority: AlertPriority;
}

export interface BatteryParams {
  /** Fires when the battery level (percent) is at or below this. */
  threshold: number;
  priority: AlertPriority;
}

export interface RuleParamsByKind {
  threshold: ThresholdParams;
  rate: RateParams;
  predictive: PredictiveParams;
  trend: TrendParams;
  signal_loss: SignalLossParams;
  battery: BatteryParams;
}

interface RuleBase<K extends RuleKind> {
  readonly key: string;
  readonly kind: K;
  /** Short name used in clinician messages ("urgent low"). */
  readonly label: string;
  readonly params: Readonly<RuleParamsByKind[K]>;
}

export interface MetricRuleDefinition<
  K extends 'threshold' | 'rate' | 'predictive' | 'trend' = 'threshold' | 'rate' | 'predictive' | 'trend',
> extends RuleBase<K> {
  readonly scope: 'metric';
  readonly metric: MetricKey;
  /**
   * Predictive rules only: the threshold rule that "takes over" once the value has actually crossed;
   * while that rule's condition holds, the prediction is moot and clears.
   */
  readonly takenOverBy?: string;
}

export interface DeviceRuleDefinition<
  K extends 'signal_loss' | 'battery' = 'signal_loss' | 'battery',
> extends RuleBase<K> {
  readonly scope: 'device';
}

export type RuleDefinition =
  | MetricRuleDefinition<'threshold'>
  | MetricRuleDefinition<'rate'>
  | MetricRuleDefinition<'predictive'>
  | MetricRuleDefinition<'trend'>
  | DeviceRuleDefinition<'signal_loss'>
  | DeviceRuleDefinition<'battery'>;

const threshold = (
  key: string,
  label: string,
  direction: 'below' | 'above',
  value: number,
  delaySec: number,
  hysteresis: number,
  priority: AlertPriority,
  episode: EpisodeParams = {},
): MetricRuleDefinition<'threshold'> => ({
  key,
  kind: 'threshold',
  scope: 'metric',
  metric: key.slice(0, key.indexOf('.')) as MetricKey,
  label,
  params: { direction, threshold: value, delaySec, hysteresis, priority, ...episode },
});

/**
 * Glucose alerts re-arm after an hour (docs/alert-quality.md, change 4): within an hour after an
 * alert of the rule ended, only a worse value opens a new one.
 */
const GLUCOSE_REARM_SEC = 3600;

/**
 * The default rules of spec/alerting.md §4: every patient has them, each overridable or disabled per
 * patient. The glucose rules' parameters differ from the spec's where the alert-quality harness
 * showed a better trade-off (docs/alerting.md, "Default glucose rules: changes and evidence").
 */
export const DEFAULT_RULES: readonly RuleDefinition[] = [
  threshold('glucose.urgent_low', 'urgent low', 'below', 54, 0, 5, 'high', { rearmSec: GLUCOSE_REARM_SEC }),
  threshold('glucose.low', 'low', 'below', 70, 0, 5, 'medium', {
    rearmSec: GLUCOSE_REARM_SEC,
    coveredBy: ['glucose.urgent_low_soon', 'glucose.urgent_low'],
  }),
  threshold('glucose.high', 'high', 'above', 250, 1800, 10, 'low', { rearmSec: GLUCOSE_REARM_SEC }),
  {
    key: 'glucose.falling_fast',
    kind: 'rate',
    scope: 'metric',
    metric: 'glucose',
    label: 'falling fast',
    params: {
      direction: 'falling',
      ratePerMin: 3,
      windowSec: 900,
      minSamples: 3,
      priority: 'medium',
      valueLimit: 180,
      rearmSec: GLUCOSE_REARM_SEC,
      coveredBy: ['glucose.urgent_low_soon', 'glucose.low', 'glucose.urgent_low'],
    },
  },
  {
    key: 'glucose.urgent_low_soon',
    kind: 'predictive',
    scope: 'metric',
    metric: 'glucose',
    label: 'urgent low soon',
    // Medium, not high: a prediction is not yet a condition needing action now (IEC 60601-1-8), so it does not latch.
    params: {
      direction: 'below',
      threshold: 55,
      horizonSec: 1200,
      windowSec: 900,
      minSamples: 3,
      priority: 'medium',
      rearmSec: GLUCOSE_REARM_SEC,
      // Held until the projection is back above 65: one alert per descent, not one per wobble (change 5).
      hysteresis: 10,
    },
    takenOverBy: 'glucose.urgent_low',
  },
  threshold('heart_rate.low', 'low', 'below', 40, 30, 5, 'high'),
  threshold('heart_rate.high', 'high', 'above', 130, 60, 5, 'medium'),
  threshold('spo2.low', 'low', 'below', 90, 60, 2, 'medium'),
  threshold('spo2.critical', 'critical', 'below', 85, 15, 2, 'high'),
  threshold('systolic_bp.high', 'high', 'above', 180, 0, 10, 'high'),
  threshold('systolic_bp.low', 'low', 'below', 90, 0, 5, 'medium'),
  threshold('respiratory_rate.high', 'high', 'above', 30, 60, 2, 'medium'),
  threshold('respiratory_rate.low', 'low', 'below', 8, 30, 1, 'high'),
  threshold('body_temperature.fever', 'fever', 'above', 38.3, 0, 0.3, 'medium'),
  {
    key: 'body_weight.gain_3d',
    kind: 'trend',
    scope: 'metric',
    metric: 'body_weight',
    label: 'gain over 3 days',
    params: { direction: 'rising', delta: 2, windowSec: 72 * 3600, priority: 'medium' },
  },
  {
    key: 'device.signal_loss',
    kind: 'signal_loss',
    scope: 'device',
    label: 'signal loss',
    params: { afterSec: null, priority: 'low' },
  },
  {
    key: 'device.battery_low',
    kind: 'battery',
    scope: 'device',
    label: 'battery low',
    params: { threshold: 15, priority: 'low' },
  },
  {
    key: 'device.battery_critical',
    kind: 'battery',
    scope: 'device',
    label: 'battery critical',
    params: { threshold: 5, priority: 'medium' },
  },
];

const BY_KEY = new Map(DEFAULT_RULES.map((rule) => [rule.key, rule]));

/** The catalog rule with this key, or undefined (unknown rule → 404 at the API). */
export function findRule(ruleKey: string): RuleDefinition | undefined {
  return BY_KEY.get(ruleKey);
}

/** Every catalogued rule key, in catalog order. */
export const RULE_KEYS: readonly string[] = DEFAULT_RULES.map((rule) => rule.key);
