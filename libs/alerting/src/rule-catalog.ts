import type { AlertPriority, MetricKey } from '@lantern/domain';

export const RULE_KINDS = ['threshold', 'rate', 'predictive', 'trend', 'signal_loss', 'battery'] as const;
export type RuleKind = (typeof RULE_KINDS)[number];

export interface ThresholdParams {
  direction: 'below' | 'above';
  threshold: number;
  delaySec: number;
  hysteresis: number;
  priority: AlertPriority;
}

export interface RateParams {
  direction: 'falling' | 'rising';
  ratePerMin: number;
  windowSec: number;
  minSamples: number;
  priority: AlertPriority;
}

export interface PredictiveParams {
  direction: 'below' | 'above';
  threshold: number;
  horizonSec: number;
  windowSec: number;
  minSamples: number;
  priority: AlertPriority;
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
): MetricRuleDefinition<'threshold'> => ({
  key,
  kind: 'threshold',
  scope: 'metric',
  metric: key.slice(0, key.indexOf('.')) as MetricKey,
  label,
  params: { direction, threshold: value, delaySec, hysteresis, priority },
});

/** The default rules of spec/alerting.md §4: every patient has them, each overridable or disabled per patient. */
export const DEFAULT_RULES: readonly RuleDefinition[] = [
  threshold('glucose.urgent_low', 'urgent low', 'below', 54, 0, 5, 'high'),
  threshold('glucose.low', 'low', 'below', 70, 0, 5, 'medium'),
  threshold('glucose.high', 'high', 'above', 250, 1800, 10, 'low'),
  {
    key: 'glucose.falling_fast',
    kind: 'rate',
    scope: 'metric',
    metric: 'glucose',
    label: 'falling fast',
    params: { direction: 'falling', ratePerMin: 3, windowSec: 900, minSamples: 3, priority: 'medium' },
  },
  {
    key: 'glucose.urgent_low_soon',
    kind: 'predictive',
    scope: 'metric',
    metric: 'glucose',
    label: 'urgent low soon',
    params: { direction: 'below', threshold: 55, horizonSec: 1200, windowSec: 900, minSamples: 3, priority: 'high' },
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
