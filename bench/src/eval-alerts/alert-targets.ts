import type { AlertMetrics } from './alert-metrics.js';

/** One of issue 19's targets, judged on the current rules against the rules before. */
export interface TargetCheck {
  readonly target: string;
  readonly ok: boolean;
  readonly measured: string;
}

const pct = (x: number): string => `${(x * 100).toFixed(0)} %`;

/**
 * Issue 19's targets: level-2 sensitivity 100 % with a median warning at least 5 min before the
 * event; urgent-class alerts not followed by a level-2 event ≤ 25 %; all glucose alerts per
 * patient-day at least 40 % fewer than before; no worse on level 1 (sensitivity, median warning,
 * false low-class alerts).
 */
export function checkTargets(before: AlertMetrics, now: AlertMetrics): TargetCheck[] {
  const l2 = now.level2.events === 0 ? NaN : now.level2.detected / now.level2.events;
  const l2Observable =
    now.level2Observable.events === 0 ? NaN : now.level2Observable.detected / now.level2Observable.events;
  const l1 = (m: AlertMetrics): number => (m.level1.events === 0 ? NaN : m.level1.detected / m.level1.events);
  const fewer = 1 - now.glucoseAlertsPerPatientDay / before.glucoseAlertsPerPatientDay;
  return [
    { target: 'level-2 sensitivity 100 %', ok: l2 === 1, measured: pct(l2) },
    {
      target: 'level-2 sensitivity 100 %, events the sensor showed',
      ok: l2Observable === 1,
      measured: `${pct(l2Observable)} (${now.level2.events - now.level2Observable.events} not shown)`,
    },
    {
      target: 'level-2 median warning ≥ 5 min before the event',
      ok: now.level2.medianWarningMin <= -5,
      measured: `${(-now.level2.medianWarningMin).toFixed(0)} min before`,
    },
    {
      target: 'urgent-class alerts not followed by a level-2 event ≤ 25 %',
      ok: now.urgentNotFollowed <= 0.25,
      measured: pct(now.urgentNotFollowed),
    },
    {
      target: 'glucose alerts per patient-day ≥ 40 % fewer',
      ok: fewer >= 0.4,
      measured: `${before.glucoseAlertsPerPatientDay.toFixed(2)} → ${now.glucoseAlertsPerPatientDay.toFixed(2)} (${pct(fewer)} fewer)`,
    },
    {
      target: 'level 1 no worse: sensitivity',
      ok: l1(now) >= l1(before),
      measured: `${pct(l1(before))} → ${pct(l1(now))}`,
    },
    {
      target: 'level 1 no worse: median warning',
      ok: now.level1.medianWarningMin <= before.level1.medianWarningMin,
      measured: `${(-before.level1.medianWarningMin).toFixed(0)} → ${(-now.level1.medianWarningMin).toFixed(0)} min before`,
    },
    {
      target: 'level 1 no worse: false low-class alerts per patient-day',
      ok: now.falseLowPerPatientDay <= before.falseLowPerPatientDay,
      measured: `${before.falseLowPerPatientDay.toFixed(2)} → ${now.falseLowPerPatientDay.toFixed(2)}`,
    },
  ];
}
