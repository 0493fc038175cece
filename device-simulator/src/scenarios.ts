import type { DeviceTypeKey } from '@lantern/domain';
import { badDeviceSteps } from './bad-device.scenario.js';
import { iso, type PlanStep, type TelemetryReading } from './plan.js';
import { Prng } from './prng.js';

export interface ScenarioOptions {
  seed?: number | string;
  /** Event time of `atMs = 0`, epoch ms. */
  t0: number;
}

/** A named, deterministic device timeline that drives one or more default rules (spec/alerting.md §4). */
export interface Scenario {
  readonly name: string;
  readonly deviceType: DeviceTypeKey;
  readonly description: string;
  /** Rule keys the scenario is designed to trip, in the order it trips them. */
  readonly targets: readonly string[];
  /** Needs wall-clock time to pass (signal loss is measured on the wall clock, not event time). */
  readonly wallClock?: boolean;
  build(options: ScenarioOptions): PlanStep[];
}

const SECOND = 1000;
const MINUTE = 60_000;
const HOUR = 3_600_000;

/** Linear interpolation between keyframes `[atSec, value]`, held after the last one. */
function keyframes(frames: readonly (readonly [number, number])[], at: number): number {
  if (at <= frames[0][0]) return frames[0][1];
  for (let i = 1; i < frames.length; i++) {
    const [t1, v1] = frames[i];
    const [t0, v0] = frames[i - 1];
    if (at <= t1) return v0 + ((v1 - v0) * (at - t0)) / (t1 - t0);
  }
  return frames[frames.length - 1][1];
}

const round = (v: number, decimals = 0): number => Math.round(v * 10 ** decimals) / 10 ** decimals;

function telemetry(atMs: number, t0: number, seq: number, readings: TelemetryReading[], note?: string): PlanStep {
  return { kind: 'telemetry', atMs, payload: { seq, ts: iso(t0 + atMs), readings }, qos: 1, note };
}

function online(atMs: number, t0: number, battery: number): PlanStep {
  return { kind: 'status', atMs, payload: { ts: iso(t0 + atMs), online: true, battery, firmware: '2.3.1', rssi: -62 } };
}

/**
 * CGM every 5 min: stable near 118, then a fall of ~3.6 mg/dL/min — falling_fast and
 * urgent_low_soon trip first, then low (< 70) and urgent_low (< 54) — a nadir of 47, and recovery
 * past both hysteresis bands (59 and 75) back to ~115.
 */
const hypoglycemia: Scenario = {
  name: 'hypoglycemia',
  deviceType: 'cgm',
  description: 'Glucose falls fast from 118 to 47 mg/dL, then recovers (CGM, every 5 min, 100 min).',
  targets: ['glucose.falling_fast', 'glucose.urgent_low_soon', 'glucose.low', 'glucose.urgent_low'],
  build({ seed = 1, t0 }) {
    const prng = new Prng(seed).fork('hypoglycemia');
    const curve = [118, 117, 119, 118, 116, 120, 102, 84, 67, 56, 50, 47, 52, 62, 78, 90, 100, 108, 112, 115, 116];
    const steps: PlanStep[] = [online(0, t0, 80)];
    curve.forEach((value, i) => {
      // ±1 mg/dL of sensor noise on the plateaus only, so the designed crossings hold for every seed.
      const noisy = i < 5 || i > 17 ? value + prng.int(-1, 1) : value;
      steps.push(telemetry(i * 5 * MINUTE, t0, i + 1, [{ metric: 'glucose', value: noisy, unit: 'mg/dL' }]));
    });
    return steps;
  },
};

/** Pulse oximeter every second with two readings per message. */
function oximeterSeries(
  t0: number,
  seconds: number,
  seed: number | string,
  label: string,
  heartRate: (s: number) => number,
  spo2: (s: number) => number,
): PlanStep[] {
  const prng = new Prng(seed).fork(label);
  const steps: PlanStep[] = [online(0, t0, 90)];
  for (let s = 0; s < seconds; s++) {
    steps.push(
      telemetry(s * SECOND, t0, s + 1, [
        { metric: 'spo2', value: round(spo2(s) + prng.between(-0.4, 0.4)) },
        { metric: 'heart_rate', value: round(heartRate(s) + prng.between(-2, 2)) },
      ]),
    );
  }
  return steps;
}

/** Heart rate 75 → 150 bpm for two minutes (heart_rate.high: above 130 for 60 s), then back to 80. */
const tachycardia: Scenario = {
  name: 'tachycardia',
  deviceType: 'pulse_oximeter',
  description: 'Heart rate climbs from 75 to 150 bpm, holds 2 min, returns to 80 (pulse oximeter, 1 Hz, ~5 min).',
  targets: ['heart_rate.high'],
  build({ seed = 1, t0 }) {
    const hr = (s: number) =>
      keyframes(
        [
          [0, 75],
          [60, 75],
          [80, 150],
          [200, 150],
          [230, 80],
        ],
        s,
      );
    return oximeterSeries(t0, 290, seed, 'tachycardia', hr, () => 97);
  },
};

/** SpO2 97 → 88 % for 70 s (spo2.low: below 90 for 60 s) → 82 % for 35 s (spo2.critical: below 85 for 15 s) → 96 %. */
const desaturation: Scenario = {
  name: 'desaturation',
  deviceType: 'pulse_oximeter',
  description: 'SpO2 drops to 88 % for 70 s, then 82 % for 35 s, then recovers to 96 % (pulse oximeter, 1 Hz, ~4 min).',
  targets: ['spo2.low', 'spo2.critical'],
  build({ seed = 1, t0 }) {
    const spo2 = (s: number) =>
      keyframes(
        [
          [0, 97],
          [30, 97],
          [40, 88],
          [110, 88],
          [115, 82],
          [150, 82],
          [165, 96],
        ],
        s,
      );
    const hr = (s: number) =>
      keyframes(
        [
          [0, 78],
          [30, 78],
          [40, 96],
          [150, 104],
          [170, 82],
        ],
        s,
      );
    return oximeterSeries(t0, 225, seed, 'desaturation', hr, spo2);
  },
};

/** Repeated cuff measurements: systolic 194–198 (systolic_bp.high: above 180), then treated down to 148. */
const hypertensiveCrisis: Scenario = {
  name: 'hypertensive-crisis',
  deviceType: 'bp_monitor',
  description:
    'Blood pressure 146/92 → 198/124 mmHg over repeated measurements, then treated down to 148/94 (every 5–10 min, 50 min).',
  targets: ['systolic_bp.high'],
  build({ t0 }) {
    const series: [number, number, number, number][] = [
      // [minute, systolic, diastolic, pulse]
      [0, 146, 92, 84],
      [5, 158, 96, 88],
      [10, 194, 121, 96],
      [15, 198, 124, 98],
      [20, 186, 118, 94],
      [30, 172, 108, 90],
      [40, 160, 100, 86],
      [50, 148, 94, 82],
    ];
    const steps: PlanStep[] = [online(0, t0, 70)];
    series.forEach(([minute, sys, dia, pulse], i) => {
      steps.push(
        telemetry(minute * MINUTE, t0, i + 1, [
          { metric: 'systolic_bp', value: sys, unit: 'mmHg' },
          { metric: 'diastolic_bp', value: dia, unit: 'mmHg' },
          { metric: 'heart_rate', value: pulse },
        ]),
      );
    });
    return steps;
  },
};

/** Patch every minute: temperature 36.9 → 39.1 °C (body_temperature.fever: above 38.3), held 20 min, back to 37.1. */
const fever: Scenario = {
  name: 'fever',
  deviceType: 'wearable_patch',
  description:
    'Temperature rises from 36.9 to 39.1 °C, holds 20 min, falls back to 37.1 °C (wearable patch, every minute, 100 min).',
  targets: ['body_temperature.fever'],
  build({ seed = 1, t0 }) {
    const prng = new Prng(seed).fork('fever');
    const temp = (m: number) =>
      keyframes(
        [
          [0, 36.9],
          [10, 36.9],
          [40, 39.1],
          [60, 39.1],
          [90, 37.1],
        ],
        m,
      );
    const steps: PlanStep[] = [online(0, t0, 85)];
    for (let m = 0; m < 100; m++) {
      const t = temp(m);
      steps.push(
        telemetry(m * MINUTE, t0, m + 1, [
          { metric: 'body_temperature', value: round(t + prng.between(-0.04, 0.04), 1) },
          { metric: 'heart_rate', value: round(76 + 10 * (t - 36.9) + prng.between(-2, 2)) },
          { metric: 'respiratory_rate', value: round(15 + 2 * (t - 36.9) + prng.between(-0.5, 0.5)) },
          { metric: 'steps', value: 0 },
        ]),
      );
    }
    return steps;
  },
};

/**
 * Daily weights, time-compressed: eleven mornings published two seconds apart with explicit
 * timestamps (the last one "now"): stable near 82.0 kg, then +2.4 kg in the last 71 hours
 * (body_weight.gain_3d: +2 kg within 72 h).
 */
const heartFailureWeightGain: Scenario = {
  name: 'heart-failure-weight-gain',
  deviceType: 'weight_scale',
  description:
    'Ten days of daily weights near 82.0 kg, then 82.9, 83.8, 84.4 kg: +2.4 kg within 71 h (timestamps back-dated, published 2 s apart).',
  targets: ['body_weight.gain_3d'],
  build({ seed = 1, t0 }) {
    const prng = new Prng(seed).fork('weight');
    const days: [number, number][] = [];
    for (let k = 10; k >= 4; k--) days.push([-k * 24 * HOUR, round(82.0 + prng.between(-0.15, 0.15), 1)]);
    // The gain: the first of these is 71 h before the last, inside the rule's 72 h window whatever the boundary convention.
    days.push([-71 * HOUR, 82.0], [-48 * HOUR, 82.9], [-24 * HOUR, 83.8], [0, 84.4]);
    const steps: PlanStep[] = [online(0, t0, 95)];
    const lastAtMs = days.length * 2 * SECOND;
    days.forEach(([offset, kg], i) => {
      steps.push({
        kind: 'telemetry',
        atMs: (i + 1) * 2 * SECOND,
        payload: {
          seq: i + 1,
          readings: [{ metric: 'body_weight', value: kg, unit: 'kg', ts: iso(t0 + lastAtMs + offset) }],
        },
        qos: 1,
        note: offset === 0 ? 'today' : `${Math.round(-offset / HOUR)} h ago`,
      });
    });
    return steps;
  },
};

/**
 * Pulse oximeter at 1 Hz goes silent for 150 s (device.signal_loss: 2 min for this type; wall
 * clock, so play at speed 1), keeps measuring, reconnects and uploads the gap with original
 * timestamps, then streams live again.
 */
const signalLoss: Scenario = {
  name: 'signal-loss',
  deviceType: 'pulse_oximeter',
  description:
    'Live for 30 s, silent for 150 s (no network; last will fires), then reconnects and back-fills the 150 s (pulse oximeter, 1 Hz, 4 min).',
  targets: ['device.signal_loss'],
  wallClock: true,
  build({ seed = 1, t0 }) {
    const prng = new Prng(seed).fork('signal-loss');
    const steps: PlanStep[] = [online(0, t0, 75)];
    const sample = (s: number): TelemetryReading[] => [
      { metric: 'spo2', value: round(97 + prng.between(-0.4, 0.4)), ts: iso(t0 + s * SECOND) },
      { metric: 'heart_rate', value: round(72 + prng.between(-2, 2)), ts: iso(t0 + s * SECOND) },
    ];
    let seq = 0;
    for (let s = 0; s < 30; s++)
      steps.push({ kind: 'telemetry', atMs: s * SECOND, payload: { seq: ++seq, readings: sample(s) }, qos: 1 });
    steps.push({ kind: 'drop', atMs: 30 * SECOND, note: 'out of range: the broker publishes the last will' });
    const stored: TelemetryReading[] = [];
    for (let s = 30; s < 180; s++) stored.push(...sample(s));
    steps.push({ kind: 'reconnect', atMs: 180 * SECOND });
    steps.push({ kind: 'status', atMs: 180 * SECOND, payload: { ts: iso(t0 + 180 * SECOND), online: true } });
    steps.push({
      kind: 'telemetry',
      atMs: 180 * SECOND,
      payload: { seq: ++seq, readings: stored },
      qos: 1,
      note: 'store-and-forward back-fill of 150 s',
    });
    for (let s = 180; s < 240; s++)
      steps.push({ kind: 'telemetry', atMs: s * SECOND, payload: { seq: ++seq, readings: sample(s) }, qos: 1 });
    return steps;
  },
};

/** CGM transmitter whose battery drains 30 → 0 % (battery_low at ≤ 15, battery_critical at ≤ 5), then dies. */
const batteryDrain: Scenario = {
  name: 'battery-drain',
  deviceType: 'cgm',
  description:
    'Battery reported every 20 s from 30 % down to 0 %, glucose normal, then the device goes dark (CGM, ~5 min).',
  targets: ['device.battery_low', 'device.battery_critical'],
  build({ seed = 1, t0 }) {
    const prng = new Prng(seed).fork('battery');
    const steps: PlanStep[] = [];
    for (let i = 0; i <= 15; i++) {
      const atMs = i * 20 * SECOND;
      steps.push({
        kind: 'status',
        atMs,
        payload: { ts: iso(t0 + atMs), battery: 30 - 2 * i, online: true, rssi: -70 },
      });
      if (i % 5 === 0)
        steps.push(
          telemetry(atMs, t0, i / 5 + 1, [{ metric: 'glucose', value: 105 + prng.int(-3, 3), unit: 'mg/dL' }]),
        );
    }
    steps.push({ kind: 'drop', atMs: 320 * SECOND, note: 'battery empty' });
    return steps;
  },
};

const badDevice: Scenario = {
  name: 'bad-device',
  deviceType: 'pulse_oximeter',
  description: 'Every kind of malformed input, one per 0.5 s, between two valid messages (see BAD_DEVICE_KINDS).',
  targets: [],
  build: ({ seed = 1, t0 }) => badDeviceSteps({ seed, t0 }),
};

/** Every named scenario, by name. */
export const SCENARIOS: Readonly<Record<string, Scenario>> = Object.fromEntries(
  [
    hypoglycemia,
    tachycardia,
    desaturation,
    hypertensiveCrisis,
    fever,
    heartFailureWeightGain,
    signalLoss,
    batteryDrain,
    badDevice,
  ].map((s) => [s.name, s]),
);

export const SCENARIO_NAMES = Object.keys(SCENARIOS);

/** Looks a scenario up by name, failing with the list of known ones. */
export function scenarioByName(name: string): Scenario {
  const scenario = SCENARIOS[name];
  if (!scenario) throw new Error(`unknown scenario '${name}'; known: ${SCENARIO_NAMES.join(', ')}`);
  return scenario;
}

/** Wall-clock length of a plan at speed 1, ms. */
export function planDurationMs(steps: readonly PlanStep[]): number {
  return steps.reduce((max, s) => Math.max(max, s.atMs), 0);
}

/**
 * The event time to build a scenario with so that, played at `speed`, no reading is ever in the
 * future (the ingest rejects readings > 5 min ahead): time-compressed plans are back-dated so the
 * last reading is stamped "now". At speed 1 this is simply `now`.
 */
export function anchorForSpeed(now: number, durationMs: number, speed: number): number {
  return Math.round(now - durationMs * (1 - 1 / speed));
}
