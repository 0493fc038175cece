import { describe, expect, it } from '@jest/globals';
import type { MetricKey, Reading } from '@lantern/domain';
import { AlertEngine, type EngineOutput, type StreamHistory } from './alert-engine.js';
import { alertCause, notificationCause, type AlertRecord } from './alert-lifecycle.js';
import { withSpecGlucose } from './spec-glucose-rules.js';

const T0 = Date.UTC(2026, 10, 22, 10, 0, 0);
const SEC = 1000;
const MIN = 60 * SEC;
const HOUR = 60 * MIN;
const P = 'patient-1';

/** Ids that are their cause: what the production id (a UUID of the cause) preserves, readable. */
const byCause = (cause: string): string => cause;

function engineWith(devices: Record<string, 'cgm' | 'pulse_oximeter' | 'weight_scale' | 'bp_monitor'>): AlertEngine {
  const engine = new AlertEngine({ newId: byCause });
  for (const [deviceId, type] of Object.entries(devices)) engine.registerDevice({ deviceId, patientId: P, type });
  // Written against spec §4's glucose parameters.
  engine.setOverrides(P, withSpecGlucose(), T0 - 24 * HOUR);
  return engine;
}

function reading(deviceId: string, metric: MetricKey, time: number, value: number): Reading {
  return { deviceId, patientId: P, metric, value, time, receivedAt: time + 2 * SEC };
}

function history(deviceId: string, metric: MetricKey, points: readonly [number, number][]): StreamHistory {
  return { deviceId, metric, times: points.map(([t]) => t), values: points.map(([, v]) => v) };
}

const kinds = (out: EngineOutput): string[] => out.transitions.map((t) => `${t.kind} ${t.alert.rule}`);

describe('AlertEngine — ids by cause (a redelivered input is recognised)', () => {
  it('the same reading evaluated by two engines opens the same alert id and the same notification id', () => {
    const first = engineWith({ 'cgm-1': 'cgm' }).onReading(reading('cgm-1', 'glucose', T0, 50), T0);
    const again = engineWith({ 'cgm-1': 'cgm' }).onReading(reading('cgm-1', 'glucose', T0, 50), T0 + MIN);
    expect(again.transitions.map((t) => t.alert.id)).toEqual(first.transitions.map((t) => t.alert.id));
    expect(again.notifications.map((n) => n.id)).toEqual(first.notifications.map((n) => n.id));
    const urgent = first.transitions[0].alert;
    expect(urgent.id).toBe(alertCause(P, 'glucose.urgent_low', null, T0));
    expect(first.notifications[0].id).toBe(notificationCause(urgent.id, 'opened'));
  });

  it('device rules include the device in the cause', () => {
    const engine = engineWith({ 'cgm-1': 'cgm' });
    const out = engine.onStatus({ deviceId: 'cgm-1', patientId: P, time: T0, battery: 10 }, T0);
    expect(out.transitions[0].alert.id).toBe(alertCause(P, 'device.battery_low', 'cgm-1', T0));
  });
});

describe('AlertEngine — rebuilt on start from the readings stored before', () => {
  const DAY = 24 * HOUR;

  it('body_weight.gain_3d fires on the first new reading using the readings stored before the restart', () => {
    const stored = history('scale-1', 'body_weight', [
      [T0 - 2 * DAY, 80.4],
      [T0 - DAY, 81],
    ]);
    const blind = engineWith({ 'scale-1': 'weight_scale' });
    expect(kinds(blind.onReading(reading('scale-1', 'body_weight', T0, 82.5), T0))).toEqual([]);

    const engine = engineWith({ 'scale-1': 'weight_scale' });
    expect(engine.historyNeeded()).toEqual([
      { deviceId: 'scale-1', patientId: P, metric: 'body_weight', spanMs: 72 * HOUR },
    ]);
    expect(kinds(engine.rebuild([stored], [], T0))).toEqual([]);
    const out = engine.onReading(reading('scale-1', 'body_weight', T0, 82.5), T0);
    expect(kinds(out)).toEqual(['opened body_weight.gain_3d']);
    expect(out.transitions[0].alert.message).toBe(
      'Weight 82.5 kg — up 2.1 kg within 72 h, limit 2 kg (gain over 3 days)',
    );
  });

  it('a delayed threshold keeps its timer: heart_rate.high (60 s above 130) counts from the stored readings', () => {
    const engine = engineWith({ 'ox-1': 'pulse_oximeter' });
    const needs = engine.historyNeeded();
    expect(needs.find((n) => n.metric === 'heart_rate')?.spanMs).toBe(60 * SEC);
    // Above 130 from T0 - 50 s, stored before the restart.
    const stored = history(
      'ox-1',
      'heart_rate',
      [-50, -40, -30, -20, -10].map((s) => [T0 + s * SEC, 140] as [number, number]),
    );
    expect(kinds(engine.rebuild([stored], [], T0))).toEqual([]);
    expect(kinds(engine.onReading(reading('ox-1', 'heart_rate', T0, 141), T0))).toEqual([]);
    const out = engine.onReading(reading('ox-1', 'heart_rate', T0 + 10 * SEC, 142), T0 + 10 * SEC);
    expect(kinds(out)).toEqual(['opened heart_rate.high']);
    expect(out.transitions[0].alert.openedAt).toBe(T0 + 10 * SEC);
  });

  it('merges the devices of one patient measuring one metric in event time (one condition, one timer)', () => {
    const engine = new AlertEngine({ newId: byCause });
    engine.registerDevice({ deviceId: 'ox-1', patientId: P, type: 'pulse_oximeter' });
    engine.registerDevice({ deviceId: 'patch-1', patientId: P, type: 'wearable_patch' });
    // Above 130 from the oximeter, a normal one from the patch at −30 s: the timer restarts at −20 s.
    const ox = history('ox-1', 'heart_rate', [
      [T0 - 50 * SEC, 140],
      [T0 - 20 * SEC, 140],
      [T0 - 10 * SEC, 140],
    ]);
    const patch = history('patch-1', 'heart_rate', [[T0 - 30 * SEC, 100]]);
    expect(kinds(engine.rebuild([ox, patch], [], T0))).toEqual([]);
    expect(kinds(engine.onReading(reading('ox-1', 'heart_rate', T0 + 30 * SEC, 140), T0 + 30 * SEC))).toEqual([]);
    expect(kinds(engine.onReading(reading('ox-1', 'heart_rate', T0 + 40 * SEC, 140), T0 + 40 * SEC))).toEqual([
      'opened heart_rate.high',
    ]);
  });

  it('makes good an alert whose reading was stored but whose alert was not (a crash in between)', () => {
    const engine = engineWith({ 'bp-1': 'bp_monitor' });
    // No delay and no window: systolic BP is not read back; the redelivered reading is evaluated.
    expect(engine.historyNeeded().map((n) => n.metric)).toEqual(['heart_rate']);
    const out = engine.onReading(reading('bp-1', 'systolic_bp', T0, 190), T0 + MIN);
    expect(kinds(out)).toEqual(['opened systolic_bp.high']);

    // Glucose is read back (its rules have windows): the replay itself raises what is missing.
    const cgm = engineWith({ 'cgm-1': 'cgm' });
    const made = cgm.rebuild([history('cgm-1', 'glucose', [[T0, 50]])], [], T0 + MIN);
    expect(kinds(made)).toEqual(['opened glucose.urgent_low', 'opened glucose.low']);
    expect(made.notifications.map((n) => n.id)).toEqual(
      made.transitions.map((t) => notificationCause(t.alert.id, 'opened')),
    );
    // …and the redelivered reading, not newer than what was read back, changes nothing more.
    expect(kinds(cgm.onReading(reading('cgm-1', 'glucose', T0, 50), T0 + MIN))).toEqual([]);
  });

  it('re-decides nothing the database already reflects: stored alerts bound each rule’s replay', () => {
    const first = engineWith({ 'cgm-1': 'cgm' });
    const opened = first.onReading(reading('cgm-1', 'glucose', T0, 65), T0).transitions.map((t) => t.alert);
    expect(opened.map((a) => a.rule)).toEqual(['glucose.low']);

    const engine = engineWith({ 'cgm-1': 'cgm' });
    engine.restore(opened);
    // Read back: a normal reading before the alert opened and the one that opened it.
    const made = engine.rebuild(
      [
        history('cgm-1', 'glucose', [
          [T0 - 5 * MIN, 90],
          [T0, 65],
        ]),
      ],
      [],
      T0 + MIN,
    );
    expect(kinds(made)).toEqual([]);
    expect(engine.activeAlerts().map((a) => `${a.rule} ${a.state}`)).toEqual(['glucose.low open']);
    // A clear stored as a reading whose alert transition was lost is made good.
    const clearing = engineWith({ 'cgm-1': 'cgm' });
    clearing.restore(opened);
    const cleared = clearing.rebuild(
      [
        history('cgm-1', 'glucose', [
          [T0, 65],
          [T0 + 5 * MIN, 95],
        ]),
      ],
      [],
      T0 + 6 * MIN,
    );
    expect(kinds(cleared)).toEqual(['resolved glucose.low']);
  });

  it('a redelivered old reading after its alert resolved does not re-open it', () => {
    const first = engineWith({ 'bp-1': 'bp_monitor' });
    const out = first.onReading(reading('bp-1', 'systolic_bp', T0, 85), T0);
    const low = out.transitions[0].alert;
    const resolved = first.onReading(reading('bp-1', 'systolic_bp', T0 + HOUR, 120), T0 + HOUR).transitions[0].alert;
    expect(resolved).toMatchObject({ id: low.id, state: 'resolved', resolvedAt: T0 + HOUR });

    const engine = engineWith({ 'bp-1': 'bp_monitor' });
    engine.rebuild([], [resolved], T0 + HOUR + MIN);
    expect(kinds(engine.onReading(reading('bp-1', 'systolic_bp', T0, 85), T0 + HOUR + MIN))).toEqual([]);
    // A newer low reading is a new episode.
    expect(kinds(engine.onReading(reading('bp-1', 'systolic_bp', T0 + 2 * HOUR, 85), T0 + 2 * HOUR))).toEqual([
      'opened systolic_bp.low',
    ]);
  });

  it('a rate rule is evaluated only where a whole window lies behind the reading read back', () => {
    const engine = engineWith({ 'cgm-1': 'cgm' });
    // glucose: 30 min (glucose.high's delay) plus one 15-min window for the rate and predictive rules.
    expect(engine.historyNeeded()).toEqual([{ deviceId: 'cgm-1', patientId: P, metric: 'glucose', spanMs: 45 * MIN }]);
    // −3/min over the first 10 min read back: with the readings before them unknown, that slope is a
    // guess (live, it fired or not depending on them), so falling_fast is not evaluated before 15 min.
    const values = [200, 185, 170, 200, 200, 200, 200, 200, 200, 200];
    const fall = history(
      'cgm-1',
      'glucose',
      values.map((v, i) => [T0 + 5 * i * MIN, v] as [number, number]),
    );
    expect(kinds(engine.rebuild([fall], [], T0 + 46 * MIN))).toEqual([]);
    const unguarded = engineWith({ 'cgm-1': 'cgm' });
    expect(
      values.flatMap((v, i) => kinds(unguarded.onReading(reading('cgm-1', 'glucose', T0 + 5 * i * MIN, v)))),
    ).toEqual(['opened glucose.falling_fast', 'resolved glucose.falling_fast']);
  });

  it('an alert resolved by hand while its condition held keeps its rule quiet after the restart, until it clears', () => {
    const first = engineWith({ 'cgm-1': 'cgm' });
    const low = first.onReading(reading('cgm-1', 'glucose', T0, 65), T0).transitions[0].alert;
    const resolved = first.resolve(low.id, 'doc', T0 + 2 * MIN).transitions[0].alert;

    const engine = engineWith({ 'cgm-1': 'cgm' });
    engine.rebuild([history('cgm-1', 'glucose', [[T0, 65]])], [resolved], T0 + 3 * MIN);
    expect(kinds(engine.onReading(reading('cgm-1', 'glucose', T0 + 5 * MIN, 64), T0 + 5 * MIN))).toEqual([]);
    expect(kinds(engine.onReading(reading('cgm-1', 'glucose', T0 + 10 * MIN, 90), T0 + 10 * MIN))).toEqual([]);
    expect(kinds(engine.onReading(reading('cgm-1', 'glucose', T0 + 15 * MIN, 64), T0 + 15 * MIN))).toEqual([
      'opened glucose.low',
    ]);
  });
});

describe('AlertEngine — re-arming survives a restart (default glucose rules, rearmSec 1 h)', () => {
  /** An engine on the catalog's own glucose rules (re-arming after an hour), not spec §4's. */
  function catalogEngine(): AlertEngine {
    const engine = new AlertEngine({ newId: byCause });
    engine.registerDevice({ deviceId: 'cgm-1', patientId: P, type: 'cgm' });
    return engine;
  }
  const glucose = (engine: AlertEngine, minute: number, value: number): string[] =>
    kinds(engine.onReading(reading('cgm-1', 'glucose', T0 + minute * MIN, value), T0 + minute * MIN));

  it('a low that cleared keeps its rule quiet for an hour after a restart, as it would have live', () => {
    const live = catalogEngine();
    expect(glucose(live, 0, 65)).toEqual(['opened glucose.low']);
    const cleared = live.onReading(reading('cgm-1', 'glucose', T0 + 5 * MIN, 80), T0 + 5 * MIN);
    const resolved = cleared.transitions.find((t) => t.kind === 'resolved')!.alert;
    expect(resolved).toMatchObject({ rule: 'glucose.low', clearedAt: T0 + 5 * MIN, peakValue: 65 });
    // Live, 66 within the hour is not worse than 65: no new alert.
    expect(glucose(live, 10, 66)).toEqual([]);

    const restarted = catalogEngine();
    restarted.rebuild(
      [
        history('cgm-1', 'glucose', [
          [T0, 65],
          [T0 + 5 * MIN, 80],
        ]),
      ],
      [resolved],
      T0 + 7 * MIN,
    );
    expect(glucose(restarted, 10, 66)).toEqual([]);
    // A worse value is a new alert, and so is any low after the hour.
    expect(glucose(restarted, 15, 62)).toContain('opened glucose.low');
    const later = catalogEngine();
    later.rebuild([], [resolved], T0 + 70 * MIN);
    expect(glucose(later, 70, 66)).toEqual(['opened glucose.low']);
  });

  it('a latched urgent low that cleared before the restart and is acknowledged after it re-arms only when worse', () => {
    const live = catalogEngine();
    expect(glucose(live, 0, 50)).toEqual(['opened glucose.urgent_low']);
    const cleared = live.onReading(reading('cgm-1', 'glucose', T0 + 5 * MIN, 80), T0 + 5 * MIN);
    const latched = cleared.transitions.find((t) => t.alert.rule === 'glucose.urgent_low')!.alert;
    expect(latched).toMatchObject({ state: 'open', clearedAt: T0 + 5 * MIN });

    const restarted = catalogEngine();
    restarted.restore([latched]);
    restarted.rebuild([], [], T0 + 6 * MIN);
    const acknowledged = restarted.acknowledge(latched.id, 'doc', T0 + 8 * MIN);
    expect(acknowledged.transitions.map((t) => t.alert.state)).toContain('resolved');
    // 52 is not worse than 50 within the hour after the clear: no second urgent low.
    expect(
      restarted
        .onReading(reading('cgm-1', 'glucose', T0 + 15 * MIN, 52), T0 + 15 * MIN)
        .transitions.filter((t) => t.alert.rule === 'glucose.urgent_low'),
    ).toEqual([]);
    expect(glucose(restarted, 20, 48)).toContain('opened glucose.urgent_low');
  });
});

describe('AlertEngine — reconciling with the row as stored', () => {
  function openHigh(engine: AlertEngine): AlertRecord {
    return engine.onReading(reading('cgm-1', 'glucose', T0, 50), T0).transitions[0].alert;
  }

  it('a clear of an alert a clinician acknowledged meanwhile resolves it (the latching rule, once)', () => {
    const engine = engineWith({ 'cgm-1': 'cgm' });
    const urgent = openHigh(engine);
    const cleared = engine.onReading(reading('cgm-1', 'glucose', T0 + 5 * MIN, 90), T0 + 5 * MIN);
    expect(kinds(cleared)).toEqual(['cleared glucose.urgent_low', 'resolved glucose.low']);
    const acknowledged: AlertRecord = {
      ...urgent,
      state: 'acknowledged',
      acknowledgedAt: T0 + MIN,
      acknowledgedBy: 'doc',
    };
    const out = engine.reconcile(cleared.transitions[0].alert, acknowledged, T0 + 6 * MIN);
    expect(out.transitions.map((t) => `${t.kind} ${t.alert.state}`)).toEqual(['resolved resolved']);
    // clearedAt is the clearing reading's event time; resolvedAt the wall clock of this reconciliation.
    expect(out.transitions[0].alert).toMatchObject({
      acknowledgedBy: 'doc',
      clearedAt: T0 + 5 * MIN,
      resolvedAt: T0 + 6 * MIN,
      resolvedBy: null,
    });
    expect(engine.alert(urgent.id)).toBeUndefined();
  });

  it('an input evaluated again meets its own row: nothing to store, nothing to emit', () => {
    const engine = engineWith({ 'cgm-1': 'cgm' });
    const urgent = openHigh(engine);
    expect(engine.reconcile(urgent, urgent, T0 + 6 * MIN).transitions).toEqual([]);
    expect(engine.alert(urgent.id)).toEqual(urgent);
  });

  it('meeting a resolved row: adopts it; the rule stays quiet while its condition holds', () => {
    const engine = engineWith({ 'cgm-1': 'cgm' });
    const urgent = openHigh(engine);
    const resolved: AlertRecord = { ...urgent, state: 'resolved', resolvedAt: T0 + MIN, resolvedBy: 'doc' };
    expect(engine.reconcile(urgent, resolved, T0 + 6 * MIN).transitions).toEqual([]);
    expect(engine.alert(urgent.id)).toBeUndefined();
    expect(kinds(engine.onReading(reading('cgm-1', 'glucose', T0 + 5 * MIN, 49), T0 + 5 * MIN))).toEqual([
      'updated glucose.low',
    ]);
  });

  it('an opened alert that met another active one of its rule adopts that one', () => {
    const engine = engineWith({ 'cgm-1': 'cgm' });
    const mine = openHigh(engine);
    const stored: AlertRecord = { ...mine, id: 'older', openedAt: T0 - HOUR, clearedAt: T0 - 30 * MIN, peakValue: 52 };
    const out = engine.reconcile(mine, stored, T0 + 6 * MIN);
    expect(out.transitions.map((t) => `${t.kind} ${t.alert.id}`)).toEqual(['updated older']);
    expect(out.transitions[0].alert).toMatchObject({ clearedAt: null, peakValue: 50, lastTriggeredAt: T0 });
    expect(engine.alert('older')).toBeDefined();
    expect(engine.alert(mine.id)).toBeUndefined();
  });

  it('an escalation of an alert acknowledged meanwhile is dropped', () => {
    const engine = engineWith({ 'cgm-1': 'cgm' });
    const urgent = openHigh(engine);
    const escalated = engine.sweep(T0 + 5 * MIN).transitions.find((t) => t.kind === 'escalated')!.alert;
    const acknowledged: AlertRecord = {
      ...urgent,
      state: 'acknowledged',
      acknowledgedAt: T0 + MIN,
      acknowledgedBy: 'doc',
    };
    expect(engine.reconcile(escalated, acknowledged, T0 + 6 * MIN).transitions).toEqual([]);
    expect(engine.alert(urgent.id)).toMatchObject({ state: 'acknowledged', escalationLevel: 0 });
  });
});
