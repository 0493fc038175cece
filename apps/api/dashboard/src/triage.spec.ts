import { describe, expect, it } from '@jest/globals';
import type { AlertResource } from '@lantern/domain';
import type { Device } from './api.js';
import { deviceAdvice, readTimeInRange } from './patient-view.js';
import { compareTriage, deviceProblem, type PatientState } from './store.js';

const NOW = Date.parse('2026-11-22T12:00:00Z');
const ago = (ms: number): string => new Date(NOW - ms).toISOString();

function device(over: Partial<Device> = {}): Device {
  return {
    id: 'd1',
    patientId: 'p',
    type: 'cgm',
    status: 'active',
    createdAt: ago(86_400_000),
    secretRotatedAt: ago(86_400_000),
    online: true,
    battery: 80,
    lastSeenAt: ago(60_000),
    ...over,
  };
}

function alert(over: Partial<AlertResource>): AlertResource {
  return {
    id: Math.random().toString(36),
    patientId: 'p',
    rule: 'glucose.low',
    priority: 'medium',
    state: 'open',
    message: 'x',
    openedAt: ago(60_000),
    lastTriggeredAt: ago(60_000),
    escalationLevel: 0,
    late: false,
    ...over,
  };
}

function patient(name: string, alerts: AlertResource[] = [], devices: Device[] = [device()]): PatientState {
  return {
    patient: { id: name, displayName: name, createdAt: ago(86_400_000) },
    latest: new Map(),
    devices: new Map(devices.map((d, i) => [`${name}-${i}`, d])),
    alerts: new Map(alerts.map((a) => [a.id, a])),
  };
}

describe('triage order', () => {
  it('puts open high first, then open medium, then device problems, then acknowledged, then quiet patients', () => {
    const rows = [
      patient('quiet'),
      patient('acked-high', [alert({ priority: 'high', state: 'acknowledged' })]),
      patient('flat-battery', [], [device({ battery: 9 })]),
      patient('medium', [alert({ priority: 'medium' })]),
      patient('high', [alert({ priority: 'high' })]),
      patient('low', [alert({ priority: 'low', rule: 'device.battery_low' })]),
    ];
    const order = rows.sort((a, b) => compareTriage(a, b, NOW)).map((r) => r.patient.displayName);
    expect(order).toEqual(['high', 'medium', 'flat-battery', 'acked-high', 'low', 'quiet']);
  });

  it('breaks ties by the most recent alert', () => {
    const older = patient('older', [alert({ priority: 'high', lastTriggeredAt: ago(600_000) })]);
    const newer = patient('newer', [alert({ priority: 'high', lastTriggeredAt: ago(5_000) })]);
    expect([older, newer].sort((a, b) => compareTriage(a, b, NOW)).map((r) => r.patient.displayName)).toEqual([
      'newer',
      'older',
    ]);
  });
});

describe('device problems', () => {
  it("uses the device type's signal-loss time, offline state and the low-battery level", () => {
    expect(deviceProblem(device(), NOW)).toBeNull();
    expect(deviceProblem(device({ lastSeenAt: ago(21 * 60_000) }), NOW)).toBe('no signal');
    expect(deviceProblem(device({ type: 'weight_scale', lastSeenAt: ago(24 * 3_600_000) }), NOW)).toBeNull();
    expect(deviceProblem(device({ online: false }), NOW)).toBe('offline');
    expect(deviceProblem(device({ battery: 15 }), NOW)).toBe('battery low');
    expect(deviceProblem(device({ online: false, lastSeenAt: null }), NOW)).toBe('never connected');
  });

  it('tells the patient what to do, in plain words', () => {
    expect(deviceAdvice(device({ battery: 12 }), NOW)).toBe(
      'Please charge your glucose sensor soon: the battery is at 12 percent.',
    );
    expect(deviceAdvice(device({ battery: 4 }), NOW)).toMatch(/^Charge your glucose sensor now/);
    expect(deviceAdvice(device({ lastSeenAt: ago(3_600_000) }), NOW)).toMatch(
      /^We have not heard from your glucose sensor since/,
    );
    expect(deviceAdvice(device(), NOW)).toBeNull();
  });
});

describe('readTimeInRange', () => {
  it('reads the CGM figures of the summary answer (contract §3.3)', () => {
    const summary = {
      patientId: 'p',
      metrics: [
        { metric: 'heart_rate', count: 10, mean: 70 },
        {
          metric: 'glucose',
          count: 4032,
          mean: 128,
          glucose: {
            timeInRange: 71.5,
            timeBelow70: 3.5,
            timeBelow54: 1,
            timeAbove180: 25,
            timeAbove250: 6,
            meanGlucose: 128,
            gmi: 6.4,
            cv: 31,
          },
        },
      ],
    };
    expect(readTimeInRange(summary)).toEqual({ inRange: 71.5, below70: 3.5, below54: 1, above180: 25, above250: 6 });
  });

  it('answers null when there is no glucose', () => {
    expect(readTimeInRange({ metrics: [{ metric: 'spo2', count: 3 }] })).toBeNull();
    expect(readTimeInRange(null)).toBeNull();
  });
});
