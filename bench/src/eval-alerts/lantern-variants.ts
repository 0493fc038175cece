import type { RuleOverride } from '@lantern/alerting';

/**
 * Lantern's glucose rules as measured in docs/alert-quality.md, each expressed as patient overrides
 * of the current catalog (so every row is reproducible from the current code): `before` restores
 * the spec §4 parameters the catalog had before issue 19, and each step takes back one piece of that,
 * in order, until the last is the catalog as it is. Rejected variants are single changes on top of
 * the catalog, measured and not kept.
 */
export interface LanternVariant {
  readonly name: string;
  readonly overrides: readonly RuleOverride[];
}

const rule = (key: string, params: Record<string, unknown>): RuleOverride => ({
  ruleKey: `glucose.${key}`,
  enabled: true,
  params,
});

/** What each change took back, cumulatively: change n keeps the restorations of changes after n. */
const RESTORE = {
  prediction: [rule('urgent_low_soon', { priority: 'high' })],
  lowCovered: [rule('low', { coveredBy: [] })],
  fallingFast: [rule('falling_fast', { coveredBy: [], valueLimit: 600 })],
  rearm: ['urgent_low', 'low', 'high', 'falling_fast', 'urgent_low_soon'].map((k) => rule(k, { rearmSec: 0 })),
  predictionHeld: [rule('urgent_low_soon', { hysteresis: 0 })],
} as const;

/** Overrides of one rule merged into one (a patient has one override per rule). */
function merge(parts: readonly (readonly RuleOverride[])[]): RuleOverride[] {
  const byKey = new Map<string, RuleOverride>();
  for (const o of parts.flat()) {
    const had = byKey.get(o.ruleKey);
    byKey.set(o.ruleKey, { ...o, params: { ...(had?.params ?? {}), ...o.params } });
  }
  return [...byKey.values()];
}

const ORDER = ['prediction', 'lowCovered', 'fallingFast', 'rearm', 'predictionHeld'] as const;

const LABELS: Record<(typeof ORDER)[number], string> = {
  prediction: '1. urgent_low_soon medium (not latching)',
  lowCovered: '2. + low covered by the urgent rules',
  fallingFast: '3. + falling_fast ≤ 180 and covered',
  rearm: '4. + re-arm only when worse for 1 h',
  predictionHeld: '5. + prediction held until ≥ 65 (= now)',
};

/** `before`, then each change in order; the last has no overrides: the catalog as it is. */
export function changeSteps(): LanternVariant[] {
  const steps: LanternVariant[] = [
    { name: 'Lantern before (spec §4)', overrides: merge(ORDER.map((k) => RESTORE[k])) },
  ];
  ORDER.forEach((change, i) => {
    steps.push({ name: LABELS[change], overrides: merge(ORDER.slice(i + 1).map((k) => RESTORE[k])) });
  });
  return steps;
}

/** Single changes on top of the catalog that the harness measured and that were not kept (docs/alert-quality.md). */
export const REJECTED: readonly LanternVariant[] = [
  { name: '× prediction confirmed by 2 readings', overrides: [rule('urgent_low_soon', { confirmReadings: 2 })] },
  { name: '× prediction from the trend line', overrides: [rule('urgent_low_soon', { projectFrom: 'trend' })] },
  {
    name: '× prediction over 30 min of readings',
    overrides: [rule('urgent_low_soon', { windowSec: 1800, minSamples: 5 })],
  },
  { name: '× prediction 15 min ahead', overrides: [rule('urgent_low_soon', { horizonSec: 900 })] },
  { name: '× prediction only at ≤ 100', overrides: [rule('urgent_low_soon', { valueLimit: 100 })] },
  { name: '× prediction covered by low', overrides: [rule('urgent_low_soon', { coveredBy: ['glucose.low'] })] },
  { name: '× urgent_low confirmed over 15 min', overrides: [rule('urgent_low', { delaySec: 900 })] },
  { name: '× urgent_low below 50', overrides: [rule('urgent_low', { threshold: 50 })] },
  { name: '× falling_fast off', overrides: [{ ruleKey: 'glucose.falling_fast', enabled: false, params: {} }] },
  { name: '× low confirmed over 5 min', overrides: [rule('low', { delaySec: 300 })] },
  // Second round (docs/alert-quality.md, "Second round").
  {
    name: '× urgent_low on 2 readings or one < 45',
    overrides: [rule('urgent_low', { confirmReadings: 2, immediateBeyond: 45 })],
  },
  {
    name: '× urgent_low on 3 readings or one < 45',
    overrides: [rule('urgent_low', { confirmReadings: 3, immediateBeyond: 45 })],
  },
  { name: '× urgent_low not while recovering ≥ 1/min', overrides: [rule('urgent_low', { notWhileRecovering: 1 })] },
  { name: '× low not while recovering ≥ 0.5/min', overrides: [rule('low', { notWhileRecovering: 0.5 })] },
  { name: '× low on 2 readings', overrides: [rule('low', { confirmReadings: 2 })] },
  { name: '× low hysteresis 10', overrides: [rule('low', { hysteresis: 10 })] },
  { name: '× prediction robust (Theil–Sen)', overrides: [rule('urgent_low_soon', { slopeMethod: 'robust' })] },
  {
    name: '× prediction robust over 20 min',
    overrides: [rule('urgent_low_soon', { slopeMethod: 'robust', windowSec: 1200 })],
  },
  {
    name: '× prediction on 2 readings at ≤ 90',
    overrides: [rule('urgent_low_soon', { confirmReadings: 2, valueLimit: 90 })],
  },
  { name: '× prediction only falling ≥ 1/min', overrides: [rule('urgent_low_soon', { minRatePerMin: 1 })] },
  { name: '× prediction only falling ≥ 1.5/min', overrides: [rule('urgent_low_soon', { minRatePerMin: 1.5 })] },
  { name: '× prediction held until ≥ 70', overrides: [rule('urgent_low_soon', { hysteresis: 15 })] },
  {
    name: '× falling_fast robust over 20 min',
    overrides: [rule('falling_fast', { slopeMethod: 'robust', windowSec: 1200 })],
  },
  {
    name: '× best 40 %: prediction ≥ 1/min, low hyst. 15, falling_fast robust 20 min',
    overrides: [
      rule('urgent_low_soon', { minRatePerMin: 1 }),
      rule('low', { hysteresis: 15 }),
      rule('falling_fast', { slopeMethod: 'robust', windowSec: 1200 }),
    ],
  },
];
