import { DEVICE_TYPES, METRICS, type MetricKey } from '@lantern/domain';
import type { Prng } from '../../../../device-simulator/src/prng.js';
import type { JsonTree } from '../json-text.js';
import { iso, pick, type HostileDevice } from './mutation.js';

/**
 * The valid messages the hostile-payload generator starts from, before any mutation: telemetry of a
 * hostile device's own metrics at normal values, or a status message, with times in the forms devices
 * write them.
 */

const NORMAL: Record<MetricKey, [number, number]> = {
  heart_rate: [55, 110],
  spo2: [93, 99],
  glucose: [80, 160],
  systolic_bp: [105, 135],
  diastolic_bp: [65, 85],
  respiratory_rate: [12, 20],
  body_temperature: [36.3, 37.4],
  body_weight: [60, 90],
  pa_pressure_mean: [12, 24],
  steps: [0, 200],
};

const round1 = (v: number) => Math.round(v * 10) / 10;
/** A value of `metric` inside its normal range, rounded to one decimal. */
export const normalValue = (prng: Prng, metric: MetricKey) => round1(prng.between(...NORMAL[metric]));

/** `time` as a device may write it: ISO-8601 in UTC, with an offset, or epoch milliseconds. */
function timeForm(prng: Prng, time: number): string | number {
  const form = prng.int(0, 2);
  if (form === 0) return iso(time);
  if (form === 1) return time;
  const offsetMin = pick(prng, [60, 120, -300, 330, 840]);
  const local = iso(time + offsetMin * 60_000).slice(0, -1);
  const sign = offsetMin < 0 ? '-' : '+';
  const abs = Math.abs(offsetMin);
  return `${local}${sign}${String(Math.floor(abs / 60)).padStart(2, '0')}:${String(abs % 60).padStart(2, '0')}`;
}

/** A valid telemetry message of the device: 1–4 readings of its metrics within 4 s of `slot`. */
export function baseTelemetry(prng: Prng, device: HostileDevice, seq: number, slot: number): Record<string, JsonTree> {
  const metrics = DEVICE_TYPES[device.type].metrics;
  const count = prng.int(1, 4);
  const messageTs = prng.chance(0.7);
  const readings: JsonTree[] = [];
  for (let j = 0; j < count; j++) {
    const metric = metrics[j % metrics.length];
    const time = slot + Math.floor(j / metrics.length) * 1000;
    const reading: Record<string, JsonTree> = { metric, value: normalValue(prng, metric) };
    if (prng.chance(0.3)) reading.unit = METRICS[metric].unit;
    if (!messageTs || time !== slot) reading.ts = timeForm(prng, time);
    readings.push(reading);
  }
  return { seq, ...(messageTs ? { ts: timeForm(prng, slot) } : {}), readings };
}

/** A valid status message: at least one of battery, online, firmware, rssi. */
export function baseStatus(prng: Prng, now: number): Record<string, JsonTree> {
  const body: Record<string, JsonTree> = { ts: iso(now - prng.int(0, 2000)) };
  body.battery = prng.int(5, 100);
  if (prng.chance(0.7)) body.online = true;
  if (prng.chance(0.7)) body.firmware = pick(prng, ['2.3.1', 'v10.0.0-rc.1', 'build 2026-11-30']);
  if (prng.chance(0.7)) body.rssi = prng.int(-95, -40);
  if (prng.chance(0.2)) body.sensorExpiresAt = iso(now + 10 * 86_400_000);
  return body;
}
