import { beforeEach, describe, expect, it } from '@jest/globals';
import type { Reading } from '@lantern/domain';
import { AlertEngine, AlertNotHeldError, type EngineOutput } from './alert-engine.js';
import { AlertTransitionError, type AlertRecord } from './alert-lifecycle.js';
import { withSpecGlucose } from './spec-glucose-rules.js';

const T0 = Date.UTC(2026, 10, 22, 10, 0, 0);
const SEC = 1000;
const MIN = 60 * SEC;
const HOUR = 60 * MIN;
const P = 'patient-1';
const CGM = 'cgm-1';

let engine: AlertEngine;
let ids: number;

beforeEach(() => {
  ids = 0;
  engine = new AlertEngine({ newId: () => `id-${++ids}` });
  engine.registerDevice({ deviceId: CGM, patientId: P, type: 'cgm' });
  // These tests of the engine's mechanics were written against spec §4's glucose parameters.
  engine.setOverrides(P, withSpecGlucose(), T0);
});

function glucose(offsetMs: number, value: number, receivedDelayMs = 2 * SEC, deviceId = CGM): Reading {
  return {
    deviceId,
    patientId: P,
    metric: 'glucose',
    value,
    time: T0 + offsetMs,
    receivedAt: T0 + offsetMs + receivedDelayMs,
  };
}

/** "kind rule" for each transition, e.g. "opened glucose.low". */
const kinds = (out: EngineOutput): string[] => out.transitions.map((t) => `${t.kind} ${t.alert.rule}`);

/** Feeds CGM readings every 5 min from `startMin`; returns everything decided, in order. */
function feed(
  values: number[],
  startMin = 0,
): { transitions: string[]; notifications: string[]; outputs: EngineOutput[] } {
  const outputs = values.map((v, i) => engine.onReading(glucose((startMin + 5 * i) * MIN, v)));
  return {
    transitions: outputs.flatMap(kinds),
    notifications: outputs.flatMap((o) => o.notifications.map((n) => `${n.kind}: ${n.title}`)),
    outputs,
  };
}

const byRule = (rule: string): AlertRecord | undefined => engine.activeAlerts().find((a) => a.rule === rule);

describe('AlertEngine — hypoglycemia', () => {
  const FALL = [180, 165, 150, 135, 120, 105, 90, 75, 60, 45];

  it('a fall opens falling_fast, urgent_low_soon, low, urgent_low in that order, each with one patient notification', () => {
    const { transitions, notifications, outputs } = feed(FALL);
    expect(transitions.filter((t) => t.startsWith('opened'))).toEqual([
      'opened glucose.falling_fast',
      'opened glucose.urgent_low_soon',
      'opened glucose.low',
      'opened glucose.urgent_low',
    ]);
    // The minute each opened: falling_fast at 10 (third sample, −3/min), urgent_low_soon at 25 (105 − 3×20 < 55), low at 40 (60), urgent_low at 45 (45).
    expect(outputs.map((o) => kinds(o).filter((k) => k.startsWith('opened')))).toEqual([
      [],
      [],
      ['opened glucose.falling_fast'],
      [],
      [],
      ['opened glucose.urgent_low_soon'],
      [],
      [],
      ['opened glucose.low'],
      ['opened glucose.urgent_low'],
    ]);
    expect(notifications).toEqual([
      'alert_opened: Your glucose (blood sugar) is falling quickly',
      'alert_opened: Your glucose (blood sugar) may soon be very low',
      'alert_opened: Your glucose (blood sugar) is low',
      'alert_opened: Your glucose (blood sugar) is very low',
    ]);
    // At 45 the value has crossed: the prediction latches as cleared (high), the threshold rule has taken over.
    expect(kinds(outputs[9])).toEqual([
      'opened glucose.urgent_low',
      'updated glucose.low',
      'updated glucose.falling_fast',
      'cleared glucose.urgent_low_soon',
    ]);
    expect(byRule('glucose.urgent_low')).toMatchObject({
      state: 'open',
      priority: 'high',
      value: 45,
      peakValue: 45,
      openedAt: T0 + 45 * MIN,
      lastTriggeredAt: T0 + 45 * MIN,
      message: 'Glucose 45 mg/dL — below 54 (urgent low)',
      deviceId: CGM,
      metric: 'glucose',
      late: false,
    });
    expect(byRule('glucose.falling_fast')?.message).toBe(
      'Glucose 150 mg/dL, falling 3 mg/dL/min — at least 3 over 15 min (falling fast)',
    );
    expect(byRule('glucose.urgent_low_soon')?.message).toBe(
      'Glucose 105 mg/dL — projected below 55 within 20 min (urgent low soon)',
    );
    expect(engine.activeAlerts()).toHaveLength(4);
  });

  it('recovery resolves low and falling_fast, leaves urgent_low latched until acknowledged', () => {
    feed(FALL);
    const recovery = feed([52, 62, 75, 90], 50);
    expect(recovery.outputs.map(kinds)).toEqual([
      ['resolved glucose.falling_fast'], // slope over 35–50 min: −1.68/min
      ['cleared glucose.urgent_low'], // 62 ≥ 54 + 5: latched
      ['resolved glucose.low'], // 75 ≥ 70 + 5
      [],
    ]);
    expect(recovery.notifications).toEqual([]);
    const urgent = byRule('glucose.urgent_low')!;
    expect(urgent).toMatchObject({ state: 'open', clearedAt: T0 + 55 * MIN, lastTriggeredAt: T0 + 50 * MIN });
    expect(byRule('glucose.urgent_low_soon')).toMatchObject({ state: 'open', clearedAt: T0 + 45 * MIN });
    expect(byRule('glucose.low')).toBeUndefined();
    expect(byRule('glucose.falling_fast')).toBeUndefined();

    const ack = engine.acknowledge(urgent.id, 'clinician-1', T0 + 80 * MIN, 'called patient');
    expect(kinds(ack)).toEqual(['acknowledged glucose.urgent_low', 'resolved glucose.urgent_low']);
    expect(ack.notifications).toEqual([
      expect.objectContaining({
        kind: 'alert_acknowledged',
        severity: 'info',
        title: 'Your care team has seen your alert',
        body: 'Your care team has seen the alert: your glucose (blood sugar) is very low. Please keep following your care plan.',
        alertId: urgent.id,
        patientId: P,
        createdAt: T0 + 80 * MIN,
      }),
    ]);
    expect(byRule('glucose.urgent_low')).toBeUndefined();
    expect(() => engine.acknowledge(urgent.id, 'clinician-1', T0 + 81 * MIN)).toThrow(AlertNotHeldError);
  });

  it('does not re-predict during recovery while the urgent low alert is latched', () => {
    engine.setOverrides(
      P,
      withSpecGlucose([{ ruleKey: 'glucose.urgent_low', enabled: true, params: { hysteresis: 0 } }]),
      T0,
    );
    feed(FALL);
    const ack = engine.acknowledge(byRule('glucose.urgent_low_soon')!.id, 'c', T0 + 46 * MIN);
    expect(kinds(ack)).toEqual(['acknowledged glucose.urgent_low_soon', 'resolved glucose.urgent_low_soon']);
    // 55 after 75, 60, 45: urgent_low clears (latched); the slope is −1.5/min and 55 − 30 < 55, but urgent_low has taken over.
    const { transitions } = feed([55], 50);
    expect(transitions).toEqual(['cleared glucose.urgent_low', 'resolved glucose.falling_fast']);
  });
});

describe('AlertEngine — per-device ordering and lateness', () => {
  it('an out-of-order or repeated reading does not move live state', () => {
    engine.onReading(glucose(10 * MIN, 100));
    expect(kinds(engine.onReading(glucose(5 * MIN, 40)))).toEqual([]);
    expect(kinds(engine.onReading(glucose(10 * MIN, 40)))).toEqual([]);
    expect(engine.activeAlerts()).toEqual([]);
    expect(kinds(engine.onReading(glucose(15 * MIN, 40)))).toEqual(['opened glucose.urgent_low', 'opened glucose.low']);
  });

  it('orders per device: another device’s older reading is still evaluated', () => {
    engine.registerDevice({ deviceId: 'cgm-2', patientId: P, type: 'cgm' });
    engine.onReading(glucose(10 * MIN, 100));
    expect(kinds(engine.onReading(glucose(5 * MIN, 65, 2 * SEC, 'cgm-2')))).toEqual(['opened glucose.low']);
    expect(byRule('glucose.low')?.deviceId).toBe('cgm-2');
  });

  it('flags an alert late when its reading is more than 15 min old at evaluation', () => {
    const onTime = engine.onReading(glucose(0, 65, 15 * MIN));
    expect(onTime.transitions[0].alert.late).toBe(false);
    const late = engine.onReading(glucose(5 * MIN, 50, 15 * MIN + 1));
    expect(late.transitions.find((t) => t.alert.rule === 'glucose.urgent_low')!.alert).toMatchObject({
      late: true,
      openedAt: T0 + 5 * MIN,
      raisedAt: T0 + 20 * MIN + 1,
    });
  });

  it('evaluates a store-and-forward backlog in event time: open then auto-resolve', () => {
    const backlog = [65, 66, 80].map((v, i) => engine.onReading(glucose(i * 5 * MIN, v, 2 * 3600 * SEC)));
    expect(backlog.flatMap(kinds)).toEqual(['opened glucose.low', 'resolved glucose.low']);
    expect(backlog[0].transitions[0].alert.late).toBe(true);
    // Event-time fields on the readings' clock, resolvedAt on Lantern's (the wall clock, 2 h later here).
    expect(backlog[2].transitions[0].alert).toMatchObject({
      state: 'resolved',
      openedAt: T0,
      clearedAt: T0 + 10 * MIN,
      resolvedAt: T0 + 10 * MIN + 2 * HOUR,
    });
  });

  it('a back-filled clear never resolves an alert before it was acknowledged (one clock per field)', () => {
    // Urgent low at 10:00, raised on time; a clinician acknowledges at 10:03; the device then goes
    // silent and uploads its backlog two days later, whose first reading (10:05 event time) clears it.
    const opened = engine.onReading(glucose(0, 50));
    const id = opened.transitions.find((t) => t.alert.rule === 'glucose.urgent_low')!.alert.id;
    engine.acknowledge(id, 'doc', T0 + 3 * MIN);
    const later = T0 + 48 * HOUR;
    const out = engine.onReading({ ...glucose(5 * MIN, 90), receivedAt: later }, later);
    const resolved = out.transitions.find((t) => t.alert.id === id)!.alert;
    expect(resolved).toMatchObject({ state: 'resolved', clearedAt: T0 + 5 * MIN, acknowledgedAt: T0 + 3 * MIN });
    expect(resolved.resolvedAt).toBe(later);
    expect(resolved.resolvedAt!).toBeGreaterThanOrEqual(resolved.acknowledgedAt!);
  });
});

describe('AlertEngine — delays, hysteresis and other metrics', () => {
  function hr(offsetMs: number, value: number): Reading {
    return {
      deviceId: 'ox-1',
      patientId: P,
      metric: 'heart_rate',
      value,
      time: T0 + offsetMs,
      receivedAt: T0 + offsetMs,
    };
  }

  it('heart_rate.low fires only after 30 s below 40 in event time, once', () => {
    engine.registerDevice({ deviceId: 'ox-1', patientId: P, type: 'pulse_oximeter' });
    const out = Array.from({ length: 40 }, (_, s) => engine.onReading(hr(s * SEC, 38)));
    expect(out.findIndex((o) => o.transitions.length > 0)).toBe(30);
    expect(out.flatMap(kinds)).toEqual(['opened heart_rate.low']);
    expect(byRule('heart_rate.low')?.message).toBe('Heart rate 38 bpm — below 40 for 30 s (low)');
    // Inside the band (40..44) it holds; at 45 it clears — high latches.
    expect(kinds(engine.onReading(hr(41 * SEC, 44)))).toEqual([]);
    expect(kinds(engine.onReading(hr(42 * SEC, 45)))).toEqual(['cleared heart_rate.low']);
  });

  it('body weight: +2 kg within 72 h opens the heart-failure trend alert', () => {
    const DAY = 24 * 3600 * SEC;
    const w = (day: number, kg: number): Reading => ({
      deviceId: 'scale-1',
      patientId: P,
      metric: 'body_weight',
      value: kg,
      time: T0 + day * DAY,
      receivedAt: T0 + day * DAY,
    });
    engine.registerDevice({ deviceId: 'scale-1', patientId: P, type: 'weight_scale' });
    expect([80.4, 81, 81.9].flatMap((kg, d) => kinds(engine.onReading(w(d, kg))))).toEqual([]);
    const out = engine.onReading(w(3, 82.5));
    expect(kinds(out)).toEqual(['opened body_weight.gain_3d']);
    expect(out.transitions[0].alert.message).toBe(
      'Weight 82.5 kg — up 2.1 kg within 72 h, limit 2 kg (gain over 3 days)',
    );
    expect(out.notifications[0]).toMatchObject({
      kind: 'alert_opened',
      severity: 'warning',
      title: 'Your weight has gone up',
      body: 'It went up by 2.1 kilograms within 3 days, to 82.5 kilograms. Your care team has been told. Please follow your care plan.',
    });
  });

  it('glucose.high needs 30 min above 250 in event time', () => {
    const out = feed([260, 270, 280, 290, 300, 300, 255]);
    expect(out.outputs.map(kinds)).toEqual([[], [], [], [], [], [], ['opened glucose.high']]);
  });
});

describe('AlertEngine — per-patient overrides', () => {
  it('a changed threshold applies to the next reading', () => {
    expect(kinds(engine.onReading(glucose(0, 75)))).toEqual([]);
    engine.setOverrides(
      P,
      withSpecGlucose([{ ruleKey: 'glucose.low', enabled: true, params: { threshold: 80 } }]),
      T0 + MIN,
    );
    const out = engine.onReading(glucose(5 * MIN, 76));
    expect(kinds(out)).toEqual(['opened glucose.low']);
    expect(out.transitions[0].alert.message).toBe('Glucose 76 mg/dL — below 80 (low)');
    expect(engine.rulesOf(P).find((r) => r.key === 'glucose.low')).toMatchObject({
      source: 'patient',
      params: { threshold: 80 },
    });
    // Other patients keep the defaults.
    expect(engine.rulesOf('other').find((r) => r.key === 'glucose.low')?.params).toMatchObject({ threshold: 70 });
  });

  it('a disabled rule never fires, and disabling resolves its active alert', () => {
    engine.onReading(glucose(0, 65));
    const off = engine.setOverrides(
      P,
      withSpecGlucose([{ ruleKey: 'glucose.low', enabled: false, params: {} }]),
      T0 + MIN,
    );
    expect(kinds(off)).toEqual(['resolved glucose.low']);
    expect(off.transitions[0].alert).toMatchObject({
      resolvedBy: null,
      resolveNote: 'rule disabled',
      resolvedAt: T0 + MIN,
    });
    expect(kinds(engine.onReading(glucose(5 * MIN, 60)))).toEqual([]);
    // Reverting to the default (no overrides) re-arms it.
    engine.setOverrides(P, withSpecGlucose([]), T0 + 6 * MIN);
    expect(kinds(engine.onReading(glucose(10 * MIN, 66)))).toEqual(['opened glucose.low']);
  });
});

describe('AlertEngine — manual transitions, restore, external changes', () => {
  it('a hand-resolved alert does not reopen while its condition holds, but does after it cleared', () => {
    const id = engine.onReading(glucose(0, 65)).transitions[0].alert.id;
    expect(kinds(engine.resolve(id, 'c1', T0 + MIN, 'known'))).toEqual(['resolved glucose.low']);
    expect(() => engine.resolve(id, 'c1', T0 + MIN)).toThrow(AlertNotHeldError);
    expect(kinds(engine.onReading(glucose(5 * MIN, 62)))).toEqual([]);
    expect(kinds(engine.onReading(glucose(10 * MIN, 80)))).toEqual([]);
    expect(kinds(engine.onReading(glucose(15 * MIN, 66)))).toEqual(['opened glucose.low']);
  });

  it('acknowledging twice is an illegal transition', () => {
    const id = engine.onReading(glucose(0, 50)).transitions[0].alert.id;
    expect(kinds(engine.acknowledge(id, 'c1', T0 + MIN))).toEqual(['acknowledged glucose.urgent_low']);
    expect(() => engine.acknowledge(id, 'c1', T0 + 2 * MIN)).toThrow(AlertTransitionError);
    // Acknowledged and uncleared: resolves when it clears.
    expect(kinds(engine.onReading(glucose(5 * MIN, 59)))).toEqual(['resolved glucose.urgent_low']);
  });

  it('after a restart, restored alerts are neither re-opened nor forgotten', () => {
    const opened = engine.onReading(glucose(0, 50)).transitions.map((t) => t.alert);
    const restarted = new AlertEngine({ newId: () => 'new' });
    restarted.registerDevice({ deviceId: CGM, patientId: P, type: 'cgm' });
    restarted.setOverrides(P, withSpecGlucose(), T0);
    restarted.restore(opened);
    expect(kinds(restarted.onReading(glucose(5 * MIN, 52)))).toEqual([]);
    expect(kinds(restarted.onReading(glucose(10 * MIN, 48)))).toEqual([
      'updated glucose.urgent_low',
      'updated glucose.low',
    ]);
    expect(kinds(restarted.onReading(glucose(15 * MIN, 80)))).toEqual([
      'cleared glucose.urgent_low',
      'resolved glucose.low',
    ]);
  });

  it('never changes a record it handed out: the engine updates only its own copy while a condition holds', () => {
    const opened = engine.onReading(glucose(0, 50)).transitions.find((t) => t.alert.rule === 'glucose.urgent_low')!;
    const updated = engine
      .onReading(glucose(5 * MIN, 45))
      .transitions.find((t) => t.alert.rule === 'glucose.urgent_low')!;
    expect(updated.kind).toBe('updated');
    const handedOut = [structuredClone(opened.alert), structuredClone(updated.alert)];
    // Still below, not worse: no transition, but the engine's copy moves lastTriggeredAt on.
    expect(kinds(engine.onReading(glucose(10 * MIN, 48)))).toEqual([]);
    expect(byRule('glucose.urgent_low')).toMatchObject({ lastTriggeredAt: T0 + 10 * MIN, peakValue: 45 });
    // Worse again: a new snapshot, while the earlier ones stay as they were handed out.
    const worse = engine
      .onReading(glucose(15 * MIN, 40))
      .transitions.find((t) => t.alert.rule === 'glucose.urgent_low')!;
    expect(worse.alert).toMatchObject({ lastTriggeredAt: T0 + 15 * MIN, peakValue: 40 });
    expect([opened.alert, updated.alert]).toEqual(handedOut);
    expect(updated.alert).toMatchObject({ lastTriggeredAt: T0 + 5 * MIN, peakValue: 45 });
  });

  it('adopts an acknowledgement or resolution made by the api', () => {
    const alert = engine.onReading(glucose(0, 65)).transitions[0].alert;
    engine.applyExternal({ ...alert, state: 'acknowledged', acknowledgedAt: T0 + MIN, acknowledgedBy: 'c1' });
    expect(engine.alert(alert.id)?.state).toBe('acknowledged');
    expect(engine.sweep(T0 + 16 * MIN).transitions).toEqual([]);
    engine.applyExternal({ ...alert, state: 'resolved', resolvedAt: T0 + 2 * MIN, resolvedBy: 'c1' });
    expect(engine.alert(alert.id)).toBeUndefined();
    expect(kinds(engine.onReading(glucose(5 * MIN, 60)))).toEqual([]);
  });
});

describe('AlertEngine — escalation', () => {
  it('re-emits an open high alert every 5 min with a higher level, medium every 15, stops when acknowledged', () => {
    engine.onReading(glucose(0, 50, 0)); // urgent_low (high) and low (medium), raised at T0
    const steps = [4, 5, 9, 10, 15, 20].map((m) => [m, kinds(engine.sweep(T0 + m * MIN))] as const);
    expect(steps).toEqual([
      [4, []],
      [5, ['escalated glucose.urgent_low']],
      [9, []],
      [10, ['escalated glucose.urgent_low']],
      [15, ['escalated glucose.urgent_low', 'escalated glucose.low']],
      [20, ['opened device.signal_loss', 'escalated glucose.urgent_low']],
    ]);
    const urgent = byRule('glucose.urgent_low')!;
    expect(urgent).toMatchObject({ escalationLevel: 4, escalatedAt: T0 + 20 * MIN });
    engine.acknowledge(urgent.id, 'c1', T0 + 21 * MIN);
    expect(kinds(engine.sweep(T0 + 30 * MIN))).toEqual(['escalated glucose.low']);
  });

  it('never escalates low-priority alerts', () => {
    engine.sweep(T0);
    engine.onReading(glucose(0, 100, 0));
    const lost = engine.sweep(T0 + 20 * MIN);
    expect(kinds(lost)).toEqual(['opened device.signal_loss']);
    expect(kinds(engine.sweep(T0 + 600 * MIN))).toEqual([]);
  });
});

describe('AlertEngine — devices: signal loss and battery', () => {
  it('signal loss fires after the device type’s afterSec of wall clock, clears when data arrives, and tells the patient both', () => {
    engine.onReading(glucose(0, 100, 0));
    expect(kinds(engine.sweep(T0 + 20 * MIN - 1))).toEqual([]);
    const lost = engine.sweep(T0 + 20 * MIN);
    expect(kinds(lost)).toEqual(['opened device.signal_loss']);
    expect(lost.transitions[0].alert).toMatchObject({
      deviceId: CGM,
      metric: null,
      priority: 'low',
      message: 'Continuous glucose monitor — no data for 20 min (signal loss)',
    });
    expect(lost.notifications).toEqual([
      expect.objectContaining({
        kind: 'signal_lost',
        severity: 'info',
        title: 'We are not receiving data from your glucose sensor',
        deviceId: CGM,
        alertId: lost.transitions[0].alert.id,
      }),
    ]);
    expect(kinds(engine.sweep(T0 + 40 * MIN))).toEqual([]);
    // An old reading uploaded late still shows the device is alive.
    const back = engine.onReading(glucose(-10 * MIN, 100, 55 * MIN));
    expect(kinds(back)).toEqual(['resolved device.signal_loss']);
    expect(back.notifications.map((n) => [n.kind, n.title])).toEqual([
      ['signal_restored', 'Your glucose sensor is sending data again'],
    ]);
  });

  it('uses a per-patient afterSec override, and ignores devices never heard from', () => {
    engine.registerDevice({ deviceId: 'scale-1', patientId: P, type: 'weight_scale' });
    engine.setOverrides(
      P,
      withSpecGlucose([{ ruleKey: 'device.signal_loss', enabled: true, params: { afterSec: 600 } }]),
      T0,
    );
    engine.onReading(glucose(0, 100, 0));
    expect(engine.sweep(T0 + 10 * MIN).transitions.map((t) => t.alert.deviceId)).toEqual([CGM]);
  });

  it('a last will (online: false) is not a sign of life; other statuses are', () => {
    engine.onStatus({ deviceId: CGM, patientId: P, time: T0, online: true }, T0);
    engine.onStatus({ deviceId: CGM, patientId: P, time: T0 + MIN, online: false }, T0 + MIN);
    expect(kinds(engine.sweep(T0 + 20 * MIN))).toEqual(['opened device.signal_loss']);
  });

  it('battery low and critical from status messages: "Please charge your…", peak, auto-resolve', () => {
    const low = engine.onStatus({ deviceId: CGM, patientId: P, time: T0, battery: 14 }, T0);
    expect(kinds(low)).toEqual(['opened device.battery_low']);
    expect(low.transitions[0].alert.message).toBe(
      'Continuous glucose monitor battery 14% — at or below 15% (battery low)',
    );
    expect(low.notifications[0]).toMatchObject({
      kind: 'battery_low',
      title: 'Please charge your glucose sensor',
      body: 'The battery of your glucose sensor is at 14 percent. Please charge it, or change its battery, soon so that your readings keep reaching your care team.',
    });
    expect(kinds(engine.onStatus({ deviceId: CGM, patientId: P, time: T0 + MIN, battery: 14 }, T0 + MIN))).toEqual([]);
    expect(
      kinds(engine.onStatus({ deviceId: CGM, patientId: P, time: T0 + 2 * MIN, battery: 5 }, T0 + 2 * MIN)),
    ).toEqual(['updated device.battery_low', 'opened device.battery_critical']);
    // An older status does not move state.
    expect(kinds(engine.onStatus({ deviceId: CGM, patientId: P, time: T0 + MIN, battery: 90 }, T0 + 3 * MIN))).toEqual(
      [],
    );
    expect(
      kinds(engine.onStatus({ deviceId: CGM, patientId: P, time: T0 + 4 * MIN, battery: 90 }, T0 + 4 * MIN)),
    ).toEqual(['resolved device.battery_low', 'resolved device.battery_critical']);
  });

  it('an implant’s low battery is not something to charge', () => {
    engine.registerDevice({ deviceId: 'icd-1', patientId: P, type: 'cardiac_implant' });
    const out = engine.onStatus({ deviceId: 'icd-1', patientId: P, time: T0, battery: 12 }, T0);
    expect(out.notifications[0].title).toBe('The battery of your heart implant is getting low');
    expect(out.notifications[0].body).not.toMatch(/charge/i);
  });
});

describe('AlertEngine — devices in step with the registry (syncDevices)', () => {
  const P2 = 'patient-2';
  const cgmAs = (patientId: string, decommissioned = false) => ({
    deviceId: CGM,
    patientId,
    type: 'cgm' as const,
    decommissioned,
  });

  /** CGM heard at T0 with a low, then battery low, then silent: three active alerts at T0 + 20 min. */
  function silentCgmWithAlerts(): void {
    expect(kinds(engine.onReading(glucose(0, 60, 0)))).toEqual(['opened glucose.low']);
    engine.onStatus({ deviceId: CGM, patientId: P, time: T0, battery: 14, online: true }, T0);
    expect(kinds(engine.sweep(T0 + 20 * MIN))).toEqual(['opened device.signal_loss', 'escalated glucose.low']);
  }

  it('decommissioned: resolves the device’s signal-loss and battery alerts by the system, forgets the device, keeps the patient’s metric alerts', () => {
    silentCgmWithAlerts();
    const out = engine.syncDevices([cgmAs(P, true)], T0 + 21 * MIN);
    expect(kinds(out)).toEqual(['resolved device.battery_low', 'resolved device.signal_loss']);
    for (const t of out.transitions) {
      expect(t.alert).toMatchObject({
        patientId: P,
        deviceId: CGM,
        state: 'resolved',
        resolvedAt: T0 + 21 * MIN,
        resolvedBy: null,
        resolveNote: 'device decommissioned',
      });
    }
    expect(out.notifications).toEqual([]);
    expect(engine.holdsDevice(CGM)).toBe(false);
    expect(engine.activeAlerts().map((a) => a.rule)).toEqual(['glucose.low']);
    // No new signal loss, ever; only the patient's own alert goes on escalating.
    expect(kinds(engine.sweep(T0 + 600 * MIN))).toEqual(['escalated glucose.low']);
    expect(kinds(engine.syncDevices([cgmAs(P, true)], T0 + 601 * MIN))).toEqual([]);
  });

  it('decommissioned before it fell silent: no signal-loss alert later', () => {
    engine.onReading(glucose(0, 100, 0));
    expect(kinds(engine.syncDevices([cgmAs(P, true)], T0 + MIN))).toEqual([]);
    expect(kinds(engine.sweep(T0 + 60 * MIN))).toEqual([]);
  });

  it('resolves a restored signal-loss alert of a device decommissioned while the ingest was down', () => {
    silentCgmWithAlerts();
    const stored = engine.activeAlerts();
    const restarted = new AlertEngine({ newId: () => `r-${++ids}` });
    restarted.setOverrides(P, withSpecGlucose(), T0);
    restarted.restore(stored);
    const out = restarted.syncDevices([cgmAs(P, true)], T0 + 30 * MIN);
    expect(kinds(out)).toEqual(['resolved device.battery_low', 'resolved device.signal_loss']);
    expect(restarted.holdsDevice(CGM)).toBe(false);
  });

  it('reassigned: the old patient’s device alerts resolve ("device reassigned"); the device starts afresh for the new patient', () => {
    silentCgmWithAlerts();
    const out = engine.syncDevices([cgmAs(P2)], T0 + 21 * MIN);
    expect(kinds(out)).toEqual(['resolved device.battery_low', 'resolved device.signal_loss']);
    expect(out.transitions.map((t) => [t.alert.patientId, t.alert.resolveNote])).toEqual([
      [P, 'device reassigned'],
      [P, 'device reassigned'],
    ]);
    expect(engine.activeAlerts().map((a) => `${a.patientId} ${a.rule}`)).toEqual([`${P} glucose.low`]);
    // Still silent since T0 (when it was last heard is the device's): the new patient's signal loss opens.
    const lost = engine.sweep(T0 + 22 * MIN);
    expect(lost.transitions.filter((t) => t.alert.rule === 'device.signal_loss').map((t) => t.alert.patientId)).toEqual(
      [P2],
    );
    expect(lost.notifications.map((n) => [n.patientId, n.kind])).toEqual([[P2, 'signal_lost']]);
    // Its readings are the new patient's, evaluated on fresh windows, and end the new patient's signal loss.
    const back = engine.onReading({ ...glucose(23 * MIN, 100, 0), patientId: P2 });
    expect(back.transitions.map((t) => `${t.kind} ${t.alert.rule} ${t.alert.patientId}`)).toEqual([
      `resolved device.signal_loss ${P2}`,
    ]);
    expect(back.notifications.map((n) => [n.patientId, n.kind])).toEqual([[P2, 'signal_restored']]);
    expect(kinds(engine.syncDevices([cgmAs(P2)], T0 + 24 * MIN))).toEqual([]);
  });

  it('counts active alerts by priority and state (for /metrics)', () => {
    silentCgmWithAlerts();
    expect(engine.activeAlertCounts()).toEqual({
      high: { open: 0, acknowledged: 0 },
      medium: { open: 1, acknowledged: 0 },
      low: { open: 2, acknowledged: 0 },
    });
    engine.acknowledge(byRule('glucose.low')!.id, 'clinician-1', T0 + 21 * MIN);
    engine.syncDevices([cgmAs(P, true)], T0 + 22 * MIN);
    expect(engine.activeAlertCounts()).toEqual({
      high: { open: 0, acknowledged: 0 },
      medium: { open: 0, acknowledged: 1 },
      low: { open: 0, acknowledged: 0 },
    });
  });

  it('unchanged, unknown or unlisted devices: nothing happens', () => {
    engine.onReading(glucose(0, 100, 0));
    engine.sweep(T0 + 20 * MIN);
    expect(kinds(engine.syncDevices([cgmAs(P), { ...cgmAs('x', true), deviceId: 'other' }], T0 + 21 * MIN))).toEqual(
      [],
    );
    expect(kinds(engine.syncDevices([], T0 + 21 * MIN))).toEqual([]);
    expect(engine.holdsDevice(CGM)).toBe(true);
    expect(engine.activeAlerts().map((a) => a.rule)).toEqual(['device.signal_loss']);
  });
});

describe('AlertEngine — the default glucose rules since issue 19 (docs/alert-quality.md)', () => {
  beforeEach(() => {
    engine.setOverrides(P, [], T0);
  });
  const FALL = [180, 165, 150, 135, 120, 105, 90, 75, 60, 45];

  it('a fall: falling fast, then the prediction (medium, not latching), then urgent low; low is covered by them', () => {
    const { transitions } = feed(FALL);
    expect(transitions.filter((t) => t.startsWith('opened'))).toEqual([
      'opened glucose.falling_fast',
      'opened glucose.urgent_low_soon',
      'opened glucose.urgent_low',
    ]);
    expect(byRule('glucose.urgent_low')?.priority).toBe('high');
    // Crossed 55: the prediction resolves by itself (medium), it does not wait for a clinician.
    expect(transitions).toContain('resolved glucose.urgent_low_soon');
    // Recovery: low stays covered by the urgent low, latched (cleared at 62, past 54 + 5) until acknowledged.
    const recovery = feed([52, 62, 68, 90], 50);
    expect(recovery.transitions.filter((t) => t.startsWith('opened'))).toEqual([]);
    expect(byRule('glucose.urgent_low')).toMatchObject({ state: 'open', clearedAt: T0 + 55 * MIN });
  });

  it('a low that starts above the prediction and the urgent level still raises glucose.low', () => {
    // A slow drift (−0.4 mg/dL/min): no prediction of an urgent low.
    const { transitions } = feed([75, 73, 71, 69, 68, 68]);
    expect(transitions.filter((t) => t.startsWith('opened'))).toEqual(['opened glucose.low']);
  });

  it('re-arms only when worse within an hour after an acknowledged urgent low resolved', () => {
    const first = feed([50, 48]);
    const id = first.outputs[0].transitions.find((t) => t.alert.rule === 'glucose.urgent_low')!.alert.id;
    engine.acknowledge(id, 'doc', T0 + 6 * MIN);
    expect(kinds(engine.onReading(glucose(10 * MIN, 80)))).toContain('resolved glucose.urgent_low');
    // 20 min later at 50 (not below the ended alert's 48): no new urgent low; at 46, worse: a new one.
    expect(kinds(engine.onReading(glucose(30 * MIN, 50)))).not.toContain('opened glucose.urgent_low');
    expect(kinds(engine.onReading(glucose(35 * MIN, 46)))).toContain('opened glucose.urgent_low');
  });

  it('re-arms at once more than an hour after the clear', () => {
    const first = feed([50]);
    const id = first.outputs[0].transitions.find((t) => t.alert.rule === 'glucose.urgent_low')!.alert.id;
    engine.acknowledge(id, 'doc', T0 + MIN);
    engine.onReading(glucose(5 * MIN, 80));
    expect(kinds(engine.onReading(glucose(66 * MIN, 52)))).toContain('opened glucose.urgent_low');
  });

  it('the prediction is held until its projection is back above 65: one alert through a wobbling descent', () => {
    // 100, 90, 80 project to 40; 84 to 60.8 and 76 to 60.8 (below 65: held).
    const held = feed([100, 90, 80, 84, 76]);
    // The same alert, its peak moved to 76.
    expect(held.transitions.filter((t) => t.includes('urgent_low_soon'))).toEqual([
      'opened glucose.urgent_low_soon',
      'updated glucose.urgent_low_soon',
    ]);
    // Spec §4 (no hold; high, so it latches): 60.8 ≥ 55 clears it at 84.
    const spec = new AlertEngine({ newId: (cause) => cause });
    spec.registerDevice({ deviceId: CGM, patientId: P, type: 'cgm' });
    spec.setOverrides(P, withSpecGlucose(), T0);
    const specKinds = [100, 90, 80, 84, 76].flatMap((v, i) => kinds(spec.onReading(glucose(5 * i * MIN, v))));
    expect(specKinds.filter((t) => t.includes('urgent_low_soon'))).toEqual([
      'opened glucose.urgent_low_soon',
      'cleared glucose.urgent_low_soon',
    ]);
  });
});

describe('AlertEngine — a threshold rule that waits while recovering keeps its own trend window', () => {
  it('systolic_bp.low with notWhileRecovering: no alert while the pressure climbs back, one once it stalls low', () => {
    const bp = new AlertEngine({ newId: (cause) => cause });
    bp.registerDevice({ deviceId: 'bp-1', patientId: P, type: 'bp_monitor' });
    const rule = { ruleKey: 'systolic_bp.low', enabled: true, params: { confirmReadings: 3, notWhileRecovering: 1 } };
    bp.setOverrides(P, [rule], T0);
    // No other systolic_bp rule keeps a window: this one asks for 15 min of history.
    expect(bp.historyNeeded()).toContainEqual({
      deviceId: 'bp-1',
      patientId: P,
      metric: 'systolic_bp',
      spanMs: 15 * MIN,
    });
    const at = (minute: number, value: number): string[] =>
      kinds(
        bp.onReading(
          {
            deviceId: 'bp-1',
            patientId: P,
            metric: 'systolic_bp',
            value,
            time: T0 + minute * MIN,
            receivedAt: T0 + minute * MIN,
          },
          T0 + minute * MIN,
        ),
      );
    // 80, 83, 86 a minute apart: confirmed on the third, but rising 3/min: no alert.
    expect([at(0, 80), at(1, 83), at(2, 86)].flat()).toEqual([]);
    // Stalled at 86: the trend over the last 15 min falls below 1/min on the 7th reading (0.93/min).
    expect([at(3, 86), at(4, 86), at(5, 86)].flat()).toEqual([]);
    expect(at(6, 86)).toEqual(['opened systolic_bp.low']);
  });
});
