import { describe, expect, it } from '@jest/globals';
import {
  DEVICE_TYPES,
  isMetricKey,
  isPlausible,
  toCanonical,
  type DeviceTypeKey,
  type MetricKey,
} from '@lantern/domain';
import { decodeStatus, decodeTelemetry, type RejectionCode } from '@lantern/messaging';
import { ReadingAdmission } from '../../apps/ingest/src/pipeline/reading-admission.js';
import { BAD_DEVICE_KINDS } from '../../device-simulator/src/bad-device.scenario.js';
import { encodeStep, readingsOf, type PlanStep } from '../../device-simulator/src/plan.js';
import { healthyTimeline, takeUntil } from '../../device-simulator/src/virtual-device.js';
import {
  anchorForSpeed,
  planDurationMs,
  SCENARIO_NAMES,
  scenarioByName,
} from '../../device-simulator/src/scenarios.js';
import { fallingFastAt, SPEC, thresholdFires, urgentLowSoonAt, weightGainAt, type Point } from './rule-checks.js';

const T0 = Date.parse('2026-11-22T10:00:00.000Z');
const SEEDS = [1, 2, 42, 'demo'];

function series(steps: PlanStep[], metric: MetricKey): Point[] {
  return readingsOf(steps)
    .filter((r) => r.metric === metric)
    .map((r) => {
      const converted = toCanonical(metric, r.value, r.unit);
      if (!converted.ok) throw new Error(converted.reason);
      return { time: r.time, value: converted.value };
    })
    .sort((a, b) => a.time - b.time);
}

const DEVICE = '6f1c2d3e-4b5a-4c6d-8e9f-0a1b2c3d4e5f';

/**
 * What the ingest's codecs and admission refuse of a plan played at speed 1 from T0, per step (its
 * label, or its kind and index): the simulator must send physically plausible streams.
 */
function ingestVerdicts(steps: readonly PlanStep[], type: DeviceTypeKey): Map<string, RejectionCode[]> {
  const admission = new ReadingAdmission();
  const verdicts = new Map<string, RejectionCode[]>();
  steps.forEach((step, i) => {
    if (step.kind === 'drop' || step.kind === 'reconnect') return;
    const name = step.kind === 'raw' ? step.label : `${step.kind} #${i}`;
    const topic = step.kind === 'raw' ? step.topic : step.kind;
    if (step.kind === 'raw' && step.deviceId !== undefined) return; // another device's topic
    const ctx = { receivedAt: T0 + step.atMs, maxBackfillMs: 30 * 86_400_000, deviceId: DEVICE };
    const payload = encodeStep(step);
    if (topic === 'telemetry') {
      const admitted = admission.admit({ id: DEVICE, type }, decodeTelemetry(payload, ctx));
      verdicts.set(name, [...new Set(admitted.rejections.map((r) => r.code))]);
    } else if (topic === 'status') {
      const decoded = decodeStatus(payload, ctx);
      verdicts.set(name, decoded.ok ? [] : [decoded.rejection.code]);
    }
  });
  return verdicts;
}

const refused = (verdicts: Map<string, RejectionCode[]>) => [...verdicts].filter(([, codes]) => codes.length > 0);

describe.each(SEEDS)('scenarios with seed %p', (seed) => {
  const build = (name: string) => scenarioByName(name).build({ seed, t0: T0 });

  it('every well-formed reading of every scenario except bad-device is valid per the catalog and in time order per metric', () => {
    for (const name of SCENARIO_NAMES.filter((n) => n !== 'bad-device')) {
      const steps = build(name);
      const end = T0 + planDurationMs(steps);
      const readings = readingsOf(steps);
      expect(readings.length).toBeGreaterThan(0);
      for (const r of readings) {
        expect(isMetricKey(r.metric)).toBe(true);
        const c = toCanonical(r.metric as MetricKey, r.value, r.unit);
        expect(c.ok && isPlausible(r.metric as MetricKey, c.value)).toBe(true);
        expect(Number.isFinite(r.time)).toBe(true);
        expect(r.time).toBeLessThanOrEqual(end);
      }
    }
  });

  it('every scenario except bad-device passes the ingest whole: codec and admission (metric of the device type, minimum interval)', () => {
    for (const name of SCENARIO_NAMES.filter((n) => n !== 'bad-device')) {
      const scenario = scenarioByName(name);
      expect([name, refused(ingestVerdicts(build(name), scenario.deviceType))]).toEqual([name, []]);
    }
  });

  it('a healthy device of every type passes the ingest whole, signal losses and their back-fill included', () => {
    for (const type of Object.keys(DEVICE_TYPES) as DeviceTypeKey[]) {
      const days = DEVICE_TYPES[type].expectedIntervalSec >= 3600 ? 20 * 86_400_000 : 6 * 3_600_000;
      const steps = takeUntil(healthyTimeline(type, { seed, t0: T0, signalLossPerDay: 24 }), days);
      expect(steps.some((s) => s.kind === 'reconnect') || DEVICE_TYPES[type].expectedIntervalSec >= 3600).toBe(true);
      expect([type, refused(ingestVerdicts(steps, type))]).toEqual([type, []]);
    }
  });

  it('hypoglycemia trips falling_fast and urgent_low_soon, then low, then urgent_low, then recovers past both hysteresis bands', () => {
    const glucose = series(build('hypoglycemia'), 'glucose');
    const fast = fallingFastAt(glucose);
    const soon = urgentLowSoonAt(glucose);
    const low = thresholdFires(glucose, SPEC['glucose.low']);
    const urgent = thresholdFires(glucose, SPEC['glucose.urgent_low']);
    expect(fast).toBeDefined();
    expect(soon).toBeDefined();
    expect(low.firedAt).toBeDefined();
    expect(urgent.firedAt).toBeDefined();
    expect(fast!).toBeLessThanOrEqual(low.firedAt!);
    expect(soon!).toBeLessThan(urgent.firedAt!);
    expect(low.firedAt!).toBeLessThan(urgent.firedAt!);
    expect(urgent.clearedAt).toBeDefined();
    expect(low.clearedAt).toBeDefined();
    expect(glucose.at(-1)!.value).toBeGreaterThan(100);
  });

  it('tachycardia keeps heart rate above 130 for at least 60 s, then clears below 125', () => {
    const hr = series(build('tachycardia'), 'heart_rate');
    const fired = thresholdFires(hr, SPEC['heart_rate.high']);
    expect(fired.firedAt).toBeDefined();
    expect(fired.clearedAt).toBeDefined();
    expect(thresholdFires(series(build('tachycardia'), 'spo2'), SPEC['spo2.low']).firedAt).toBeUndefined();
  });

  it('desaturation trips spo2.low (< 90 for 60 s) and then spo2.critical (< 85 for 15 s), and recovers', () => {
    const spo2 = series(build('desaturation'), 'spo2');
    const low = thresholdFires(spo2, SPEC['spo2.low']);
    const critical = thresholdFires(spo2, SPEC['spo2.critical']);
    expect(low.firedAt).toBeDefined();
    expect(critical.firedAt).toBeDefined();
    expect(low.firedAt!).toBeLessThan(critical.firedAt!);
    expect(low.clearedAt).toBeDefined();
    expect(critical.clearedAt).toBeDefined();
    expect(
      thresholdFires(series(build('desaturation'), 'heart_rate'), SPEC['heart_rate.high']).firedAt,
    ).toBeUndefined();
  });

  it('hypertensive-crisis trips systolic_bp.high and later clears below 170', () => {
    const fired = thresholdFires(series(build('hypertensive-crisis'), 'systolic_bp'), SPEC['systolic_bp.high']);
    expect(fired.firedAt).toBeDefined();
    expect(fired.clearedAt).toBeDefined();
  });

  it('fever trips body_temperature.fever and clears below 38.0 without tripping heart or breathing rules', () => {
    const steps = build('fever');
    const fired = thresholdFires(series(steps, 'body_temperature'), SPEC['body_temperature.fever']);
    expect(fired.firedAt).toBeDefined();
    expect(fired.clearedAt).toBeDefined();
    expect(thresholdFires(series(steps, 'heart_rate'), SPEC['heart_rate.high']).firedAt).toBeUndefined();
    expect(thresholdFires(series(steps, 'respiratory_rate'), SPEC['respiratory_rate.high']).firedAt).toBeUndefined();
  });

  it('heart-failure-weight-gain gains ≥ 2 kg within 72 h (only at the end), with back-dated explicit timestamps published seconds apart', () => {
    const steps = build('heart-failure-weight-gain');
    const weight = series(steps, 'body_weight');
    const at = weightGainAt(weight);
    expect(at).toBe(weight.at(-1)!.time);
    expect(weight.at(-1)!.value - weight.at(-4)!.value).toBeCloseTo(2.4, 5);
    expect(weight.at(-1)!.time - weight[0].time).toBeGreaterThanOrEqual(9 * 86_400_000);
    expect(planDurationMs(steps)).toBeLessThan(60_000);
  });

  it('signal-loss is silent for longer than the pulse oximeter’s 2 min, then back-fills the gap with original timestamps', () => {
    const steps = build('signal-loss');
    const drop = steps.find((s) => s.kind === 'drop')!;
    const back = steps.find((s) => s.kind === 'reconnect')!;
    expect(back.atMs - drop.atMs).toBeGreaterThan(120_000);
    expect(
      steps.some((s) => s.kind !== 'drop' && s.kind !== 'reconnect' && s.atMs > drop.atMs && s.atMs < back.atMs),
    ).toBe(false);
    const hrTimes = series(steps, 'heart_rate').map((p) => p.time);
    // One reading per second with no hole and no duplicate: the back-fill covers the gap exactly.
    expect(hrTimes.length).toBe(240);
    hrTimes.forEach((t, i) => expect(t).toBe(T0 + i * 1000));
    expect(scenarioByName('signal-loss').wallClock).toBe(true);
  });

  it('battery-drain reports ≤ 15 % and then ≤ 5 % and goes dark', () => {
    const steps = build('battery-drain');
    const levels = steps.flatMap((s) =>
      s.kind === 'status' && s.payload.battery !== undefined ? [s.payload.battery] : [],
    );
    const low = levels.findIndex((b) => b <= 15);
    const critical = levels.findIndex((b) => b <= 5);
    expect(low).toBeGreaterThan(0);
    expect(critical).toBeGreaterThan(low);
    expect(steps.at(-1)!.kind).toBe('drop');
  });

  it('builds identical plans for the same seed', () => {
    for (const name of SCENARIO_NAMES) {
      expect(JSON.stringify(build(name))).toBe(JSON.stringify(scenarioByName(name).build({ seed, t0: T0 })));
    }
  });
});

describe('bad-device', () => {
  const steps = scenarioByName('bad-device').build({ seed: 7, t0: T0 });
  const raw = new Map(steps.flatMap((s) => (s.kind === 'raw' ? [[s.label, s] as const] : [])));
  const parse = (label: string): unknown => JSON.parse(raw.get(label)!.payload.toString('utf8'));
  const readingsOfKind = (label: string) =>
    (parse(label) as { readings: { metric: unknown; value: unknown; unit?: unknown; ts?: unknown }[] }).readings;

  it('covers every malformed kind exactly once, between a valid first and last message', () => {
    expect([...raw.keys()].sort()).toEqual([...BAD_DEVICE_KINDS].sort());
    expect(steps.filter((s) => s.kind === 'raw')).toHaveLength(BAD_DEVICE_KINDS.length);
    expect(steps[1].kind).toBe('telemetry');
    expect(steps.at(-1)!.kind).toBe('telemetry');
  });

  it('each kind is malformed in the way its name says', () => {
    for (const label of ['truncated-json', 'invalid-json', 'nan-literal']) expect(() => parse(label)).toThrow();
    expect(Array.isArray(parse('non-object-json'))).toBe(true);
    expect(parse('missing-readings')).not.toHaveProperty('readings');
    expect(readingsOfKind('empty-readings')).toEqual([]);
    expect(Array.isArray((parse('wrong-type-readings') as { readings: unknown }).readings)).toBe(false);
    expect(typeof readingsOfKind('wrong-type-value')[0].value).toBe('string');
    expect(typeof readingsOfKind('wrong-type-metric')[0].metric).toBe('number');
    expect(typeof (parse('wrong-type-ts') as { ts: unknown }).ts).toBe('boolean');
    expect(typeof (parse('wrong-type-seq') as { seq: unknown }).seq).toBe('string');
    expect(readingsOfKind('null-value')[0].value).toBeNull();
    expect(readingsOfKind('infinity')[0].value).toBe(Infinity);
    expect(raw.get('oversize')!.payload.length).toBeGreaterThan(64 * 1024);
    expect(() => new TextDecoder('utf-8', { fatal: true }).decode(raw.get('binary')!.payload)).toThrow();
    expect(() => new TextDecoder('utf-8', { fatal: true }).decode(raw.get('invalid-utf8')!.payload)).toThrow();
    expect(readingsOfKind('too-many-readings')).toHaveLength(10_000);
    expect(readingsOfKind('unknown-metric')[0].metric).toBe('blood_alcohol');
    expect(toCanonical('glucose', 95, readingsOfKind('bad-unit')[0].unit as string).ok).toBe(false);
    expect(isPlausible('spo2', readingsOfKind('implausible-value')[0].value as number)).toBe(false);
    const step = raw.get('future-ts')!;
    expect(Date.parse((parse('future-ts') as { ts: string }).ts) - (T0 + step.atMs)).toBeGreaterThan(5 * 60_000);
    expect(T0 - Date.parse((parse('too-old-ts') as { ts: string }).ts)).toBeGreaterThan(30 * 86_400_000);
    expect(Number.isNaN(Date.parse((parse('unparseable-ts') as { ts: string }).ts))).toBe(true);
    const partial = readingsOfKind('partially-valid');
    expect(toCanonical('glucose', 95, partial[1].unit as string).ok).toBe(false);
    expect(partial[0]).toEqual({ metric: 'heart_rate', value: 73 });
    const dup = readingsOfKind('duplicate-reading');
    expect(dup[0].ts).toBe(dup[1].ts);
    expect(raw.get('bad-status')!.topic).toBe('status');
    expect(raw.get('spoofed-topic')!.deviceId).toMatch(/^[0-9a-f-]{36}$/);
    expect(raw.get('unknown-topic')!.topic).toBe('commands');
    const frequent = readingsOfKind('too-frequent');
    expect(frequent).toHaveLength(10);
    expect(Date.parse(frequent[1].ts as string) - Date.parse(frequent[0].ts as string)).toBe(1);
    expect(DEVICE_TYPES.pulse_oximeter.metrics).not.toContain(readingsOfKind('metric-not-for-device')[0].metric);
    expect(readingsOfKind('unrepresentable-ts')[0].ts).toBe(1e17);
    expect(raw.get('nul-in-text')!.topic).toBe('status');
    expect((parse('nul-in-text') as { firmware: string }).firmware).toBe('2.\u00001');
    expect(readingsOfKind('lone-surrogate')[0].metric).toBe('heart_rate\ud800');
  });

  it('the ingest refuses each kind for its own reason only; the valid readings around them are all admitted', () => {
    const verdicts = ingestVerdicts(steps, 'pulse_oximeter');
    expect(Object.fromEntries(verdicts)).toMatchObject({
      'duplicate-reading': [],
      'partially-valid': ['invalid_unit'],
      'too-frequent': ['too_frequent'],
      'metric-not-for-device': ['metric_not_for_device'],
      'unrepresentable-ts': ['invalid_ts'],
      'nul-in-text': ['invalid_text'],
      'lone-surrogate': ['invalid_text'],
    });
    const valid = [...verdicts].filter(([name]) => !raw.has(name));
    expect(valid.length).toBeGreaterThanOrEqual(3);
    expect(valid.filter(([, codes]) => codes.length > 0)).toEqual([]);
    // Nothing but the two admission kinds trips admission.
    const admissionCodes: RejectionCode[] = ['too_frequent', 'metric_not_for_device'];
    expect(
      [...verdicts]
        .filter(([, codes]) => codes.some((c) => admissionCodes.includes(c)))
        .map(([name]) => name)
        .sort(),
    ).toEqual(['metric-not-for-device', 'too-frequent']);
  });
});

describe('anchorForSpeed', () => {
  it('back-dates a compressed plan so its last reading is stamped at the moment it is published', () => {
    const now = T0;
    const duration = 100 * 60_000;
    const t0 = anchorForSpeed(now, duration, 60);
    // Last step is published at now + duration / 60 with event time t0 + duration.
    expect(t0 + duration).toBe(now + duration / 60);
    expect(anchorForSpeed(now, duration, 1)).toBe(now);
  });
});
