import { Injectable } from '@nestjs/common';
import { applyOverride, findRule, type AlertCommandContext } from '@lantern/alerting';
import { AlertRuleOverrideRepository, DeviceRepository, idFromCause, type StoredAlert } from '@lantern/storage';

/**
 * What a clinician's command on an alert needs besides the row (AlertCommandService): the alert's
 * rule as it applies to the patient (the catalog rule with the patient's override), the type of
 * the device that raised it, and ids derived from their cause. Read before the row is locked.
 */
@Injectable()
export class AlertCommandContexts {
  constructor(
    private readonly overrides: AlertRuleOverrideRepository,
    private readonly devices: DeviceRepository,
  ) {}

  /** What the command needs besides the row: the rule as it applies to the patient, the device's type, ids by cause. */
  async of(alert: StoredAlert): Promise<AlertCommandContext> {
    const rule = findRule(alert.rule);
    const override = rule && (await this.overrides.listForPatient(alert.patientId)).find((o) => o.ruleKey === rule.key);
    const device =
      alert.deviceId === null ? undefined : await this.devices.findById(alert.deviceId).catch(() => undefined);
    return {
      rule: rule && applyOverride(rule, override),
      deviceType: device?.type ?? null,
      newId: idFromCause,
    };
  }
}
