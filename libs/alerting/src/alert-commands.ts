import type { DeviceTypeKey } from '@lantern/domain';
import type { NotificationDraft } from './alert-engine.js';
import {
  acknowledgeAlert,
  notificationCause,
  resolveAlert,
  type AlertRecord,
  type AlertTransition,
} from './alert-lifecycle.js';
import { acknowledgedNotificationText } from './alert-messages.js';
import type { EffectiveRule } from './rule-overrides.js';

export const ALERT_COMMAND_ACTIONS = ['acknowledge', 'resolve'] as const;
export type AlertCommandAction = (typeof ALERT_COMMAND_ACTIONS)[number];

/**
 * A clinician's command on one alert (`POST /alerts/:id/acknowledge|resolve`): the only way a person
 * changes an alert. Decided by {@link decideAlertCommand} — by the api on the stored row under its
 * lock, and by AlertEngine.command on the engine's copy — so there is one rule, tested once.
 */
export interface AlertCommand {
  readonly action: AlertCommandAction;
  readonly alertId: string;
  /** The user giving the command. */
  readonly by: string;
  /** Wall-clock time of the command, epoch ms. */
  readonly at: number;
  readonly note: string | null;
}

/** Builds a command, checking its fields: a malformed one is a bug of its caller (RangeError), never stored. */
export function alertCommand(input: {
  action: AlertCommandAction;
  alertId: string;
  by: string;
  at: number;
  note?: string | null;
}): AlertCommand {
  const problems: string[] = [];
  if (!ALERT_COMMAND_ACTIONS.includes(input.action)) problems.push(`unknown action '${String(input.action)}'`);
  if (typeof input.alertId !== 'string' || input.alertId.length === 0) problems.push('alertId is required');
  if (typeof input.by !== 'string' || input.by.length === 0) problems.push('by (the user) is required');
  if (!Number.isFinite(input.at)) problems.push('at must be a time (epoch ms)');
  if (problems.length > 0) throw new RangeError(`invalid alert command: ${problems.join('; ')}`);
  return { action: input.action, alertId: input.alertId, by: input.by, at: input.at, note: input.note ?? null };
}

/** What a command needs besides the alert: the words of the patient's notification. */
export interface AlertCommandContext {
  /** The alert's rule as it applies to its patient (overrides merged); undefined when the catalog no longer has it (no notification then). */
  readonly rule: EffectiveRule | undefined;
  /** Type of the alert's device, for the patient's wording (null: unknown or none). */
  readonly deviceType: DeviceTypeKey | null;
  /** Ids from causes, as AlertEngineOptions.newId: the same command never notifies twice. */
  readonly newId: (cause: string) => string;
}

/** A command's outcome: the alert as it is afterwards, its transitions and the patient notifications, in order. */
export interface AlertDecision {
  readonly alert: AlertRecord;
  readonly transitions: readonly AlertTransition[];
  readonly notifications: readonly NotificationDraft[];
}

/**
 * Decides a clinician's command on an alert: acknowledge (open alerts only; a latched alert resolves
 * at once) notifies the patient "Your care team has seen your alert"; resolve (any active alert)
 * notifies nobody. Throws AlertTransitionError when the alert's state does not allow it (→ 409).
 */
export function decideAlertCommand(
  alert: AlertRecord,
  command: AlertCommand,
  context: AlertCommandContext,
): AlertDecision {
  if (alert.id !== command.alertId)
    throw new RangeError(`command for alert ${command.alertId} applied to alert ${alert.id}`);
  switch (command.action) {
    case 'acknowledge': {
      const step = acknowledgeAlert(alert, command.by, command.at, command.note);
      const notifications: NotificationDraft[] =
        context.rule === undefined
          ? []
          : [
              {
                ...acknowledgedNotificationText(context.rule, { value: alert.value, deviceType: context.deviceType }),
                id: context.newId(notificationCause(alert.id, 'acknowledged')),
                patientId: alert.patientId,
                createdAt: command.at,
                alertId: alert.id,
                deviceId: alert.deviceId,
              },
            ];
      return { alert: step.alert, transitions: step.transitions, notifications };
    }
    case 'resolve': {
      const step = resolveAlert(alert, command.by, command.at, command.note);
      return { alert: step.alert, transitions: step.transitions, notifications: [] };
    }
  }
}
