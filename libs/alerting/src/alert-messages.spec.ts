import { describe, expect, it } from '@jest/globals';
import { DEVICE_TYPE_KEYS } from '@lantern/domain';
import {
  acknowledgedNotificationText,
  clinicianMessage,
  openedNotificationText,
  signalRestoredNotificationText,
} from './alert-messages.js';
import { effectiveRules } from './rule-overrides.js';

const rules = effectiveRules();
const rule = (key: string) => rules.find((r) => r.key === key)!;

// Clinical shorthand and units a patient should never see, plus diagnoses and treatment words.
const JARGON =
  /mg\/dL|mmHg|mm\[Hg\]|bpm|SpO2|\bkg\b|°|%|\/min|\bCel\b|hypo|hyper|glyc|tachy|brady|diagnos|insulin|dose|\bunits?\b/i;

describe('clinician messages', () => {
  it('name the metric, value, unit, threshold and rule', () => {
    expect(clinicianMessage(rule('glucose.urgent_low'), { value: 48 })).toBe(
      'Glucose 48 mg/dL — below 54 (urgent low)',
    );
    expect(clinicianMessage(rule('spo2.critical'), { value: 83 })).toBe('SpO2 83% — below 85% for 15 s (critical)');
    expect(clinicianMessage(rule('body_temperature.fever'), { value: 38.64 })).toBe(
      'Temperature 38.6 °C — above 38.3 (fever)',
    );
    expect(clinicianMessage(rule('systolic_bp.high'), { value: 192 })).toBe('Systolic BP 192 mmHg — above 180 (high)');
    expect(clinicianMessage(rule('device.signal_loss'), { deviceType: 'bp_monitor', silentSec: 48 * 3600 })).toBe(
      'Blood-pressure monitor — no data for 48 h (signal loss)',
    );
  });
});

describe('patient notifications', () => {
  it('use plain words, units spelled out, and never jargon, a diagnosis or a dose', () => {
    for (const r of rules) {
      for (const deviceType of DEVICE_TYPE_KEYS) {
        const facts = {
          value: r.scope === 'device' ? 12 : 61.5,
          slopePerMin: -3.2,
          change: 2.1,
          deviceType,
          silentSec: 1800,
        };
        for (const text of [
          openedNotificationText(r, facts),
          acknowledgedNotificationText(r, facts),
          signalRestoredNotificationText(facts),
        ]) {
          const words = `${text.title} ${text.body}`;
          expect({ rule: r.key, deviceType, words, jargon: words.match(JARGON)?.[0] }).toEqual({
            rule: r.key,
            deviceType,
            words,
            jargon: undefined,
          });
        }
      }
    }
  });

  it('tell the patient the value and to follow their care plan when an alert opens', () => {
    for (const r of rules.filter((x) => x.scope === 'metric')) {
      const text = openedNotificationText(r, { value: 61.5, slopePerMin: -3.2, change: 2.1 });
      expect(text.kind).toBe('alert_opened');
      expect(text.body).toContain('follow your care plan');
      expect(text.body).toMatch(/61\.5|62|2\.1/);
    }
    expect(openedNotificationText(rule('glucose.urgent_low'), { value: 48 })).toEqual({
      kind: 'alert_opened',
      severity: 'urgent',
      title: 'Your glucose (blood sugar) is very low',
      body: 'Your latest glucose (blood sugar) reading was 48 milligrams per decilitre, which is below the limit of 54 milligrams per decilitre set for you. Your care team has been told. Please follow your care plan.',
    });
    expect(openedNotificationText(rule('glucose.urgent_low_soon'), { value: 100 }).body).toBe(
      'If it keeps falling at this pace, it could go below 55 milligrams per decilitre within 20 minutes. Your latest reading was 100 milligrams per decilitre. Your care team has been told. Please follow your care plan.',
    );
    expect(openedNotificationText(rule('heart_rate.high'), { value: 142 }).title).toBe('Your heart rate is high');
  });

  it('maps priority to severity', () => {
    expect(openedNotificationText(rule('glucose.urgent_low'), { value: 40 }).severity).toBe('urgent');
    expect(openedNotificationText(rule('glucose.low'), { value: 60 }).severity).toBe('warning');
    expect(openedNotificationText(rule('glucose.high'), { value: 300 }).severity).toBe('info');
  });
});
