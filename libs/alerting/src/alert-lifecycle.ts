import type { AlertPriority, AlertRecord, AlertResource, MetricKey } from '@lantern/domain';

export type { AlertRecord };

export type AlertTransitionKind = 'opened' | 'updated' | 'escalated' | 'acknowledged' | 'cleared' | 'resolved';

/** One change of one alert, with the alert as it is after the change: persist, then emit once. */
export interface AlertTransition {
  readonly kind: AlertTransitionKind;
  readonly alert: AlertRecord;
}

/** Acknowledging or resolving an alert whose state does not allow it (→ HTTP 409). */
export class AlertTransitionError extends Error {
  readonly code = 'illegal_transition';
  constructor(message: string) {
    super(message);
    this.name = 'AlertTransitionError';
  }
}

/** Which way a value gets worse for a rule: decides the peak. */
export type Worse = 'lower' | 'higher' | null;

/** How long an alert may stay open (unacknowledged) before each escalation step; low never escalates. */
export const ESCALATION_INTERVAL_MS: Record<AlertPriority, number | null> = {
  high: 5 * 60_000,
  medium: 15 * 60_000,
  low: null,
};

/**
 * The cause of an alert, from which its id is derived (AlertEngineOptions.newId): patient, rule,
 * device for device rules, and the event time of the input that opened it. Evaluating the same
 * input again — a message redelivered after a crash — yields the same id, so storage recognises
 * the alert instead of opening a second one.
 */
export function alertCause(patientId: string, rule: string, deviceId: string | null, time: number): string {
  return `alert|${patientId}|${rule}|${deviceId ?? ''}|${time}`;
}

/** The cause of a patient notification about an alert: the alert and what happened to it (stored once). */
export function notificationCause(alertId: string, what: 'opened' | 'acknowledged' | 'signal_restored'): string {
  return `notification|${alertId}|${what}`;
}

/** An alert's active states: at most one per (patient, rule[, device]). */
export function isActive(alert: Pick<AlertRecord, 'state'>): boolean {
  return alert.state !== 'resolved';
}

export interface OpenAlertInput {
  id: string;
  patientId: string;
  deviceId: string | null;
  rule: string;
  metric: MetricKey | null;
  priority: AlertPriority;
  message: string;
  value: number | null;
  /** Event time of the triggering input. */
  time: number;
  /** Wall-clock time of the evaluation. */
  now: number;
  /** Event time of the triggering reading or status (default `time`); null when no input triggered it (signal loss). */
  measuredAt?: number | null;
  /** Wall time the triggering reading was received from the broker; null (the default) when unknown. */
  receivedAt?: number | null;
  late: boolean;
}

/**
 * An alert record whose fields a lifecycle step is still setting, before it is handed out; or the
 * engine's own copy of an active alert, which it updates in place (see {@link retrigger}).
 */
export type AlertDraft = { -readonly [K in keyof AlertRecord]: AlertRecord[K] };

/**
 * A copy of an alert, every field written out in {@link openAlert}'s order. Not a spread: V8 copies
 * `{ ...alert }` of records of mixed shapes (opened here, read from storage, widened by later
 * writes) on its slow path, property by property — a sixth of the streaming core's instructions in
 * the bench (docs/benchmarks.md, "Streaming core"); this literal keeps one shape. Runs on every
 * alert change of the hot path (a worse value, a clear).
 */
export function copyAlert(alert: AlertRecord): AlertDraft {
  return {
    id: alert.id,
    patientId: alert.patientId,
    deviceId: alert.deviceId,
    rule: alert.rule,
    metric: alert.metric,
    priority: alert.priority,
    state: alert.state,
    message: alert.message,
    value: alert.value,
    peakValue: alert.peakValue,
    openedAt: alert.openedAt,
    lastTriggeredAt: alert.lastTriggeredAt,
    clearedAt: alert.clearedAt,
    acknowledgedAt: alert.acknowledgedAt,
    acknowledgedBy: alert.acknowledgedBy,
    acknowledgeNote: alert.acknowledgeNote,
    resolvedAt: alert.resolvedAt,
    resolvedBy: alert.resolvedBy,
    resolveNote: alert.resolveNote,
    escalationLevel: alert.escalationLevel,
    escalatedAt: alert.escalatedAt,
    raisedAt: alert.raisedAt,
    measuredAt: alert.measuredAt,
    receivedAt: alert.receivedAt,
    evaluatedAt: alert.evaluatedAt,
    late: alert.late,
  };
}

/** A new open alert. */
export function openAlert(input: OpenAlertInput): AlertRecord {
  return {
    id: input.id,
    patientId: input.patientId,
    deviceId: input.deviceId,
    rule: input.rule,
    metric: input.metric,
    priority: input.priority,
    state: 'open',
    message: input.message,
    value: input.value,
    peakValue: input.value,
    openedAt: input.time,
    lastTriggeredAt: input.time,
    clearedAt: null,
    acknowledgedAt: null,
    acknowledgedBy: null,
    acknowledgeNote: null,
    resolvedAt: null,
    resolvedBy: null,
    resolveNote: null,
    escalationLevel: 0,
    escalatedAt: null,
    raisedAt: input.now,
    measuredAt: input.measuredAt === undefined ? input.time : input.measuredAt,
    receivedAt: input.receivedAt ?? null,
    evaluatedAt: input.now,
    late: input.late,
  };
}

function isWorse(value: number, peak: number | null, worse: Worse): boolean {
  if (worse === null) return false;
  if (peak === null) return true;
  return worse === 'lower' ? value < peak : value > peak;
}

/**
 * The rule fired again while the alert is active: `lastTriggeredAt` moves on, the peak follows a
 * worse value, a latched (cleared) alert is no longer cleared. No new alert, no new notification;
 * an `updated` transition only when the peak or the cleared mark changed, so a condition that
 * holds for hours does not emit on every reading.
 */
export function retriggerAlert(
  alert: AlertRecord,
  value: number | null,
  time: number,
  worse: Worse,
): { alert: AlertRecord; transition?: AlertTransition } {
  if (!isActive(alert)) throw new AlertTransitionError(`alert ${alert.id} is resolved and cannot fire again`);
  const next = copyAlert(alert);
  return retrigger(next, value, time, worse)
    ? { alert: next, transition: { kind: 'updated', alert: next } }
    : { alert: next };
}

/**
 * {@link retriggerAlert}'s change made in place on an active alert's draft; true when it is a
 * transition (the peak or the cleared mark changed). The engine applies it to its own copy on every
 * reading while a condition holds, and hands out a snapshot only for a transition.
 */
export function retrigger(alert: AlertDraft, value: number | null, time: number, worse: Worse): boolean {
  const newPeak = value !== null && isWorse(value, alert.peakValue, worse);
  const unclear = alert.clearedAt !== null;
  if (time > alert.lastTriggeredAt) alert.lastTriggeredAt = time;
  if (newPeak) alert.peakValue = value;
  if (unclear) alert.clearedAt = null;
  return newPeak || unclear;
}

/**
 * The condition cleared on the input of event time `time`, seen at wall time `now`. Low and medium
 * alerts resolve by themselves (`resolvedAt` = `now`: resolution is a wall-clock fact, like
 * acknowledgement, so a back-filled clear never "resolves" before the alert was acknowledged). A
 * high alert latches: it records `clearedAt` and stays until a clinician acknowledges it — unless
 * it was already acknowledged, in which case it resolves now.
 */
export function clearAlert(
  alert: AlertRecord,
  time: number,
  now: number = time,
): { alert: AlertRecord; transitions: AlertTransition[] } {
  if (!isActive(alert) || alert.clearedAt !== null) return { alert, transitions: [] };
  const next = copyAlert(alert);
  next.clearedAt = time;
  if (alert.priority === 'high' && alert.state === 'open')
    return { alert: next, transitions: [{ kind: 'cleared', alert: next }] };
  next.state = 'resolved';
  next.resolvedAt = now;
  next.resolvedBy = null;
  return { alert: next, transitions: [{ kind: 'resolved', alert: next }] };
}

/**
 * A clinician acknowledges an open alert. If its condition has already cleared (a latched high
 * alert) it resolves at once; otherwise it stays acknowledged and resolves when the condition clears.
 */
export function acknowledgeAlert(
  alert: AlertRecord,
  by: string,
  now: number,
  note: string | null = null,
): { alert: AlertRecord; transitions: AlertTransition[] } {
  if (alert.state !== 'open')
    throw new AlertTransitionError(`alert ${alert.id} is ${alert.state} and cannot be acknowledged`);
  const acknowledged: AlertRecord = {
    ...alert,
    state: 'acknowledged',
    acknowledgedAt: now,
    acknowledgedBy: by,
    acknowledgeNote: note,
  };
  if (alert.clearedAt === null)
    return { alert: acknowledged, transitions: [{ kind: 'acknowledged', alert: acknowledged }] };
  const resolved: AlertRecord = { ...acknowledged, state: 'resolved', resolvedAt: now, resolvedBy: by };
  return {
    alert: resolved,
    transitions: [
      { kind: 'acknowledged', alert: acknowledged },
      { kind: 'resolved', alert: resolved },
    ],
  };
}

/** A clinician resolves an active alert by hand (`by` null: the system, e.g. its rule was disabled). */
export function resolveAlert(
  alert: AlertRecord,
  by: string | null,
  now: number,
  note: string | null = null,
): { alert: AlertRecord; transitions: AlertTransition[] } {
  if (!isActive(alert)) throw new AlertTransitionError(`alert ${alert.id} is already resolved`);
  const resolved: AlertRecord = { ...alert, state: 'resolved', resolvedAt: now, resolvedBy: by, resolveNote: note };
  return { alert: resolved, transitions: [{ kind: 'resolved', alert: resolved }] };
}

/** When the next escalation step of this alert is due (wall clock), or null when it never escalates. */
export function escalationDueAt(alert: AlertRecord): number | null {
  const interval = ESCALATION_INTERVAL_MS[alert.priority];
  if (interval === null || alert.state !== 'open') return null;
  return (alert.escalatedAt ?? alert.raisedAt) + interval;
}

/**
 * Escalation, from the periodic sweep: an alert still open (not acknowledged) one interval after it
 * was raised, or after its previous step, goes up one level and is re-emitted.
 */
export function escalateAlert(alert: AlertRecord, now: number): { alert: AlertRecord; transition?: AlertTransition } {
  const due = escalationDueAt(alert);
  if (due === null || now < due) return { alert };
  const escalated: AlertRecord = { ...alert, escalationLevel: alert.escalationLevel + 1, escalatedAt: now };
  return { alert: escalated, transition: { kind: 'escalated', alert: escalated } };
}

/**
 * Re-applies what the streaming core observed about an alert to the row as it is stored, when the
 * row changed without the core meanwhile — a clinician acknowledged or resolved it, or the core
 * evaluated an input again (a redelivery after a crash) and met a row already stored — or when an
 * opened alert met another active one of its (patient, rule) and adopts it. This is the one merge
 * rule of the lifecycle, made of the same steps as live evaluation: a resolved row stays resolved;
 * a worse value or a firing after the stored clear is a retrigger; a clear the core saw is
 * {@link clearAlert} on the stored row (so an acknowledged row resolves, an open high one latches);
 * a resolution by the system, an acknowledgement and an escalation are applied when the stored row
 * still allows them. Returns the alert to keep and the transitions still to store (none when the
 * stored row already says it all). `now` (wall clock) dates a resolution the observation does not.
 */
export function rebaseObserved(
  stored: AlertRecord,
  observed: AlertRecord,
  worse: Worse,
  now: number,
): { alert: AlertRecord; transitions: AlertTransition[] } {
  if (!isActive(stored)) return { alert: stored, transitions: [] };
  const transitions: AlertTransition[] = [];
  let alert = stored;
  // Fired since the stored row: the peak follows a worse value; a firing after the stored clear un-clears it.
  const unclears =
    alert.clearedAt !== null && observed.clearedAt === null && observed.lastTriggeredAt >= alert.clearedAt;
  const worsePeak = observed.peakValue !== null && isWorse(observed.peakValue, alert.peakValue, worse);
  if (unclears || worsePeak) {
    const step = retriggerAlert(alert, worsePeak ? observed.peakValue : null, observed.lastTriggeredAt, worse);
    // retriggerAlert always un-clears: a new peak alone keeps the stored clear.
    alert = unclears ? step.alert : { ...step.alert, clearedAt: alert.clearedAt };
    transitions.push({ kind: 'updated', alert });
  } else if (observed.lastTriggeredAt > alert.lastTriggeredAt) {
    // As on the hot path: no event of its own, stored with the alert's next transition.
    alert = { ...alert, lastTriggeredAt: observed.lastTriggeredAt };
  }
  if (observed.escalationLevel > alert.escalationLevel && alert.state === 'open') {
    alert = { ...alert, escalationLevel: observed.escalationLevel, escalatedAt: observed.escalatedAt };
    transitions.push({ kind: 'escalated', alert });
  }
  if (observed.acknowledgedAt !== null && alert.state === 'open') {
    const step = acknowledgeAlert(
      alert,
      observed.acknowledgedBy ?? '',
      observed.acknowledgedAt,
      observed.acknowledgeNote,
    );
    alert = step.alert;
    transitions.push(...step.transitions);
  }
  if (
    isActive(alert) &&
    observed.clearedAt !== null &&
    alert.clearedAt === null &&
    observed.clearedAt >= stored.lastTriggeredAt
  ) {
    // Resolved when the core saw the clear, if it resolved it then; else now, on the stored row.
    const step = clearAlert(alert, observed.clearedAt, observed.resolvedAt ?? now);
    alert = step.alert;
    transitions.push(...step.transitions);
  }
  // Resolved by the system (rule disabled, device decommissioned or reassigned) or by hand, not by a clear.
  const resolvedOtherwise =
    observed.state === 'resolved' && (observed.resolvedBy !== null || observed.resolveNote !== null);
  if (resolvedOtherwise && isActive(alert)) {
    const step = resolveAlert(alert, observed.resolvedBy, observed.resolvedAt ?? now, observed.resolveNote);
    alert = step.alert;
    transitions.push(...step.transitions);
  }
  return { alert, transitions };
}

const iso = (ms: number | null): string | undefined => (ms === null ? undefined : new Date(ms).toISOString());

/** The §3.4 resource of an alert (ISO-8601 times; absent fields omitted). */
export function toAlertResource(alert: AlertRecord): AlertResource {
  const resource: AlertResource = {
    id: alert.id,
    patientId: alert.patientId,
    rule: alert.rule,
    priority: alert.priority,
    state: alert.state,
    message: alert.message,
    openedAt: new Date(alert.openedAt).toISOString(),
    lastTriggeredAt: new Date(alert.lastTriggeredAt).toISOString(),
    escalationLevel: alert.escalationLevel,
    late: alert.late,
  };
  if (alert.deviceId !== null) resource.deviceId = alert.deviceId;
  if (alert.metric !== null) resource.metric = alert.metric;
  if (alert.value !== null) resource.value = alert.value;
  if (alert.peakValue !== null) resource.peakValue = alert.peakValue;
  if (alert.clearedAt !== null) resource.clearedAt = iso(alert.clearedAt);
  if (alert.acknowledgedAt !== null) resource.acknowledgedAt = iso(alert.acknowledgedAt);
  if (alert.acknowledgedBy !== null) resource.acknowledgedBy = alert.acknowledgedBy;
  if (alert.resolvedAt !== null) resource.resolvedAt = iso(alert.resolvedAt);
  if (alert.resolvedBy !== null) resource.resolvedBy = alert.resolvedBy;
  if (alert.measuredAt !== null) resource.measuredAt = iso(alert.measuredAt);
  if (alert.receivedAt !== null) resource.receivedAt = iso(alert.receivedAt);
  if (alert.evaluatedAt !== null) resource.evaluatedAt = iso(alert.evaluatedAt);
  resource.raisedAt = new Date(alert.raisedAt).toISOString();
  return resource;
}
