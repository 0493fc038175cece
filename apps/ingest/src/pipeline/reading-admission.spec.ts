import { describe, expect, it } from '@jest/globals';
import { DEVICE_TYPES, DEVICE_TYPE_KEYS, METRICS, type MetricKey } from '@lantern/domain';
import type { DecodedReading, Rejection } from '@lantern/messaging';
import { ReadingAdmission, type AdmissionDevice } from './reading-admission.js';

const T0 = Date.UTC(2026, 11, 7, 10, 0, 0);
const SEC = 1000;
const MIN = 60 * SEC;

/** The catalog's choices (docs/ingest.md): restated so that changing one is a visible decision. */
const CHOSEN_MIN_INTERVAL_MS: Record<MetricKey, number> = {
  heart_rate: 900,
  spo2: 900,
  glucose: 55_000,
  systolic_bp: 20_000,
  diastolic_bp: 20_000,
  respiratory_rate: 900,
  body_temperature: 900,
  body_weight: 60_000,
  pa_pressure_mean: 15_000,
  steps: 900,
};

const oximeter: AdmissionDevice = { id: 'ox-1', type: 'pulse_oximeter' };
const cgm: AdmissionDevice = { id: 'cgm-1', type: 'cgm' };

/** The decoded readings of one message: `[metric, time]` pairs, indexed in order. */
function message(...readings: [MetricKey, number][]): { readings: DecodedReading[]; rejections: Rejection[] } {
  return { readings: readings.map(([metric, time], index) => ({ index, metric, value: 1, time })), rejections: [] };
}

const indexes = (readings: readonly DecodedReading[]) => readings.map((r) => r.index);
const codes = (rejections: readonly Rejection[]) => rejections.map((r) => [r.index, r.code]);

describe('ReadingAdmission', () => {
  it('accepts a 1 Hz oximeter with clock jitter, and refuses a reading sooner than 900 ms after the latest', () => {
    const admission = new ReadingAdmission();
    const times = [T0, T0 + 1040, T0 + 1990, T0 + 3010, T0 + 3950];
    for (const t of times) {
      const out = admission.admit(oximeter, message(['heart_rate', t], ['spo2', t]));
      expect(out.rejections).toEqual([]);
      expect(indexes(out.readings)).toEqual([0, 1]);
    }
    const out = admission.admit(oximeter, message(['heart_rate', T0 + 4849], ['spo2', T0 + 4850]));
    expect(indexes(out.readings)).toEqual([1]);
    expect(out.rejections).toEqual([
      {
        code: 'too_frequent',
        index: 0,
        reason:
          'heart_rate at 2026-12-07T10:00:04.849Z is 899 ms after the one at 2026-12-07T10:00:03.950Z; ' +
          'heart_rate readings must be at least 900 ms apart',
      },
    ]);
    // The refused reading did not move the state: 900 ms after the accepted one is fine.
    expect(admission.admit(oximeter, message(['heart_rate', T0 + 4850])).rejections).toEqual([]);
  });

  it('1000 glucose readings 1 ms apart in one message: keeps the first, refuses 999 as too_frequent', () => {
    const admission = new ReadingAdmission();
    const flood = message(...Array.from({ length: 1000 }, (_, i): [MetricKey, number] => ['glucose', T0 + i]));
    const out = admission.admit(cgm, flood);
    expect(indexes(out.readings)).toEqual([0]);
    expect(out.rejections).toHaveLength(999);
    expect(out.rejections.every((r) => r.code === 'too_frequent')).toBe(true);
    expect(out.rejections.map((r) => r.index)).toEqual(Array.from({ length: 999 }, (_, i) => i + 1));
    // The next message, 1 ms later, is refused against the latest accepted reading.
    expect(codes(admission.admit(cgm, message(['glucose', T0 + 1000])).rejections)).toEqual([[0, 'too_frequent']]);
    expect(admission.admit(cgm, message(['glucose', T0 + 55 * SEC])).rejections).toEqual([]);
  });

  it('a back-fill (older than the latest) is accepted when its own readings respect the interval', () => {
    const admission = new ReadingAdmission();
    admission.admit(cgm, message(['glucose', T0]));
    // An hour of 5-minute readings uploaded after a signal loss, out of order.
    const hour = Array.from({ length: 12 }, (_, i): [MetricKey, number] => ['glucose', T0 - (i + 1) * 5 * MIN]);
    const out = admission.admit(cgm, message(...hour));
    expect(out.rejections).toEqual([]);
    expect(out.readings).toHaveLength(12);
    // A back-fill 1 ms apart keeps one reading: the interval holds within the message.
    const dense = Array.from({ length: 1000 }, (_, i): [MetricKey, number] => ['glucose', T0 - 2 * 3_600_000 + i]);
    const flood = admission.admit(cgm, message(...dense));
    expect(flood.readings).toHaveLength(1);
    expect(flood.rejections).toHaveLength(999);
    // None of that moved the latest: a reading 54 s after T0 is still too soon.
    expect(codes(admission.admit(cgm, message(['glucose', T0 + 54 * SEC])).rejections)).toEqual([[0, 'too_frequent']]);
  });

  it('accepts messages arriving out of order (shared subscription) and whole-message redeliveries', () => {
    const admission = new ReadingAdmission();
    const second = message(['heart_rate', T0 + 5 * SEC], ['heart_rate', T0 + 6 * SEC]);
    const first = message(['heart_rate', T0 + 3 * SEC], ['heart_rate', T0 + 4 * SEC]);
    expect(admission.admit(oximeter, second).rejections).toEqual([]);
    expect(admission.admit(oximeter, first).rejections).toEqual([]);
    // Redelivered: the readings equal to or older than the latest are all accepted again.
    expect(admission.admit(oximeter, second).rejections).toEqual([]);
    expect(admission.admit(oximeter, first).rejections).toEqual([]);
  });

  it('judges a message’s readings in time order whatever their order in the message', () => {
    const admission = new ReadingAdmission();
    // In time order: T0 kept, T0 + 10 s too soon after it, T0 + 2 min kept.
    const out = admission.admit(cgm, message(['glucose', T0 + 2 * MIN], ['glucose', T0 + 10 * SEC], ['glucose', T0]));
    expect(codes(out.rejections)).toEqual([[1, 'too_frequent']]);
    expect(indexes(out.readings)).toEqual([0, 2]);
    // Metrics out of catalog order, each already in time order.
    const mixed = admission.admit(oximeter, message(['spo2', T0], ['heart_rate', T0], ['spo2', T0 + 500]));
    expect(codes(mixed.rejections)).toEqual([[2, 'too_frequent']]);
  });

  it('a redelivery that was partly refused is refused the same way again (deterministic)', () => {
    const admission = new ReadingAdmission();
    const m = message(['heart_rate', T0], ['heart_rate', T0 + 1], ['heart_rate', T0 + SEC]);
    const once = admission.admit(oximeter, m);
    const twice = admission.admit(oximeter, m);
    expect(codes(once.rejections)).toEqual([[1, 'too_frequent']]);
    expect(codes(twice.rejections)).toEqual(codes(once.rejections));
    expect(indexes(twice.readings)).toEqual([0, 2]);
  });

  it('accepts a duplicate reading at exactly the time of an accepted one, even within the interval of a back-filled one', () => {
    const admission = new ReadingAdmission();
    admission.admit(oximeter, message(['spo2', T0]));
    const out = admission.admit(oximeter, message(['spo2', T0 - 100], ['spo2', T0], ['spo2', T0]));
    expect(out.rejections).toEqual([]);
    expect(out.readings).toHaveLength(3);
  });

  it('refuses a metric the device type does not measure, without touching the state of the others', () => {
    const admission = new ReadingAdmission();
    const out = admission.admit(oximeter, message(['spo2', T0], ['glucose', T0], ['heart_rate', T0]));
    expect(indexes(out.readings)).toEqual([0, 2]);
    expect(out.rejections).toEqual([
      {
        code: 'metric_not_for_device',
        index: 1,
        reason: 'device type pulse_oximeter (Pulse oximeter) does not measure glucose',
      },
    ]);
  });

  it('merges the codec’s refusals with its own in index order', () => {
    const admission = new ReadingAdmission();
    const decoded = {
      readings: [
        { index: 0, metric: 'heart_rate' as const, value: 70, time: T0 },
        { index: 2, metric: 'glucose' as const, value: 90, time: T0 },
        { index: 3, metric: 'heart_rate' as const, value: 71, time: T0 + 10 },
      ],
      rejections: [
        { code: 'unknown_metric', reason: "unknown metric 'x'", index: 1 },
        { code: 'invalid_value', reason: 'value must be a finite number', index: 4 },
      ] satisfies Rejection[],
    };
    const out = admission.admit(oximeter, decoded);
    expect(indexes(out.readings)).toEqual([0]);
    expect(codes(out.rejections)).toEqual([
      [1, 'unknown_metric'],
      [2, 'metric_not_for_device'],
      [3, 'too_frequent'],
      [4, 'invalid_value'],
    ]);
  });

  it('returns the decoded message untouched when everything is admitted (no copy on the hot path)', () => {
    const admission = new ReadingAdmission();
    const decoded = message(['heart_rate', T0], ['spo2', T0]);
    expect(admission.admit(oximeter, decoded)).toBe(decoded);
  });

  it('applies each metric’s own minimum interval, for every metric of every device type', () => {
    for (const type of DEVICE_TYPE_KEYS) {
      for (const metric of DEVICE_TYPES[type].metrics as readonly MetricKey[]) {
        const admission = new ReadingAdmission();
        const device = { id: `${type}-${metric}`, type };
        const min = CHOSEN_MIN_INTERVAL_MS[metric];
        expect(admission.admit(device, message([metric, T0])).rejections).toEqual([]);
        expect(codes(admission.admit(device, message([metric, T0 + min - 1])).rejections)).toEqual([
          [0, 'too_frequent'],
        ]);
        expect(admission.admit(device, message([metric, T0 + min])).rejections).toEqual([]);
      }
    }
  });

  it('uses the catalog’s minimum intervals', () => {
    for (const metric of Object.keys(CHOSEN_MIN_INTERVAL_MS) as MetricKey[])
      expect([metric, METRICS[metric].minIntervalMs]).toEqual([metric, CHOSEN_MIN_INTERVAL_MS[metric]]);
  });

  it('keeps one entry per device seen, and forgets a device', () => {
    const admission = new ReadingAdmission();
    admission.admit(oximeter, message(['heart_rate', T0], ['spo2', T0]));
    admission.admit(cgm, message(['glucose', T0]));
    admission.admit({ id: 'ox-2', type: 'pulse_oximeter' }, message(['glucose', T0])); // refused: no state
    expect(admission.size).toBe(2);
    admission.forget(oximeter.id);
    expect(admission.size).toBe(1);
    expect(admission.admit(oximeter, message(['heart_rate', T0 + 1])).rejections).toEqual([]);
  });
});
