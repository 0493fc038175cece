import { DEVICE_TYPES } from '@lantern/domain';
import type { JsonTree } from '../json-text.js';
import { normalValue } from './base-message.js';
import { pick, readingsOf, type Mutation } from './mutation.js';

/**
 * Mutations that keep a message well-formed but wrong in meaning: readings closer together than a
 * metric allows, and metrics, units, values or device ids that do not belong to the device.
 */

/** rapid_readings */
export const rapidReadings: Mutation = (prng, draft, env) => {
  if (draft.kind === 'status') draft.kind = 'telemetry';
  const body = draft.body as Record<string, JsonTree>;
  const metric = pick(prng, DEVICE_TYPES[env.device.type].metrics);
  const n = prng.int(2, 50);
  const variant = pick(prng, ['1 ms apart', 'same time', '0.4 ms apart', '899 ms apart', '900 ms apart']);
  const step = { '1 ms apart': 1, 'same time': 0, '0.4 ms apart': 0.4, '899 ms apart': 899, '900 ms apart': 900 }[
    variant
  ]!;
  delete body.ts;
  body.readings = Array.from({ length: n }, (_, k) => ({
    metric,
    value: normalValue(prng, metric),
    ts: env.slot + k * step,
  }));
  return `2–50 ${metric} readings ${variant}`;
};

/** semantic */
export const semantic: Mutation = (prng, draft, env) => {
  const body = draft.body as Record<string, JsonTree>;
  if (draft.kind === 'status') {
    const variant = pick(prng, ['empty', 'battery 101', 'rssi positive', 'offline', 'another device', 'unknown keys']);
    if (variant === 'empty') draft.body = {};
    else if (variant === 'battery 101') body.battery = 101;
    else if (variant === 'rssi positive') body.rssi = 5;
    else if (variant === 'offline') draft.body = { online: false };
    else if (variant === 'another device') body.deviceId = prng.uuid();
    else body.extra = { nested: [1, 2, 3] };
    return variant;
  }
  const readings = readingsOf(draft);
  const reading = readings[prng.int(0, readings.length - 1)];
  const variant = pick(prng, [
    'unknown metric',
    'metric not measured by the device',
    'wrong unit',
    'Fahrenheit',
    'implausible value',
    'another device',
    'own device id',
    'empty readings',
    'no readings',
    'unknown keys',
  ]);
  switch (variant) {
    case 'unknown metric':
      reading.metric = pick(prng, ['blood_alcohol', 'HEART_RATE', 'heart rate', '', 'heart_rate ', '__proto__']);
      break;
    case 'metric not measured by the device':
      reading.metric = pick(prng, ['glucose', 'systolic_bp', 'body_weight']);
      break;
    case 'wrong unit':
      reading.unit = pick(prng, ['kg', 'mg/dL', 'furlong', '']);
      break;
    case 'Fahrenheit':
      reading.metric = 'body_temperature';
      reading.value = 98.6;
      reading.unit = '[degF]';
      break;
    case 'implausible value':
      reading.value = pick(prng, [150, 5, -1, 100001, 46]);
      break;
    case 'another device':
      body.deviceId = prng.uuid();
      break;
    case 'own device id':
      body.deviceId = env.device.deviceId;
      break;
    case 'empty readings':
      body.readings = [];
      break;
    case 'no readings':
      delete body.readings;
      break;
    default:
      body.firmware = 'x';
      reading.quality = 'good';
      reading.extra = { a: [1, { b: null }] };
  }
  return variant;
};
