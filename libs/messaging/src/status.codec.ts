import type { DeviceStatusReport } from '@lantern/domain';
import { textProblem } from './device-text.js';
import type { Rejection } from './ingest-rejection.js';
import {
  checkClaimedDevice,
  checkTimeWindow,
  decodeJsonObject,
  readTimestamp,
  type DecodeContext,
} from './telemetry.codec.js';

export type DecodedStatusResult = { ok: true; status: DeviceStatusReport } | { ok: false; rejection: Rejection };

const MAX_FIRMWARE_LENGTH = 64;

/**
 * Decodes and validates a device status message. Any invalid field refuses the whole message: a
 * status is small and a half-applied one (battery without the matching time) would mislead.
 */
export function decodeStatus(payload: Uint8Array, ctx: DecodeContext): DecodedStatusResult {
  const parsed = decodeJsonObject(payload, ctx.maxPayloadBytes);
  if (!parsed.ok) return parsed;
  const body = parsed.value;
  const bad = (reason: string): DecodedStatusResult => ({ ok: false, rejection: { code: 'invalid_status', reason } });

  const mismatch = checkClaimedDevice(body, ctx.deviceId);
  if (mismatch) return { ok: false, rejection: mismatch };

  let time = ctx.receivedAt;
  if (body['ts'] !== undefined) {
    const t = readTimestamp(body['ts']);
    if (!t.ok) return { ok: false, rejection: { code: 'invalid_ts', reason: t.reason } };
    const window = checkTimeWindow(t.time, ctx);
    if (window) return { ok: false, rejection: window };
    time = t.time;
  }

  const status: { -readonly [K in keyof DeviceStatusReport]: DeviceStatusReport[K] } = { time };
  const { battery, online, firmware, rssi, sensorExpiresAt } = body;
  if (battery !== undefined) {
    if (typeof battery !== 'number' || !Number.isFinite(battery) || battery < 0 || battery > 100)
      return bad('battery must be a number from 0 to 100');
    status.battery = Math.round(battery);
  }
  if (online !== undefined) {
    if (typeof online !== 'boolean') return bad('online must be true or false');
    status.online = online;
  }
  if (firmware !== undefined) {
    if (typeof firmware !== 'string' || firmware.length === 0 || firmware.length > MAX_FIRMWARE_LENGTH) {
      return bad(`firmware must be a string of 1 to ${MAX_FIRMWARE_LENGTH} characters`);
    }
    // Stored in a text column: PostgreSQL refuses U+0000 and unpaired surrogates. Not echoed.
    const problem = textProblem(firmware);
    if (problem) return { ok: false, rejection: { code: 'invalid_text', reason: `firmware ${problem}` } };
    status.firmware = firmware;
  }
  if (rssi !== undefined) {
    if (typeof rssi !== 'number' || !Number.isFinite(rssi) || rssi < -200 || rssi > 0)
      return bad('rssi must be a number from -200 to 0 (dBm)');
    status.rssi = Math.round(rssi);
  }
  if (sensorExpiresAt !== undefined) {
    const t = typeof sensorExpiresAt === 'string' ? readTimestamp(sensorExpiresAt) : undefined;
    if (!t?.ok) return bad('sensorExpiresAt must be an ISO-8601 time with offset, in the years 2000 to 9999');
    status.sensorExpiresAt = new Date(t.time).toISOString();
  }
  if (Object.keys(status).length === 1) {
    return bad('status must carry at least one of battery, online, firmware, rssi, sensorExpiresAt');
  }
  return { ok: true, status };
}
