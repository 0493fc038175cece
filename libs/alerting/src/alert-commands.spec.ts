import { describe, expect, it } from '@jest/globals';
import { AlertEngine } from './alert-engine.js';
import { alertCommand, decideAlertCommand, type AlertCommandContext } from './alert-commands.js';
import { AlertTransitionError, notificationCause, openAlert, type AlertRecord } from './alert-lifecycle.js';
import { effectiveRules } from './rule-overrides.js';

const T0 = Date.UTC(2026, 10, 22, 10, 0, 0);
const MIN = 60_000;

const batteryRule = effectiveRules().find((r) => r.key === 'device.battery_low')!;
const context: AlertCommandContext = { rule: batteryRule, deviceType: 'cardiac_implant', newId: (cause) => cause };

function batteryAlert(cleared = false): AlertRecord {
  const alert = openAlert({
    id: 'a1',
    patientId: 'p1',
    deviceId: 'implant-1',
    rule: 'device.battery_low',
    metric: null,
    priority: 'low',
    message: 'Cardiac implant battery 12% — at or below 15% (battery low)',
    value: 12,
    time: T0,
    now: T0,
    late: false,
  });
  return cleared ? { ...alert, clearedAt: T0 + MIN } : alert;
}

describe('alert commands: one decision for the api (on the stored row) and the engine', () => {
  it('acknowledge: the alert acknowledged, and the patient told in the words of libs/alerting, id by cause', () => {
    const command = alertCommand({ action: 'acknowledge', alertId: 'a1', by: 'doc', at: T0 + 2 * MIN, note: 'called' });
    const decision = decideAlertCommand(batteryAlert(), command, context);
    expect(decision.alert).toMatchObject({
      state: 'acknowledged',
      acknowledgedAt: T0 + 2 * MIN,
      acknowledgedBy: 'doc',
      acknowledgeNote: 'called',
    });
    expect(decision.transitions.map((t) => t.kind)).toEqual(['acknowledged']);
    expect(decision.notifications).toEqual([
      {
        id: notificationCause('a1', 'acknowledged'),
        kind: 'alert_acknowledged',
        severity: 'info',
        title: 'Your care team has seen your alert',
        body: 'Your care team has seen the alert: the battery of your heart implant is getting low. Please keep following your care plan.',
        patientId: 'p1',
        createdAt: T0 + 2 * MIN,
        alertId: 'a1',
        deviceId: 'implant-1',
      },
    ]);
  });

  it('acknowledging a latched alert resolves it; resolving notifies nobody; illegal ones throw', () => {
    const latched = decideAlertCommand(
      batteryAlert(true),
      alertCommand({ action: 'acknowledge', alertId: 'a1', by: 'doc', at: T0 + 2 * MIN }),
      context,
    );
    expect(latched.transitions.map((t) => `${t.kind} ${t.alert.state}`)).toEqual([
      'acknowledged acknowledged',
      'resolved resolved',
    ]);
    const resolved = decideAlertCommand(
      batteryAlert(),
      alertCommand({ action: 'resolve', alertId: 'a1', by: 'doc', at: T0 + 3 * MIN, note: 'replaced' }),
      context,
    );
    expect(resolved.alert).toMatchObject({ state: 'resolved', resolvedBy: 'doc', resolveNote: 'replaced' });
    expect(resolved.notifications).toEqual([]);
    expect(() =>
      decideAlertCommand(
        resolved.alert,
        alertCommand({ action: 'acknowledge', alertId: 'a1', by: 'doc', at: T0 + 4 * MIN }),
        context,
      ),
    ).toThrow(new AlertTransitionError('alert a1 is resolved and cannot be acknowledged'));
    // No rule in the catalog any more: the command still applies, without a notification.
    expect(
      decideAlertCommand(batteryAlert(), alertCommand({ action: 'acknowledge', alertId: 'a1', by: 'doc', at: T0 }), {
        ...context,
        rule: undefined,
      }).notifications,
    ).toEqual([]);
  });

  it('the engine decides through the same function', () => {
    const engine = new AlertEngine({ newId: (cause) => cause });
    engine.registerDevice({ deviceId: 'implant-1', patientId: 'p1', type: 'cardiac_implant' });
    const opened = engine.onStatus({ deviceId: 'implant-1', patientId: 'p1', time: T0, battery: 12 }, T0);
    const id = opened.transitions[0].alert.id;
    const command = alertCommand({ action: 'acknowledge', alertId: id, by: 'doc', at: T0 + 2 * MIN });
    const byEngine = engine.command(command);
    const direct = decideAlertCommand(opened.transitions[0].alert, command, context);
    expect(byEngine.transitions).toEqual(direct.transitions);
    expect(byEngine.notifications).toEqual(direct.notifications);
  });

  it('a malformed command is refused when built', () => {
    expect(() => alertCommand({ action: 'acknowledge', alertId: '', by: '', at: NaN })).toThrow(
      'invalid alert command: alertId is required; by (the user) is required; at must be a time (epoch ms)',
    );
  });
});
