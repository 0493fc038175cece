import type { RuleOverride } from './rule-overrides.js';

/**
 * The glucose rules as spec/alerting.md §4 states them, written as overrides of the current catalog:
 * what the catalog held before issue 19 changed its defaults on the alert-quality harness's evidence
 * (docs/alerting.md, "Default glucose rules: changes and evidence"). The harness measures them as its
 * "before" row; tests of the engine's mechanics that were written against them apply them.
 */
export const SPEC_GLUCOSE_OVERRIDES: readonly RuleOverride[] = [
  { ruleKey: 'glucose.urgent_low', enabled: true, params: { rearmSec: 0 } },
  { ruleKey: 'glucose.low', enabled: true, params: { delaySec: 0, rearmSec: 0, coveredBy: [] } },
  { ruleKey: 'glucose.high', enabled: true, params: { rearmSec: 0 } },
  { ruleKey: 'glucose.falling_fast', enabled: true, params: { valueLimit: 600, rearmSec: 0, coveredBy: [] } },
  { ruleKey: 'glucose.urgent_low_soon', enabled: true, params: { priority: 'high', rearmSec: 0, hysteresis: 0 } },
];

/** `overrides` on top of {@link SPEC_GLUCOSE_OVERRIDES} (one override per rule; the later parameters win). */
export function withSpecGlucose(overrides: readonly RuleOverride[] = []): RuleOverride[] {
  const byKey = new Map<string, RuleOverride>();
  for (const o of [...SPEC_GLUCOSE_OVERRIDES, ...overrides]) {
    const had = byKey.get(o.ruleKey);
    byKey.set(o.ruleKey, { ruleKey: o.ruleKey, enabled: o.enabled, params: { ...(had?.params ?? {}), ...o.params } });
  }
  return [...byKey.values()];
}
