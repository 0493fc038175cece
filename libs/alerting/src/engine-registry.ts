import type { DeviceRegistration, DeviceSync } from './alert-engine.js';
import { resolveAlert } from './alert-lifecycle.js';
import { compileRules, DEFAULT_RULE_SET } from './engine-rule-set.js';
import type { EngineState } from './engine-state.js';
import { newConditionState } from './rule-evaluators.js';
import { effectiveRules, type RuleOverride } from './rule-overrides.js';

/** `resolveNote` of a device alert the system resolved because its device was decommissioned. */
export const DEVICE_DECOMMISSIONED_NOTE = 'device decommissioned';
/** `resolveNote` of a device alert the system resolved because its device now belongs to another patient. */
export const DEVICE_REASSIGNED_NOTE = 'device reassigned';

/** Registers or updates a device, keeping its live state (see AlertEngine.registerDevice). */
export function registerDevice(engine: EngineState, registration: DeviceRegistration): void {
  const device = engine.device(registration.deviceId, registration.patientId);
  device.patientId = registration.patientId;
  device.type = registration.type;
  if (registration.lastHeardAt !== undefined && registration.lastHeardAt !== null) {
    device.lastHeardAt = Math.max(device.lastHeardAt, registration.lastHeardAt);
  }
}

/** Brings devices and their device-rule alerts in step with the device registry (see AlertEngine.syncDevices). */
export function syncDevices(engine: EngineState, devices: Iterable<DeviceSync>, now: number): void {
  const byId = new Map<string, DeviceSync>();
  for (const d of devices) byId.set(d.deviceId, d);
  for (const patient of engine.patients.values()) {
    for (const [key, alert] of patient.alerts) {
      const synced = alert.deviceId === null ? undefined : byId.get(alert.deviceId);
      if (synced === undefined || patient.ruleSet.byKey.get(alert.rule)?.rule.scope !== 'device') continue;
      const note = synced.decommissioned
        ? DEVICE_DECOMMISSIONED_NOTE
        : synced.patientId !== alert.patientId
          ? DEVICE_REASSIGNED_NOTE
          : null;
      if (note === null) continue;
      // Deleting the current entry while iterating a Map is safe.
      const step = resolveAlert(alert, null, now, note);
      engine.store(patient, key, step.alert);
      engine.out().transitions.push(...step.transitions);
    }
  }
  const moved: { synced: DeviceSync; lastHeardAt: number }[] = [];
  for (const [deviceId, device] of engine.devices) {
    const synced = byId.get(deviceId);
    if (synced === undefined) continue;
    if (synced.decommissioned || synced.patientId !== device.patientId) engine.devices.delete(deviceId);
    if (synced.decommissioned) continue;
    if (synced.patientId !== device.patientId) moved.push({ synced, lastHeardAt: device.lastHeardAt });
    else device.type = synced.type;
  }
  // Re-created after the loop: an entry added while iterating a Map would be visited again.
  for (const { synced, lastHeardAt } of moved) {
    const device = engine.device(synced.deviceId, synced.patientId);
    device.type = synced.type;
    device.lastHeardAt = lastHeardAt;
  }
}

/** Replaces a patient's overrides; rules that become disabled lose their alerts and condition state. */
export function setOverrides(
  engine: EngineState,
  patientId: string,
  overrides: readonly RuleOverride[],
  now: number,
): void {
  const patient = engine.patient(patientId);
  const ruleSet = overrides.length === 0 ? DEFAULT_RULE_SET : compileRules(effectiveRules(overrides));
  patient.ruleSet = ruleSet;
  for (const rule of ruleSet.rules) {
    if (rule.enabled) continue;
    const index = ruleSet.byKey.get(rule.key)!.index;
    patient.conditions[index] = newConditionState();
    for (const [key, alert] of patient.alerts) {
      if (alert.rule !== rule.key) continue;
      const step = resolveAlert(alert, null, now, 'rule disabled');
      engine.store(patient, key, step.alert);
      engine.out().transitions.push(...step.transitions);
    }
    if (rule.scope === 'device') {
      for (const device of engine.devices.values()) {
        if (device.patientId !== patientId) continue;
        if (rule.kind === 'signal_loss') Object.assign(device.signal, newConditionState());
        else device.battery.delete(rule.key);
      }
    }
  }
}
