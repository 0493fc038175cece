import { describe, expect, it } from '@jest/globals';
import { DEFAULT_RULES, RULE_KEYS, findRule } from './rule-catalog.js';
import { effectiveRules, validateRuleOverride } from './rule-overrides.js';

describe('rule catalog', () => {
  it('holds the eighteen default rules of spec §4 in order', () => {
    expect(RULE_KEYS).toEqual([
      'glucose.urgent_low',
      'glucose.low',
      'glucose.high',
      'glucose.falling_fast',
      'glucose.urgent_low_soon',
      'heart_rate.low',
      'heart_rate.high',
      'spo2.low',
      'spo2.critical',
      'systolic_bp.high',
      'systolic_bp.low',
      'respiratory_rate.high',
      'respiratory_rate.low',
      'body_temperature.fever',
      'body_weight.gain_3d',
      'device.signal_loss',
      'device.battery_low',
      'device.battery_critical',
    ]);
  });

  it('carries the parameters of the spec, the glucose rules as changed on the harness evidence (docs/alerting.md)', () => {
    expect(findRule('glucose.high')).toMatchObject({
      kind: 'threshold',
      metric: 'glucose',
      params: { direction: 'above', threshold: 250, delaySec: 1800, hysteresis: 10, priority: 'low', rearmSec: 3600 },
    });
    expect(findRule('glucose.low')?.params).toEqual({
      direction: 'below',
      threshold: 70,
      delaySec: 0,
      hysteresis: 5,
      priority: 'medium',
      rearmSec: 3600,
      coveredBy: ['glucose.urgent_low_soon', 'glucose.urgent_low'],
    });
    expect(findRule('glucose.falling_fast')?.params).toEqual({
      direction: 'falling',
      ratePerMin: 3,
      windowSec: 900,
      minSamples: 3,
      priority: 'medium',
      valueLimit: 180,
      rearmSec: 3600,
      coveredBy: ['glucose.urgent_low_soon', 'glucose.low', 'glucose.urgent_low'],
    });
    expect(findRule('glucose.urgent_low_soon')).toMatchObject({
      kind: 'predictive',
      takenOverBy: 'glucose.urgent_low',
      params: {
        direction: 'below',
        threshold: 55,
        horizonSec: 1200,
        windowSec: 900,
        minSamples: 3,
        priority: 'medium',
        rearmSec: 3600,
        hysteresis: 10,
      },
    });
    expect(findRule('body_weight.gain_3d')?.params).toEqual({
      direction: 'rising',
      delta: 2,
      windowSec: 259200,
      priority: 'medium',
    });
    expect(findRule('spo2.critical')?.params).toEqual({
      direction: 'below',
      threshold: 85,
      delaySec: 15,
      hysteresis: 2,
      priority: 'high',
    });
    expect(findRule('device.signal_loss')).toMatchObject({
      scope: 'device',
      params: { afterSec: null, priority: 'low' },
    });
    expect(findRule('device.battery_critical')?.params).toEqual({ threshold: 5, priority: 'medium' });
    expect(findRule('nope')).toBeUndefined();
    expect(new Set(DEFAULT_RULES.map((r) => r.key)).size).toBe(DEFAULT_RULES.length);
  });
});

describe('validateRuleOverride', () => {
  it('accepts a partial override of the rule kind’s parameters', () => {
    expect(validateRuleOverride('glucose.low', { threshold: 65, delaySec: 300, enabled: true })).toEqual({
      ok: true,
      enabled: true,
      params: { threshold: 65, delaySec: 300 },
    });
    expect(validateRuleOverride('device.signal_loss', { afterSec: null })).toEqual({
      ok: true,
      params: { afterSec: null },
    });
    expect(validateRuleOverride('device.battery_low', { enabled: false })).toEqual({
      ok: true,
      enabled: false,
      params: {},
    });
  });

  it('accepts the second-round options of issue 19 and checks their bounds', () => {
    expect(
      validateRuleOverride('glucose.urgent_low', { confirmReadings: 2, immediateBeyond: 45, notWhileRecovering: 1 }),
    ).toEqual({ ok: true, params: { confirmReadings: 2, immediateBeyond: 45, notWhileRecovering: 1 } });
    expect(
      validateRuleOverride('glucose.urgent_low_soon', { slopeMethod: 'robust', minRatePerMin: 1, hysteresis: 10 }),
    ).toEqual({ ok: true, params: { slopeMethod: 'robust', minRatePerMin: 1, hysteresis: 10 } });
    expect(validateRuleOverride('glucose.falling_fast', { slopeMethod: 'robust' })).toEqual({
      ok: true,
      params: { slopeMethod: 'robust' },
    });
    expect(validateRuleOverride('glucose.urgent_low', { confirmReadings: 0, notWhileRecovering: 0 })).toMatchObject({
      ok: false,
      problems: [expect.stringContaining('confirmReadings'), expect.stringContaining('notWhileRecovering')],
    });
    expect(validateRuleOverride('glucose.urgent_low_soon', { slopeMethod: 'median' })).toMatchObject({
      ok: false,
      problems: ['slopeMethod must be one of least_squares, robust'],
    });
    expect(validateRuleOverride('glucose.high', { slopeMethod: 'robust' })).toMatchObject({ ok: false });
  });

  it('lists every problem', () => {
    const result = validateRuleOverride('glucose.low', {
      threshold: 900,
      delaySec: 1.5,
      hysteresis: -1,
      priority: 'urgent',
      enabled: 'yes',
      direction: 'above',
      foo: 1,
    });
    expect(result.ok).toBe(false);
    expect(!result.ok && result.problems).toEqual([
      'threshold must be a number between 20 and 600 (mg/dL)',
      'delaySec must be an integer at least 0 and at most 86400',
      'hysteresis must be a number at least 0 and at most 1000',
      'priority must be one of high, medium, low',
      'enabled must be a boolean',
      'direction of glucose.low cannot be changed',
      'foo is not a parameter of glucose.low (allowed: enabled, threshold, delaySec, hysteresis, priority, rearmSec, coveredBy, confirmReadings, immediateBeyond, notWhileRecovering)',
    ]);
  });

  it('checks rate, trend and battery bounds and refuses unknown rules and non-objects', () => {
    expect(validateRuleOverride('glucose.falling_fast', { ratePerMin: 0 })).toEqual({
      ok: false,
      problems: ['ratePerMin must be a number greater than 0 and at most 1000'],
    });
    expect(validateRuleOverride('glucose.falling_fast', { minSamples: 1 })).toEqual({
      ok: false,
      problems: ['minSamples must be an integer at least 2 and at most 8192'],
    });
    // More samples than a window holds could never be met.
    expect(validateRuleOverride('glucose.falling_fast', { minSamples: 8193 }).ok).toBe(false);
    expect(validateRuleOverride('body_weight.gain_3d', { delta: 1.5 }).ok).toBe(true);
    expect(validateRuleOverride('device.battery_low', { threshold: 101 }).ok).toBe(false);
    expect(validateRuleOverride('device.signal_loss', { afterSec: 30 }).ok).toBe(false);
    expect(validateRuleOverride('glucose.nope', {})).toEqual({ ok: false, problems: ["unknown rule 'glucose.nope'"] });
    expect(validateRuleOverride('glucose.low', [1])).toEqual({ ok: false, problems: ['body must be a JSON object'] });
    expect(validateRuleOverride('glucose.low', null).ok).toBe(false);
  });
});

describe('effectiveRules', () => {
  it('is the catalog, all enabled, from defaults, without overrides', () => {
    const rules = effectiveRules();
    expect(rules).toHaveLength(DEFAULT_RULES.length);
    expect(rules.every((r) => r.enabled && r.source === 'default')).toBe(true);
  });

  it('merges a patient override over the defaults and marks it', () => {
    const rules = effectiveRules([
      { ruleKey: 'glucose.low', enabled: true, params: { threshold: 65 } },
      { ruleKey: 'glucose.high', enabled: false, params: {} },
      { ruleKey: 'retired.rule', enabled: false, params: {} },
    ]);
    const low = rules.find((r) => r.key === 'glucose.low')!;
    expect(low).toMatchObject({
      source: 'patient',
      enabled: true,
      params: { direction: 'below', threshold: 65, delaySec: 0, hysteresis: 5, priority: 'medium' },
    });
    expect(rules.find((r) => r.key === 'glucose.high')).toMatchObject({
      source: 'patient',
      enabled: false,
      params: { threshold: 250 },
    });
    expect(rules.find((r) => r.key === 'glucose.urgent_low')).toMatchObject({ source: 'default', enabled: true });
    expect(rules).toHaveLength(DEFAULT_RULES.length);
  });

  it('ignores stored parameters that no longer pass the schema', () => {
    const [first] = effectiveRules([{ ruleKey: 'glucose.urgent_low', enabled: true, params: { threshold: 'x' } }]);
    expect(first.params).toMatchObject({ threshold: 54 });
  });
});
