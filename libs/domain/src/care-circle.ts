import type { MetricKey } from './metric-catalog.js';

/**
 * What a patient can share with a caregiver (contract §4.2): signal groups, each a set of metrics,
 * and three kinds of things that are not readings.
 */
export const SHARING_SCOPES = [
  'glucose',
  'cardiac',
  'respiratory',
  'weight',
  'blood_pressure',
  'temperature',
  'devices',
  'alerts',
  'notifications',
] as const;
export type SharingScope = (typeof SHARING_SCOPES)[number];

export function isSharingScope(value: unknown): value is SharingScope {
  return typeof value === 'string' && (SHARING_SCOPES as readonly string[]).includes(value);
}

/** The scopes that are signal groups, with their metrics. A metric in no group (steps) is never shared. */
export const SIGNAL_GROUPS = {
  glucose: ['glucose'],
  // PA pressure is measured by an implanted sensor of heart-failure monitoring: a cardiac signal.
  cardiac: ['heart_rate', 'pa_pressure_mean'],
  respiratory: ['spo2', 'respiratory_rate'],
  weight: ['body_weight'],
  blood_pressure: ['systolic_bp', 'diastolic_bp'],
  temperature: ['body_temperature'],
} as const satisfies Partial<Record<SharingScope, readonly MetricKey[]>>;
export type SignalGroup = keyof typeof SIGNAL_GROUPS;

const GROUP_OF = new Map<string, SignalGroup>(
  (Object.entries(SIGNAL_GROUPS) as [SignalGroup, readonly MetricKey[]][]).flatMap(([group, metrics]) =>
    metrics.map((metric) => [metric, group] as const),
  ),
);

/** The signal group a metric belongs to, or undefined for a metric that is never shared. */
export function signalGroupOf(metric: string): SignalGroup | undefined {
  return GROUP_OF.get(metric);
}

/** The metrics a caregiver with these scopes may see. */
export function sharedMetrics(scopes: Iterable<SharingScope>): MetricKey[] {
  const metrics: MetricKey[] = [];
  for (const scope of new Set(scopes)) if (scope in SIGNAL_GROUPS) metrics.push(...SIGNAL_GROUPS[scope as SignalGroup]);
  return metrics;
}

/** Whether these scopes show a reading of `metric`. */
export function sharesMetric(scopes: ReadonlySet<SharingScope>, metric: string): boolean {
  const group = signalGroupOf(metric);
  return group !== undefined && scopes.has(group);
}

/**
 * Whether these scopes show an alert: `alerts` is needed, and an alert about a metric also needs
 * that metric's group — its message and values are readings of that signal. An alert about no
 * metric (a device's battery or silence) needs `alerts` only.
 */
export function sharesAlert(scopes: ReadonlySet<SharingScope>, alert: { readonly metric?: string | null }): boolean {
  if (!scopes.has('alerts')) return false;
  return alert.metric === undefined || alert.metric === null || sharesMetric(scopes, alert.metric);
}

/**
 * Every (scope, metric) pair of the signal groups, as two parallel arrays: SQL joins them
 * (`unnest($1::text[], $2::text[])`) to filter by a share's scopes without a copy of the mapping.
 */
export function signalGroupPairs(): { scopes: string[]; metrics: string[] } {
  const pairs = (Object.entries(SIGNAL_GROUPS) as [SignalGroup, readonly MetricKey[]][]).flatMap(([group, metrics]) =>
    metrics.map((metric) => [group, metric] as const),
  );
  return { scopes: pairs.map(([s]) => s), metrics: pairs.map(([, m]) => m) };
}
