import type { MetricKey } from './metric-catalog.js';

export interface DeviceTypeDefinition {
  readonly key: string;
  readonly label: string;
  /** Plain-language name for patients ("glucose sensor"). */
  readonly patientLabel: string;
  readonly metrics: readonly MetricKey[];
  /** How often the device is expected to send each of its metrics, in seconds (coverage). */
  readonly expectedIntervalSec: number;
  /** Default `device.signal_loss` threshold: nothing heard for this long. */
  readonly signalLossAfterSec: number;
}

/** The device-type catalog of spec/alerting.md §2. */
export const DEVICE_TYPES = {
  cgm: {
    key: 'cgm',
    label: 'Continuous glucose monitor',
    patientLabel: 'glucose sensor',
    metrics: ['glucose'],
    expectedIntervalSec: 300,
    signalLossAfterSec: 20 * 60,
  },
  pulse_oximeter: {
    key: 'pulse_oximeter',
    label: 'Pulse oximeter',
    patientLabel: 'pulse oximeter (finger clip)',
    metrics: ['spo2', 'heart_rate'],
    expectedIntervalSec: 1,
    signalLossAfterSec: 2 * 60,
  },
  wearable_patch: {
    key: 'wearable_patch',
    label: 'Wearable patch',
    patientLabel: 'wearable patch',
    metrics: ['heart_rate', 'respiratory_rate', 'body_temperature', 'steps'],
    expectedIntervalSec: 60,
    signalLossAfterSec: 10 * 60,
  },
  cardiac_implant: {
    key: 'cardiac_implant',
    label: 'Cardiac implant',
    patientLabel: 'heart implant',
    metrics: ['heart_rate', 'pa_pressure_mean'],
    expectedIntervalSec: 86400,
    signalLossAfterSec: 36 * 3600,
  },
  bp_monitor: {
    key: 'bp_monitor',
    label: 'Blood-pressure monitor',
    patientLabel: 'blood pressure cuff',
    metrics: ['systolic_bp', 'diastolic_bp', 'heart_rate'],
    expectedIntervalSec: 86400,
    signalLossAfterSec: 48 * 3600,
  },
  weight_scale: {
    key: 'weight_scale',
    label: 'Weight scale',
    patientLabel: 'scale',
    metrics: ['body_weight'],
    expectedIntervalSec: 86400,
    signalLossAfterSec: 48 * 3600,
  },
} as const satisfies Record<string, DeviceTypeDefinition>;

export type DeviceTypeKey = keyof typeof DEVICE_TYPES;

export const DEVICE_TYPE_KEYS = Object.keys(DEVICE_TYPES) as DeviceTypeKey[];

export function isDeviceTypeKey(value: unknown): value is DeviceTypeKey {
  return typeof value === 'string' && Object.prototype.hasOwnProperty.call(DEVICE_TYPES, value);
}

export function deviceTypeDefinition(type: DeviceTypeKey): DeviceTypeDefinition {
  return DEVICE_TYPES[type];
}

/**
 * Expected seconds between readings of one metric for a patient, taking the most frequent of the
 * given device types that measure it (used for coverage). Undefined when none measures it.
 */
export function expectedIntervalFor(metric: MetricKey, deviceTypes: readonly DeviceTypeKey[]): number | undefined {
  let best: number | undefined;
  for (const type of deviceTypes) {
    const def: DeviceTypeDefinition = DEVICE_TYPES[type];
    if (def.metrics.includes(metric) && (best === undefined || def.expectedIntervalSec < best)) {
      best = def.expectedIntervalSec;
    }
  }
  return best;
}
