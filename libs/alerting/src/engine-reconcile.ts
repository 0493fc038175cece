import { decideAlertCommand, type AlertCommand } from './alert-commands.js';
import { isActive, rebaseObserved, type AlertRecord } from './alert-lifecycle.js';
import { suppressIfHolding } from './engine-alerts.js';
import type { EngineState } from './engine-state.js';

/** Applies a clinician's command to an alert the engine holds (see AlertEngine.command). */
export function applyCommand(engine: EngineState, command: AlertCommand): void {
  const { patient, key, alert } = engine.find(command.alertId);
  const decision = decideAlertCommand(alert, command, {
    rule: patient.ruleSet.byKey.get(alert.rule)?.rule,
    deviceType: alert.deviceId === null ? null : (engine.devices.get(alert.deviceId)?.type ?? null),
    newId: engine.newId,
  });
  engine.store(patient, key, decision.alert);
  const out = engine.out();
  out.transitions.push(...decision.transitions);
  out.notifications.push(...decision.notifications);
  if (!isActive(decision.alert)) suppressIfHolding(engine, patient, alert);
}

/** Re-applies the engine's observations to the row the database holds (see AlertEngine.reconcile). */
export function reconcileStored(engine: EngineState, observed: AlertRecord, stored: AlertRecord, now: number): void {
  const patient = engine.patient(stored.patientId);
  const compiled = patient.ruleSet.byKey.get(stored.rule);
  if (compiled === undefined) return;
  const key = compiled.rule.scope === 'device' ? `${stored.rule}|${stored.deviceId}` : stored.rule;
  const held = patient.alerts.get(key);
  // Held under another id: the engine has moved on to a newer alert of this rule, written on its own.
  const ours = held !== undefined && (held.id === observed.id || held.id === stored.id);
  const step = rebaseObserved(stored, ours ? held : observed, compiled.worse, now);
  if (ours) {
    if (held.id !== step.alert.id) engine.alertsById.delete(held.id);
    engine.store(patient, key, step.alert);
    if (!isActive(step.alert)) suppressIfHolding(engine, patient, step.alert);
  }
  engine.out().transitions.push(...step.transitions);
}

/** Adopts a change the api made to a held alert in the database (see AlertEngine.applyExternal). */
export function applyExternal(engine: EngineState, alert: AlertRecord): void {
  const patient = engine.patients.get(alert.patientId);
  if (!patient) return;
  const compiled = patient.ruleSet.byKey.get(alert.rule);
  if (!compiled) return;
  const key = compiled.rule.scope === 'device' ? `${alert.rule}|${alert.deviceId}` : alert.rule;
  const held = patient.alerts.get(key);
  if (held === undefined || held.id !== alert.id) return;
  engine.store(patient, key, alert);
  if (!isActive(alert)) suppressIfHolding(engine, patient, alert);
}
