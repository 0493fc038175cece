import type { AlertTarget, RaisedAlert } from './alert-algorithms.js';
import { findEvents, type GlycaemicEvent } from './glycaemic-events.js';
import type { PatientGroup, PatientTrace, TimeSpan } from './virtual-patient.js';

const MIN_MS = 60_000;
/** An alert raised this long before an event's start still warns of it. */
export const WARNING_WINDOW_MS = 60 * MIN_MS;
/** An alert "is followed by" an event that is under way within this long after it. */
export const FOLLOW_WINDOW_MS = 60 * MIN_MS;

/** One patient's ground truth and one algorithm's alerts on it. */
export interface PatientOutcome {
  readonly patientId: string;
  readonly group: PatientGroup;
  readonly days: number;
  /** `level2Observable`: the level-2 events the sensor showed (see {@link observable}). */
  readonly events: Readonly<Record<'level1' | 'level2' | 'high' | 'level2Observable', readonly GlycaemicEvent[]>>;
  readonly alerts: readonly RaisedAlert[];
  /** The truth behind the alerts, for {@link UrgentMisses}: true glucose per minute from `start`, and the compression lows. */
  readonly start: number;
  readonly trueGlucose: ArrayLike<number>;
  readonly compressions: readonly TimeSpan[];
}

/** A reading this long after an event's end may still show it (the sensor's lag). */
export const OBSERVABLE_LAG_MS = 15 * MIN_MS;
/** A hypoglycaemic event is observable when a reading during it (or its lag) is below this. */
export const OBSERVABLE_BELOW_MGDL = 70;

/**
 * Whether the sensor showed a hypoglycaemic event at all: some reading from its start to 15 min
 * after its end below 70. One that the readings never show is beyond any rule on the readings
 * (a sensor reading high through it); it is reported apart.
 */
export function observable(trace: PatientTrace, event: GlycaemicEvent): boolean {
  for (let i = 0; i < trace.readingTimes.length; i++) {
    const t = trace.readingTimes[i];
    if (t < event.start) continue;
    if (t > event.end + OBSERVABLE_LAG_MS) break;
    if (trace.readingValues[i] < OBSERVABLE_BELOW_MGDL) return true;
  }
  return false;
}

export function outcomeOf(trace: PatientTrace, alerts: readonly RaisedAlert[]): PatientOutcome {
  const level2 = findEvents('level2', trace.trueGlucose, trace.start);
  return {
    patientId: trace.id,
    group: trace.group,
    days: trace.days,
    events: {
      level1: findEvents('level1', trace.trueGlucose, trace.start),
      level2,
      high: findEvents('high', trace.trueGlucose, trace.start),
      level2Observable: level2.filter((e) => observable(trace, e)),
    },
    alerts,
    start: trace.start,
    trueGlucose: trace.trueGlucose,
    compressions: trace.compressions,
  };
}

/** Detection of one kind of event by alerts of some class. */
export interface Detection {
  readonly events: number;
  /** Events with an alert of the class raised from 60 min before their start until their end. */
  readonly detected: number;
  /** Events without such an alert but with one of the class raised earlier and still active at their start. */
  readonly alreadyActive: number;
  /** Median of (first such alert − event start) in minutes over detected events; negative: early. NaN: none. */
  readonly medianWarningMin: number;
}

/** Alerts of one rule (or one algorithm's class): how many, and how many were followed by what they warn of. */
export interface RuleRow {
  readonly rule: string;
  readonly target: AlertTarget;
  readonly priority: string;
  readonly alerts: number;
  readonly perPatientDay: number;
  /** Share followed by (or raised during) an event of their target within 60 min. */
  readonly followed: number;
}

/** The metrics of docs/alert-quality.md for one algorithm over a set of patients. */
export interface AlertMetrics {
  readonly patients: number;
  readonly patientDays: number;
  readonly level2: Detection;
  /** Level 2 over the events the sensor showed (some reading below 70 during them). */
  readonly level2Observable: Detection;
  readonly level1: Detection;
  readonly high: Detection;
  /** Alerts of the low class (every alert warning of level 1 or 2) not followed by a level-1 event, per patient-day. */
  readonly falseLowPerPatientDay: number;
  /** Urgent class: high-priority alerts of the low class. */
  readonly urgentPerPatientDay: number;
  /** Share of urgent-class alerts not followed by a level-2 event (NaN when none). */
  readonly urgentNotFollowed: number;
  /** Share of alerts of the level-2 rules, whatever their priority, not followed by a level-2 event. */
  readonly level2RulesNotFollowed: number;
  readonly glucoseAlertsPerPatientDay: number;
  readonly rules: readonly RuleRow[];
  readonly urgentMisses: UrgentMisses;
}

/**
 * Urgent-class alerts not followed by a level-2 event, by the lowest true glucose from the alert to
 * 60 min after it: real hypoglycaemia that did not last 15 min below 54 or did not reach it, or
 * none at all (the sensor read low: a compression low, or another sensor error).
 */
export interface UrgentMisses {
  readonly urgent: number;
  readonly notFollowed: number;
  readonly trueBelow54Briefly: number;
  readonly true54To59: number;
  readonly true60To69: number;
  readonly noHypoCompression: number;
  readonly noHypoOtherSensorError: number;
}

/** Which bucket of {@link UrgentMisses} an urgent-class alert not followed by a level-2 event falls in. */
function urgentMissKind(o: PatientOutcome, a: RaisedAlert): Exclude<keyof UrgentMisses, 'urgent' | 'notFollowed'> {
  const from = Math.max(0, Math.round((a.raisedAt - o.start) / MIN_MS));
  const to = Math.min(o.trueGlucose.length, from + FOLLOW_WINDOW_MS / MIN_MS + 1);
  let lowest = Infinity;
  for (let i = from; i < to; i++) lowest = Math.min(lowest, o.trueGlucose[i]);
  if (lowest < 54) return 'trueBelow54Briefly';
  if (lowest < 60) return 'true54To59';
  if (lowest < 70) return 'true60To69';
  return o.compressions.some((c) => a.raisedAt >= c.start && a.raisedAt <= c.end)
    ? 'noHypoCompression'
    : 'noHypoOtherSensorError';
}

function overlaps(events: readonly GlycaemicEvent[], from: number, to: number): boolean {
  return events.some((e) => e.start <= to && e.end >= from);
}

function median(values: number[]): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/**
 * How alerts of a class met events: `windowMs` before the start counts as warning (0 for highs:
 * an alert of a high is never early, it says how late).
 */
function detect(
  outcomes: readonly PatientOutcome[],
  kind: 'level1' | 'level2' | 'high' | 'level2Observable',
  inClass: (a: RaisedAlert) => boolean,
  windowMs: number,
): Detection {
  let events = 0;
  let detected = 0;
  let alreadyActive = 0;
  const warnings: number[] = [];
  for (const o of outcomes) {
    const alerts = o.alerts.filter(inClass);
    for (const e of o.events[kind]) {
      events++;
      const first = alerts.find((a) => a.raisedAt >= e.start - windowMs && a.raisedAt <= e.end);
      if (first !== undefined) {
        detected++;
        warnings.push((first.raisedAt - e.start) / MIN_MS);
      } else if (alerts.some((a) => a.raisedAt < e.start - windowMs && a.endedAt >= e.start)) alreadyActive++;
    }
  }
  return { events, detected, alreadyActive, medianWarningMin: median(warnings) };
}

const isLow = (a: RaisedAlert): boolean => a.target === 'level1' || a.target === 'level2';

/** Computes the metrics over the outcomes given (one group, or all). */
export function computeMetrics(outcomes: readonly PatientOutcome[]): AlertMetrics {
  const patientDays = outcomes.reduce((sum, o) => sum + o.days, 0);
  let falseLow = 0;
  let urgent = 0;
  let urgentNot = 0;
  let l2Rules = 0;
  let l2RulesNot = 0;
  let all = 0;
  const misses = {
    urgent: 0,
    notFollowed: 0,
    trueBelow54Briefly: 0,
    true54To59: 0,
    true60To69: 0,
    noHypoCompression: 0,
    noHypoOtherSensorError: 0,
  };
  const rules = new Map<string, { target: AlertTarget; priority: Set<string>; alerts: number; followed: number }>();
  for (const o of outcomes) {
    for (const a of o.alerts) {
      all++;
      const to = a.raisedAt + FOLLOW_WINDOW_MS;
      const followedBy = overlaps(o.events[a.target], a.raisedAt, to);
      const row = rules.get(a.rule) ?? { target: a.target, priority: new Set<string>(), alerts: 0, followed: 0 };
      row.priority.add(a.priority);
      row.alerts++;
      if (followedBy) row.followed++;
      rules.set(a.rule, row);
      if (!isLow(a)) continue;
      if (!overlaps(o.events.level1, a.raisedAt, to)) falseLow++;
      const level2 = overlaps(o.events.level2, a.raisedAt, to);
      if (a.priority === 'high') {
        urgent++;
        if (!level2) {
          urgentNot++;
          misses[urgentMissKind(o, a)]++;
        }
      }
      if (a.target === 'level2') {
        l2Rules++;
        if (!level2) l2RulesNot++;
      }
    }
  }
  const perDay = (n: number): number => (patientDays === 0 ? 0 : n / patientDays);
  return {
    patients: outcomes.length,
    patientDays,
    level2: detect(outcomes, 'level2', (a) => a.target === 'level2', WARNING_WINDOW_MS),
    level2Observable: detect(outcomes, 'level2Observable', (a) => a.target === 'level2', WARNING_WINDOW_MS),
    level1: detect(outcomes, 'level1', isLow, WARNING_WINDOW_MS),
    high: detect(outcomes, 'high', (a) => a.target === 'high', 0),
    falseLowPerPatientDay: perDay(falseLow),
    urgentPerPatientDay: perDay(urgent),
    urgentNotFollowed: urgent === 0 ? NaN : urgentNot / urgent,
    level2RulesNotFollowed: l2Rules === 0 ? NaN : l2RulesNot / l2Rules,
    glucoseAlertsPerPatientDay: perDay(all),
    rules: [...rules.entries()].map(([rule, r]) => ({
      rule,
      target: r.target,
      priority: [...r.priority].join('/'),
      alerts: r.alerts,
      perPatientDay: perDay(r.alerts),
      followed: r.alerts === 0 ? NaN : r.followed / r.alerts,
    })),
    urgentMisses: { ...misses, urgent, notFollowed: urgentNot },
  };
}
