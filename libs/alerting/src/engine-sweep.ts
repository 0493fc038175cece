import { DEVICE_TYPES } from '@lantern/domain';
import { escalateAlert } from './alert-lifecycle.js';
import { opened, retriggered } from './engine-alerts.js';
import { DEFAULT_RULE_SET } from './engine-rule-set.js';
import type { EngineState } from './engine-state.js';
import { evaluateSignalLoss } from './rule-evaluators.js';

/** The periodic sweep at wall-clock `now`: signal loss of every device, then escalation of open alerts. */
export function sweepAll(engine: EngineState, now: number): void {
  for (const device of engine.devices.values()) {
    const patient = engine.patients.get(device.patientId);
    const compiled = (patient?.ruleSet ?? DEFAULT_RULE_SET).signalLoss;
    if (compiled === null || compiled.rule.kind !== 'signal_loss') continue;
    const rule = compiled.rule;
    const afterSec =
      rule.params.afterSec ?? (device.type === null ? null : DEVICE_TYPES[device.type].signalLossAfterSec);
    if (afterSec === null) continue;
    const heardAt = device.lastHeardAt === -Infinity ? null : device.lastHeardAt;
    if (evaluateSignalLoss(device.signal, heardAt, now, afterSec) !== 'fire') continue;
    const owner = engine.patient(device.patientId);
    const key = `${rule.key}|${device.deviceId}`;
    const existing = owner.alerts.get(key);
    if (existing !== undefined) retriggered(engine, existing, null, now, null);
    else if (!device.signal.suppressed) {
      const silentSec = Math.round((now - device.lastHeardAt) / 1000);
      opened(engine, owner, rule, key, {
        deviceId: device.deviceId,
        metric: null,
        value: null,
        time: now,
        now,
        measuredAt: null,
        receivedAt: null,
        late: false,
        facts: { deviceType: device.type, silentSec },
      });
    }
  }
  for (const patient of engine.patients.values()) {
    if (patient.alerts.size === 0) continue;
    for (const [key, alert] of patient.alerts) {
      if (alert.state !== 'open' || alert.priority === 'low') continue;
      const step = escalateAlert(alert, now);
      if (step.transition === undefined) continue;
      engine.store(patient, key, step.alert);
      engine.out().transitions.push(step.transition);
    }
  }
}
