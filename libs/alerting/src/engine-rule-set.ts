import { METRIC_KEYS, type MetricKey } from '@lantern/domain';
import type { Worse } from './alert-lifecycle.js';
import { RISING_WINDOW_SEC, type ThresholdParams } from './rule-catalog.js';
import { effectiveRules, type EffectiveRule } from './rule-overrides.js';

/** One effective rule as the engine indexes it. */
export interface CompiledRule {
  readonly rule: EffectiveRule;
  readonly index: number;
  readonly worse: Worse;
  /** Predictive: index of the threshold rule that takes over, else -1. */
  readonly takeoverIndex: number;
}

/** A patient's effective rules, indexed once per change of overrides rather than looked up per reading. */
export interface RuleSet {
  readonly rules: readonly EffectiveRule[];
  readonly byKey: ReadonlyMap<string, CompiledRule>;
  /** Enabled metric rules per metric, in catalog order (threshold rules before the predictive rules they take over). */
  readonly byMetric: Readonly<Record<MetricKey, readonly CompiledRule[]>>;
  /** History each metric's windowed rules need, in ms (0: no window kept). */
  readonly windowMs: Readonly<Record<MetricKey, number>>;
  /** History a restart reads back per metric, in ms (see HistoryNeed; 0: none needed). */
  readonly historyMs: Readonly<Record<MetricKey, number>>;
  readonly signalLoss: CompiledRule | null;
  readonly battery: readonly CompiledRule[];
}

function worseOf(rule: EffectiveRule): Worse {
  switch (rule.kind) {
    case 'threshold':
    case 'predictive':
      return rule.params.direction === 'below' ? 'lower' : 'higher';
    case 'rate':
      return rule.params.direction === 'falling' ? 'lower' : 'higher';
    case 'trend':
      return rule.params.direction === 'rising' ? 'higher' : 'lower';
    case 'battery':
      return 'lower';
    case 'signal_loss':
      return null;
  }
}

/** A threshold rule's `notWhileRecovering` (null: off). */
export function recoveringGuard(p: ThresholdParams): number | null {
  return p.notWhileRecovering ?? null;
}

/** Readings the trend of `notWhileRecovering` needs (fewer: no trend, no wait). */
export const RISING_MIN_SAMPLES = 3;

/** Indexes effective rules by key, by metric and by device rule, with the history each metric needs. */
export function compileRules(rules: readonly EffectiveRule[]): RuleSet {
  const byKey = new Map<string, CompiledRule>();
  const byMetric = Object.fromEntries(METRIC_KEYS.map((m) => [m, [] as CompiledRule[]])) as Record<
    MetricKey,
    CompiledRule[]
  >;
  const windowMs = Object.fromEntries(METRIC_KEYS.map((m) => [m, 0])) as Record<MetricKey, number>;
  const spanMs = Object.fromEntries(METRIC_KEYS.map((m) => [m, 0])) as Record<MetricKey, number>;
  const wholeMs = Object.fromEntries(METRIC_KEYS.map((m) => [m, 0])) as Record<MetricKey, number>;
  const indexOf = new Map(rules.map((rule, index) => [rule.key, index]));
  let signalLoss: CompiledRule | null = null;
  const battery: CompiledRule[] = [];
  rules.forEach((rule, index) => {
    const takeover = rule.kind === 'predictive' && rule.takenOverBy ? (indexOf.get(rule.takenOverBy) ?? -1) : -1;
    const compiled: CompiledRule = { rule, index, worse: worseOf(rule), takeoverIndex: takeover };
    byKey.set(rule.key, compiled);
    if (!rule.enabled) return;
    if (rule.scope === 'metric') {
      byMetric[rule.metric].push(compiled);
      const m = rule.metric;
      // A threshold rule that waits while recovering looks at the trend of the last RISING_WINDOW_SEC.
      const windowSec =
        rule.kind !== 'threshold'
          ? rule.params.windowSec
          : recoveringGuard(rule.params) !== null
            ? RISING_WINDOW_SEC
            : 0;
      windowMs[m] = Math.max(windowMs[m], windowSec * 1000);
      if (rule.kind === 'rate' || rule.kind === 'predictive')
        wholeMs[m] = Math.max(wholeMs[m], rule.params.windowSec * 1000);
      const needs = rule.kind === 'threshold' ? Math.max(rule.params.delaySec, windowSec) : rule.params.windowSec;
      spanMs[m] = Math.max(spanMs[m], needs * 1000);
    } else if (rule.kind === 'signal_loss') signalLoss = compiled;
    else battery.push(compiled);
  });
  const historyMs = Object.fromEntries(
    METRIC_KEYS.map((m) => [m, spanMs[m] === 0 ? 0 : spanMs[m] + wholeMs[m]]),
  ) as Record<MetricKey, number>;
  return { rules, byKey, byMetric, windowMs, historyMs, signalLoss, battery };
}

/** The rule set of every patient without overrides: one shared instance, so streams see no change. */
export const DEFAULT_RULE_SET = compileRules(effectiveRules());
