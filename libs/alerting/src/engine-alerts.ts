import type { MetricKey } from '@lantern/domain';
import {
  alertCause,
  clearAlert,
  copyAlert,
  notificationCause,
  openAlert,
  retrigger,
  type AlertRecord,
  type Worse,
} from './alert-lifecycle.js';
import {
  clinicianMessage,
  openedNotificationText,
  signalRestoredNotificationText,
  type MessageFacts,
  type NotificationText,
} from './alert-messages.js';
import { evaluateSignalHeard, type ConditionState } from './rule-evaluators.js';
import type { EffectiveRule } from './rule-overrides.js';
import type { DeviceState, EngineState, PatientState } from './engine-state.js';

/** Alerts of one metric opened within this much event time of the thread's last one join its thread (spec §5). */
export const EPISODE_WINDOW_MS = 30 * 60_000;

/** What an alert opens with: where and when its rule fired, and the facts its messages tell. */
export interface OpenInput {
  deviceId: string | null;
  metric: MetricKey | null;
  value: number | null;
  time: number;
  now: number;
  measuredAt: number | null;
  receivedAt: number | null;
  late: boolean;
  facts: MessageFacts;
}

/** The device was heard from at `now`: ends a signal loss (and tells the patient it is back). */
export function heard(engine: EngineState, device: DeviceState, now: number): void {
  if (now > device.lastHeardAt) device.lastHeardAt = now;
  if (!device.signal.active) return;
  const wasSuppressed = device.signal.suppressed;
  evaluateSignalHeard(device.signal);
  const patient = engine.patient(device.patientId);
  const key = `device.signal_loss|${device.deviceId}`;
  const lost = patient.alerts.get(key);
  cleared(engine, patient, device.signal, key, now, now);
  if (lost !== undefined || wasSuppressed) {
    notify(
      engine,
      patient.patientId,
      signalRestoredNotificationText({ deviceType: device.type }),
      now,
      // About the loss it ends: once per lost alert (a loss resolved by hand has none left: the time tells it apart).
      lost === undefined
        ? `notification|${device.deviceId}|signal_restored|${now}`
        : notificationCause(lost.id, 'signal_restored'),
      null,
      device.deviceId,
      // "Back" updates the "we lost your sensor" message: the transitions of one alert, one thread.
      lost === undefined ? null : engine.newId(notificationCause(lost.id, 'opened')),
    );
  }
}

/**
 * A rule's condition cleared at event time `time`. With `rearmMs` (the rule's `rearmSec`), the
 * alert that ends with it keeps the rule quiet for that long unless a worse value comes.
 */
export function cleared(
  engine: EngineState,
  patient: PatientState,
  state: ConditionState,
  key: string,
  time: number,
  now: number,
  rearmMs = 0,
): void {
  state.suppressed = false;
  const alert = patient.alerts.get(key);
  if (alert === undefined) return;
  if (rearmMs > 0 && alert.clearedAt === null) {
    state.quietUntil = time + rearmMs;
    state.quietPeak = alert.peakValue ?? NaN;
  }
  const step = clearAlert(alert, time, now);
  if (step.transitions.length === 0) return;
  engine.store(patient, key, step.alert);
  engine.out().transitions.push(...step.transitions);
}

/**
 * A rule fired again while its alert is active (the engine's own copy, see EngineState.store): a new
 * peak, or a return after a clear, is a transition. While a condition holds — every reading of a
 * 1 Hz oximeter — the copy changes in place: no record is allocated, none replaces the one the
 * engine holds, and only a transition hands out a snapshot (records handed out never change).
 */
export function retriggered(
  engine: EngineState,
  alert: AlertRecord,
  value: number | null,
  time: number,
  worse: Worse,
): void {
  if (retrigger(alert, value, time, worse)) engine.out().transitions.push({ kind: 'updated', alert: copyAlert(alert) });
}

/** A rule fired with no active alert: opens one and tells the patient. */
export function opened(
  engine: EngineState,
  patient: PatientState,
  rule: EffectiveRule,
  key: string,
  input: OpenInput,
): void {
  const alert = openAlert({
    id: engine.newId(
      alertCause(patient.patientId, rule.key, rule.scope === 'device' ? input.deviceId : null, input.time),
    ),
    patientId: patient.patientId,
    deviceId: input.deviceId,
    rule: rule.key,
    metric: input.metric,
    priority: rule.params.priority,
    message: clinicianMessage(rule, input.facts),
    value: input.value,
    time: input.time,
    now: input.now,
    measuredAt: input.measuredAt,
    receivedAt: input.receivedAt,
    late: input.late,
  });
  engine.store(patient, key, alert);
  engine.out().transitions.push({ kind: 'opened', alert });
  const cause = notificationCause(alert.id, 'opened');
  notify(
    engine,
    patient.patientId,
    openedNotificationText(rule, input.facts),
    input.now,
    cause,
    alert,
    alert.deviceId,
    rule.scope === 'metric' ? thread(patient, alert, engine.newId(cause)) : null,
  );
}

/**
 * The thread a metric alert's opening message joins (spec §5): its metric's open thread when the
 * alert opened within EPISODE_WINDOW_MS of event time after that thread's latest alert, or while
 * another alert of the metric is still active (a long urgent low); else it starts one (`ownId`).
 * Event time, so a redelivered or replayed input decides the same thread.
 */
function thread(patient: PatientState, alert: AlertRecord, ownId: string): string {
  const metric = alert.metric!;
  const open = patient.threads.get(metric);
  let joins = open !== undefined && alert.openedAt - open.lastAt <= EPISODE_WINDOW_MS;
  if (open !== undefined && !joins)
    for (const other of patient.alerts.values()) if (other !== alert && other.metric === metric) joins = true;
  const id = joins ? open!.id : ownId;
  patient.threads.set(metric, { id, lastAt: Math.max(joins ? open!.lastAt : -Infinity, alert.openedAt) });
  return id;
}

/**
 * After a restart: the metric's thread continues from a stored alert's opening message (storage
 * resolves a message id to its thread), so an episode that spans a restart stays one thread.
 */
export function seedThread(engine: EngineState, patient: PatientState, alert: AlertRecord): void {
  if (alert.metric === null) return;
  const known = patient.threads.get(alert.metric);
  if (known !== undefined && known.lastAt >= alert.openedAt) return;
  patient.threads.set(alert.metric, {
    id: engine.newId(notificationCause(alert.id, 'opened')),
    lastAt: alert.openedAt,
  });
}

function notify(
  engine: EngineState,
  patientId: string,
  text: NotificationText,
  now: number,
  cause: string,
  alert: AlertRecord | null,
  deviceId: string | null = alert?.deviceId ?? null,
  threadId: string | null = null,
): void {
  // Written out, not spread: the texts come in several shapes, and `{ ...text, id, … }` then went
  // through V8's slow paths property by property (12 % of a run where fevers opened and cleared).
  engine.out().notifications.push({
    kind: text.kind,
    severity: text.severity,
    title: text.title,
    body: text.body,
    id: engine.newId(cause),
    patientId,
    createdAt: now,
    alertId: alert?.id ?? null,
    deviceId,
    threadId,
  });
}

/** After a hand resolution: while the rule's condition still holds, it must not open a new alert. */
export function suppressIfHolding(engine: EngineState, patient: PatientState, alert: AlertRecord): void {
  const compiled = patient.ruleSet.byKey.get(alert.rule);
  const state = compiled && engine.conditionOf(patient, compiled, alert.deviceId);
  if (state?.active) state.suppressed = true;
}
