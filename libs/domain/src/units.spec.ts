import { describe, expect, it } from '@jest/globals';
import {
  DEVICE_TYPES,
  METRIC_KEYS,
  METRICS,
  expectedIntervalFor,
  formatValue,
  formatValueSpoken,
  isMetricKey,
  isPlausible,
  toCanonical,
} from './index.js';

describe('metric catalog', () => {
  it('lists the ten metrics of the spec', () => {
    expect(METRIC_KEYS.sort()).toEqual(
      [
        'body_temperature',
        'body_weight',
        'diastolic_bp',
        'glucose',
        'heart_rate',
        'pa_pressure_mean',
        'respiratory_rate',
        'spo2',
        'steps',
        'systolic_bp',
      ].sort(),
    );
    expect(isMetricKey('glucose')).toBe(true);
    expect(isMetricKey('toString')).toBe(false);
  });

  it('every device type measures only catalogued metrics', () => {
    for (const type of Object.values(DEVICE_TYPES)) {
      for (const metric of type.metrics) expect(METRICS[metric]).toBeDefined();
    }
  });
});

describe('unit conversion', () => {
  it('keeps canonical and absent units unchanged', () => {
    expect(toCanonical('glucose', 100)).toEqual({ ok: true, value: 100 });
    expect(toCanonical('glucose', 100, 'mg/dL')).toEqual({ ok: true, value: 100 });
  });

  it('converts mmol/L to mg/dL with the factor 18.016', () => {
    const r = toCanonical('glucose', 5.4, 'mmol/L');
    expect(r.ok && r.value).toBeCloseTo(97.2864, 6);
  });

  it('converts kPa, Fahrenheit and pounds', () => {
    const kpa = toCanonical('systolic_bp', 16, 'kPa');
    expect(kpa.ok && kpa.value).toBeCloseTo(120.00992, 5);
    const f = toCanonical('body_temperature', 98.6, '[degF]');
    expect(f.ok && f.value).toBeCloseTo(37, 6);
    const lb = toCanonical('body_weight', 180, 'lb');
    expect(lb.ok && lb.value).toBeCloseTo(81.6466, 4);
  });

  it('refuses an unknown unit with the reason a device sees', () => {
    expect(toCanonical('glucose', 90, 'mg')).toEqual({ ok: false, reason: "unit 'mg' not convertible to mg/dL" });
  });

  it('checks plausible ranges inclusively', () => {
    expect(isPlausible('spo2', 100)).toBe(true);
    expect(isPlausible('spo2', 100.1)).toBe(false);
    expect(isPlausible('spo2', 50)).toBe(true);
    expect(isPlausible('spo2', 49.9)).toBe(false);
  });

  it('formats values for clinicians and patients', () => {
    expect(formatValue('glucose', 48.2)).toBe('48 mg/dL');
    expect(formatValue('spo2', 88)).toBe('88%');
    expect(formatValueSpoken('glucose', 48.2)).toBe('48 milligrams per decilitre');
    expect(formatValue('body_temperature', 38.46)).toBe('38.5 °C');
  });

  it('finds the expected interval of the most frequent device measuring a metric', () => {
    expect(expectedIntervalFor('heart_rate', ['bp_monitor', 'wearable_patch'])).toBe(60);
    expect(expectedIntervalFor('glucose', ['bp_monitor'])).toBeUndefined();
  });
});
