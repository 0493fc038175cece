import { ALERT_PRIORITIES, METRICS } from '@lantern/domain';
import { DEFAULT_RULES, findRule, type RuleDefinition, type RuleKind } from './rule-catalog.js';
import { MAX_WINDOW_SAMPLES } from './sample-window.js';

/** A patient's stored override of one rule (table `alert_rule_overrides`). */
export interface RuleOverride {
  readonly ruleKey: string;
  readonly enabled: boolean;
  /** Only the overridden parameters. */
  readonly params: Readonly<Record<string, unknown>>;
}

/** A catalog rule as it applies to one patient: defaults merged with that patient's override. */
export type EffectiveRule = RuleDefinition & {
  readonly enabled: boolean;
  readonly source: 'default' | 'patient';
};

type FieldSpec =
  | {
      readonly type: 'number' | 'integer';
      readonly min: number;
      readonly max: number;
      readonly exclusiveMin?: boolean;
      readonly nullable?: boolean;
    }
  | { readonly type: 'metric-value' }
  | { readonly type: 'enum'; readonly values: readonly string[] }
  /** A list of other rules of the same metric (keys). */
  | { readonly type: 'metric-rules' };

const DAY = 86_400;
const priority: FieldSpec = { type: 'enum', values: ALERT_PRIORITIES };
const windowSec: FieldSpec = { type: 'integer', min: 60, max: 30 * DAY };
// A window holds at most MAX_WINDOW_SAMPLES: a rule asking for more could never fire.
const minSamples: FieldSpec = { type: 'integer', min: 2, max: MAX_WINDOW_SAMPLES };
const rearmSec: FieldSpec = { type: 'integer', min: 0, max: DAY };
const coveredBy: FieldSpec = { type: 'metric-rules' };
const slopeMethod: FieldSpec = { type: 'enum', values: ['least_squares', 'robust'] };

/**
 * Parameter schema per rule kind: the fields a patient override may set. `direction` is part of a
 * rule's identity ("glucose.low" is a below-rule) and is deliberately absent: it cannot be overridden.
 */
export const RULE_PARAM_SCHEMAS: Record<RuleKind, Readonly<Record<string, FieldSpec>>> = {
  threshold: {
    threshold: { type: 'metric-value' },
    delaySec: { type: 'integer', min: 0, max: DAY },
    hysteresis: { type: 'number', min: 0, max: 1000 },
    priority,
    rearmSec,
    coveredBy,
    confirmReadings: { type: 'integer', min: 1, max: 20 },
    immediateBeyond: { type: 'metric-value' },
    notWhileRecovering: { type: 'number', min: 0, max: 1000, exclusiveMin: true, nullable: true },
  },
  rate: {
    ratePerMin: { type: 'number', min: 0, max: 1000, exclusiveMin: true },
    windowSec,
    minSamples,
    priority,
    valueLimit: { type: 'metric-value' },
    rearmSec,
    coveredBy,
    slopeMethod,
  },
  predictive: {
    threshold: { type: 'metric-value' },
    horizonSec: { type: 'integer', min: 60, max: DAY },
    windowSec,
    minSamples,
    priority,
    valueLimit: { type: 'metric-value' },
    confirmReadings: { type: 'integer', min: 1, max: 20 },
    projectFrom: { type: 'enum', values: ['reading', 'trend'] },
    rearmSec,
    coveredBy,
    slopeMethod,
    minRatePerMin: { type: 'number', min: 0, max: 1000, nullable: true },
    hysteresis: { type: 'number', min: 0, max: 1000 },
  },
  trend: { delta: { type: 'number', min: 0, max: 1000, exclusiveMin: true }, windowSec, priority },
  signal_loss: { afterSec: { type: 'integer', min: 60, max: 30 * DAY, nullable: true }, priority },
  battery: { threshold: { type: 'integer', min: 0, max: 100 }, priority },
};

export type RuleOverrideValidation =
  { ok: true; enabled?: boolean; params: Record<string, unknown> } | { ok: false; problems: string[] };

function checkField(rule: RuleDefinition, name: string, spec: FieldSpec, value: unknown): string | undefined {
  switch (spec.type) {
    case 'enum':
      return typeof value === 'string' && spec.values.includes(value)
        ? undefined
        : `${name} must be one of ${spec.values.join(', ')}`;
    case 'metric-rules': {
      if (rule.scope !== 'metric') return `${name} is not a parameter of ${rule.key}`;
      const ok =
        Array.isArray(value) &&
        value.every((key) => {
          const other = typeof key === 'string' ? findRule(key) : undefined;
          return (
            other !== undefined && other.key !== rule.key && other.scope === 'metric' && other.metric === rule.metric
          );
        });
      return ok ? undefined : `${name} must be a list of other ${rule.metric} rules`;
    }
    case 'metric-value': {
      if (rule.scope !== 'metric') return `${name} is not a parameter of ${rule.key}`;
      const { min, max } = METRICS[rule.metric].plausible;
      const unit = METRICS[rule.metric].unit;
      return typeof value === 'number' && Number.isFinite(value) && value >= min && value <= max
        ? undefined
        : `${name} must be a number between ${min} and ${max} (${unit})`;
    }
    case 'number':
    case 'integer': {
      if (value === null && spec.nullable) return undefined;
      const kind = spec.type === 'integer' ? 'an integer' : 'a number';
      const okType =
        typeof value === 'number' && Number.isFinite(value) && (spec.type === 'number' || Number.isInteger(value));
      const okRange = okType && (spec.exclusiveMin ? value > spec.min : value >= spec.min) && value <= spec.max;
      if (okRange) return undefined;
      const lower = spec.exclusiveMin ? `greater than ${spec.min}` : `at least ${spec.min}`;
      return `${name} must be ${kind} ${lower} and at most ${spec.max}${spec.nullable ? ', or null' : ''}`;
    }
  }
}

/**
 * Validates the body of `PUT /patients/:id/alert-rules/:ruleKey` (`{ enabled?, <param>? … }`)
 * against the rule's parameter schema; returns every problem found.
 */
export function validateRuleOverride(ruleKey: string, body: unknown): RuleOverrideValidation {
  const rule = findRule(ruleKey);
  if (!rule) return { ok: false, problems: [`unknown rule '${ruleKey}'`] };
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    return { ok: false, problems: ['body must be a JSON object'] };
  const schema = RULE_PARAM_SCHEMAS[rule.kind];
  const problems: string[] = [];
  const params: Record<string, unknown> = {};
  let enabled: boolean | undefined;
  for (const [name, value] of Object.entries(body)) {
    if (name === 'enabled') {
      if (typeof value === 'boolean') enabled = value;
      else problems.push('enabled must be a boolean');
      continue;
    }
    const spec = Object.prototype.hasOwnProperty.call(schema, name) ? schema[name] : undefined;
    if (!spec) {
      problems.push(
        name === 'direction'
          ? `direction of ${rule.key} cannot be changed`
          : `${name} is not a parameter of ${rule.key} (allowed: enabled, ${Object.keys(schema).join(', ')})`,
      );
      continue;
    }
    const problem = checkField(rule, name, spec, value);
    if (problem) problems.push(problem);
    else params[name] = value;
  }
  if (problems.length > 0) return { ok: false, problems };
  return enabled === undefined ? { ok: true, params } : { ok: true, enabled, params };
}

/** Applies an override to one catalog rule, ignoring stored fields that no longer pass the schema. */
export function applyOverride(rule: RuleDefinition, override: RuleOverride | undefined): EffectiveRule {
  if (!override) return { ...rule, enabled: true, source: 'default' };
  const checked = validateRuleOverride(rule.key, override.params);
  const params = checked.ok ? { ...rule.params, ...checked.params } : rule.params;
  return { ...rule, params, enabled: override.enabled, source: 'patient' } as EffectiveRule;
}

/** The catalog's default rules merged with one patient's overrides, in catalog order. */
export function effectiveRules(overrides: readonly RuleOverride[] = []): EffectiveRule[] {
  const byKey = new Map(overrides.map((o) => [o.ruleKey, o]));
  return DEFAULT_RULES.map((rule) => applyOverride(rule, byKey.get(rule.key)));
}
