import { describe, expect, it } from '@jest/globals';
import {
  AlertTransitionError,
  acknowledgeAlert,
  clearAlert,
  escalateAlert,
  escalationDueAt,
  openAlert,
  rebaseObserved,
  resolveAlert,
  retriggerAlert,
  toAlertResource,
  type AlertRecord,
} from './alert-lifecycle.js';

const T0 = Date.UTC(2026, 10, 22, 10, 0, 0);
const MIN = 60_000;

function alert(priority: AlertRecord['priority'], value = 50): AlertRecord {
  return openAlert({
    id: 'a1',
    patientId: 'p1',
    deviceId: 'd1',
    rule: 'glucose.urgent_low',
    metric: 'glucose',
    priority,
    message: 'Glucose 50 mg/dL — below 54 (urgent low)',
    value,
    time: T0,
    now: T0 + 1000,
    late: false,
  });
}

describe('alert lifecycle', () => {
  it('opens with the value as peak, level 0, times from the triggering reading', () => {
    const a = alert('high');
    expect(a).toMatchObject({
      state: 'open',
      peakValue: 50,
      openedAt: T0,
      lastTriggeredAt: T0,
      raisedAt: T0 + 1000,
      escalationLevel: 0,
      clearedAt: null,
    });
  });

  it('fire-while-active moves lastTriggeredAt and emits an update only on a worse peak', () => {
    const a = alert('high');
    const same = retriggerAlert(a, 52, T0 + 5 * MIN, 'lower');
    expect(same.transition).toBeUndefined();
    expect(same.alert).toMatchObject({ lastTriggeredAt: T0 + 5 * MIN, peakValue: 50 });
    const worse = retriggerAlert(same.alert, 45, T0 + 10 * MIN, 'lower');
    expect(worse.transition?.kind).toBe('updated');
    expect(worse.alert).toMatchObject({ peakValue: 45, lastTriggeredAt: T0 + 10 * MIN, value: 50, state: 'open' });
    expect(retriggerAlert(a, 60, T0, 'higher').alert.peakValue).toBe(60);
  });

  it('auto-resolves low and medium alerts when the condition clears', () => {
    for (const priority of ['low', 'medium'] as const) {
      const step = clearAlert(alert(priority), T0 + 20 * MIN);
      expect(step.transitions.map((t) => t.kind)).toEqual(['resolved']);
      expect(step.alert).toMatchObject({
        state: 'resolved',
        clearedAt: T0 + 20 * MIN,
        resolvedAt: T0 + 20 * MIN,
        resolvedBy: null,
      });
    }
  });

  it('latches a high alert: cleared but open until acknowledged, then resolved at once', () => {
    const cleared = clearAlert(alert('high'), T0 + 20 * MIN);
    expect(cleared.transitions.map((t) => t.kind)).toEqual(['cleared']);
    expect(cleared.alert).toMatchObject({ state: 'open', clearedAt: T0 + 20 * MIN });
    expect(clearAlert(cleared.alert, T0 + 25 * MIN).transitions).toEqual([]);
    const acked = acknowledgeAlert(cleared.alert, 'u1', T0 + 30 * MIN, 'seen');
    expect(acked.transitions.map((t) => [t.kind, t.alert.state])).toEqual([
      ['acknowledged', 'acknowledged'],
      ['resolved', 'resolved'],
    ]);
    expect(acked.alert).toMatchObject({
      acknowledgedBy: 'u1',
      acknowledgedAt: T0 + 30 * MIN,
      acknowledgeNote: 'seen',
      resolvedBy: 'u1',
      resolvedAt: T0 + 30 * MIN,
    });
  });

  it('an acknowledged, uncleared high alert resolves when its condition clears', () => {
    const acked = acknowledgeAlert(alert('high'), 'u1', T0 + MIN);
    expect(acked.transitions.map((t) => t.kind)).toEqual(['acknowledged']);
    const step = clearAlert(acked.alert, T0 + 10 * MIN);
    expect(step.transitions.map((t) => t.kind)).toEqual(['resolved']);
    expect(step.alert).toMatchObject({ state: 'resolved', resolvedBy: null, acknowledgedBy: 'u1' });
  });

  it('a latched alert that fires again is no longer cleared', () => {
    const cleared = clearAlert(alert('high'), T0 + 20 * MIN).alert;
    const again = retriggerAlert(cleared, 53, T0 + 25 * MIN, 'lower');
    expect(again.transition?.kind).toBe('updated');
    expect(again.alert.clearedAt).toBeNull();
  });

  it('refuses illegal transitions', () => {
    const acked = acknowledgeAlert(alert('medium'), 'u1', T0).alert;
    expect(() => acknowledgeAlert(acked, 'u2', T0)).toThrow(AlertTransitionError);
    const resolved = resolveAlert(acked, 'u1', T0, 'done').alert;
    expect(resolved).toMatchObject({ state: 'resolved', resolvedBy: 'u1', resolveNote: 'done' });
    expect(() => resolveAlert(resolved, 'u1', T0)).toThrow('already resolved');
    expect(() => acknowledgeAlert(resolved, 'u1', T0)).toThrow('is resolved and cannot be acknowledged');
    expect(() => retriggerAlert(resolved, 1, T0, 'lower')).toThrow(AlertTransitionError);
    expect(clearAlert(resolved, T0).transitions).toEqual([]);
  });

  it('escalates an open high alert every 5 min, medium every 15, low never, acknowledged never', () => {
    let high = alert('high');
    const raised = high.raisedAt;
    expect(escalateAlert(high, raised + 5 * MIN - 1).transition).toBeUndefined();
    high = escalateAlert(high, raised + 5 * MIN).alert;
    expect(high).toMatchObject({ escalationLevel: 1, escalatedAt: raised + 5 * MIN });
    expect(escalateAlert(high, raised + 10 * MIN - 1).transition).toBeUndefined();
    const step2 = escalateAlert(high, raised + 10 * MIN);
    expect(step2.transition?.kind).toBe('escalated');
    expect(step2.alert.escalationLevel).toBe(2);

    const medium = alert('medium');
    expect(escalateAlert(medium, raised + 14 * MIN).transition).toBeUndefined();
    expect(escalateAlert(medium, raised + 15 * MIN).alert.escalationLevel).toBe(1);

    expect(escalationDueAt(alert('low'))).toBeNull();
    expect(escalateAlert(alert('low'), raised + 24 * 60 * MIN).transition).toBeUndefined();
    const acked = acknowledgeAlert(alert('high'), 'u1', T0).alert;
    expect(escalateAlert(acked, raised + 60 * MIN).transition).toBeUndefined();
  });

  it('maps to the §3.4 resource with ISO times and absent optional fields', () => {
    const resource = toAlertResource(clearAlert(alert('high'), T0 + MIN).alert);
    expect(resource).toEqual({
      id: 'a1',
      patientId: 'p1',
      deviceId: 'd1',
      rule: 'glucose.urgent_low',
      metric: 'glucose',
      priority: 'high',
      state: 'open',
      message: 'Glucose 50 mg/dL — below 54 (urgent low)',
      value: 50,
      peakValue: 50,
      openedAt: '2026-11-22T10:00:00.000Z',
      lastTriggeredAt: '2026-11-22T10:00:00.000Z',
      clearedAt: '2026-11-22T10:01:00.000Z',
      escalationLevel: 0,
      late: false,
      // Provenance (contract §4.4): the reading's time, then the core's clock; no receipt time given.
      measuredAt: '2026-11-22T10:00:00.000Z',
      evaluatedAt: '2026-11-22T10:00:01.000Z',
      raisedAt: '2026-11-22T10:00:01.000Z',
    });
  });
});

describe('rebaseObserved: what the core saw, applied to the row as stored', () => {
  const acknowledged = (a: AlertRecord): AlertRecord => acknowledgeAlert(a, 'doc', T0 + MIN).alert;
  const kinds = (r: { transitions: { kind: string; alert: AlertRecord }[] }): string[] =>
    r.transitions.map((t) => `${t.kind} ${t.alert.state}`);

  it('a resolved row stays resolved, whatever the core saw', () => {
    const stored = resolveAlert(alert('high'), 'doc', T0 + MIN).alert;
    const observed = retriggerAlert(alert('high'), 40, T0 + 2 * MIN, 'lower').alert;
    expect(rebaseObserved(stored, observed, 'lower', T0 + 30 * MIN)).toEqual({ alert: stored, transitions: [] });
  });

  it('a clear on a row acknowledged meanwhile resolves it (clearAlert on the stored row)', () => {
    const observed = clearAlert(alert('high'), T0 + 5 * MIN).alert;
    const result = rebaseObserved(acknowledged(alert('high')), observed, 'lower', T0 + 30 * MIN);
    expect(kinds(result)).toEqual(['resolved resolved']);
    // The clear's event time; resolved on the wall clock of the reconciliation (the observation was latched, not resolved).
    expect(result.alert).toMatchObject({ acknowledgedBy: 'doc', clearedAt: T0 + 5 * MIN, resolvedAt: T0 + 30 * MIN });
  });

  it('a worse value is an update; a firing after the stored clear un-clears; lastTriggeredAt alone emits nothing', () => {
    const worse = rebaseObserved(
      alert('high'),
      retriggerAlert(alert('high'), 40, T0 + MIN, 'lower').alert,
      'lower',
      T0 + 30 * MIN,
    );
    expect(kinds(worse)).toEqual(['updated open']);
    expect(worse.alert).toMatchObject({ peakValue: 40, lastTriggeredAt: T0 + MIN });
    const latched = clearAlert(alert('high'), T0 + MIN).alert;
    const again = rebaseObserved(
      latched,
      retriggerAlert(alert('high'), 52, T0 + 2 * MIN, 'lower').alert,
      'lower',
      T0 + 30 * MIN,
    );
    expect(kinds(again)).toEqual(['updated open']);
    expect(again.alert.clearedAt).toBeNull();
    const quiet = rebaseObserved(
      alert('high'),
      { ...alert('high'), lastTriggeredAt: T0 + MIN },
      'lower',
      T0 + 30 * MIN,
    );
    expect(quiet).toEqual({ alert: { ...alert('high'), lastTriggeredAt: T0 + MIN }, transitions: [] });
  });

  it('an escalation applies only to a row still open; a resolution by the system applies to any active row', () => {
    const escalated = escalateAlert(alert('high'), T0 + 6 * MIN).alert;
    expect(rebaseObserved(acknowledged(alert('high')), escalated, 'lower', T0 + 30 * MIN).transitions).toEqual([]);
    expect(kinds(rebaseObserved(alert('high'), escalated, 'lower', T0 + 30 * MIN))).toEqual(['escalated open']);
    const disabled = resolveAlert(alert('high'), null, T0 + 7 * MIN, 'rule disabled').alert;
    const result = rebaseObserved(acknowledged(alert('high')), disabled, 'lower', T0 + 30 * MIN);
    expect(kinds(result)).toEqual(['resolved resolved']);
    expect(result.alert).toMatchObject({ resolvedBy: null, resolveNote: 'rule disabled', acknowledgedBy: 'doc' });
  });
});
