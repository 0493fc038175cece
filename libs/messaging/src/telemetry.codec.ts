import { isMetricKey, isPlausible, METRICS, toCanonical, type MetricKey } from '@lantern/domain';
import type { Rejection, RejectionCode } from './ingest-rejection.js';

/** Contract §1.1: payload limit. */
export const MAX_PAYLOAD_BYTES = 64 * 1024;
/** Contract §1.1: readings per message. */
export const MAX_READINGS_PER_MESSAGE = 1000;
/** Contract §1.1: a reading more than this far in the future is refused. */
export const MAX_FUTURE_SKEW_MS = 5 * 60_000;

export interface DecodeContext {
  /** When the broker delivered the message to us, epoch ms; also "now" for the time window. */
  readonly receivedAt: number;
  /** INGEST_MAX_BACKFILL in ms. */
  readonly maxBackfillMs: number;
  /** The device id of the topic, to catch a payload that claims another device. */
  readonly deviceId: string;
  /** Overrides MAX_PAYLOAD_BYTES (tests). */
  readonly maxPayloadBytes?: number;
}

/** A validated reading of a telemetry message, value in the canonical unit. */
export interface DecodedReading {
  readonly index: number;
  readonly metric: MetricKey;
  readonly value: number;
  readonly time: number;
}

export interface DecodedTelemetry {
  readonly seq?: number;
  readonly readings: DecodedReading[];
  /** Whole-message rejections (then `readings` is empty) or per-reading ones (with `index`). */
  readonly rejections: Rejection[];
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

// ISO-8601 date-time with an explicit offset: a time without one is ambiguous and refused.
const ISO_WITH_OFFSET = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:?\d{2})$/i;

type Parsed<T> = { ok: true; value: T } | { ok: false; rejection: Rejection };

const reject = (code: RejectionCode, reason: string, index?: number): { ok: false; rejection: Rejection } => ({
  ok: false,
  rejection: index === undefined ? { code, reason } : { code, reason, index },
});

/** Decodes a payload to a JSON object, enforcing the size limit and UTF-8 before parsing. */
export function decodeJsonObject(payload: Uint8Array, maxBytes = MAX_PAYLOAD_BYTES): Parsed<Record<string, unknown>> {
  if (payload.byteLength > maxBytes) {
    return reject('payload_too_large', `payload of ${payload.byteLength} bytes exceeds the limit of ${maxBytes} bytes`);
  }
  let text: string;
  try {
    text = utf8.decode(payload);
  } catch {
    return reject('invalid_utf8', 'payload is not valid UTF-8');
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    return reject('invalid_json', `payload is not valid JSON: ${(error as Error).message}`);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    return reject('invalid_message', 'payload must be a JSON object');
  }
  return { ok: true, value: json as Record<string, unknown> };
}

/** Parses a timestamp given as ISO-8601 with offset or epoch milliseconds; undefined when malformed. */
export function parseTimestamp(value: unknown): number | undefined {
  if (typeof value === 'number') {
    return Number.isFinite(value) && value >= 0 ? Math.round(value) : undefined;
  }
  if (typeof value === 'string' && value.length <= 40 && ISO_WITH_OFFSET.test(value)) {
    const ms = Date.parse(value);
    return Number.isNaN(ms) ? undefined : ms;
  }
  return undefined;
}

/** Checks a timestamp against the accepted window (≤ 5 min ahead, ≤ max backfill behind). */
export function checkTimeWindow(
  time: number,
  ctx: Pick<DecodeContext, 'receivedAt' | 'maxBackfillMs'>,
): { code: RejectionCode; reason: string } | undefined {
  if (time > ctx.receivedAt + MAX_FUTURE_SKEW_MS) {
    return { code: 'ts_in_future', reason: `ts ${new Date(time).toISOString()} is more than 5 minutes in the future` };
  }
  if (time < ctx.receivedAt - ctx.maxBackfillMs) {
    const days = Math.round((ctx.maxBackfillMs / 86_400_000) * 100) / 100;
    return {
      code: 'ts_too_old',
      reason: `ts ${new Date(time).toISOString()} is older than the backfill limit of ${days} days`,
    };
  }
  return undefined;
}

/** Reads an optional `seq`: a non-negative safe integer. */
export function parseSeq(value: unknown): Parsed<number | undefined> {
  if (value === undefined) return { ok: true, value: undefined };
  if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) return { ok: true, value };
  return reject('invalid_seq', 'seq must be a non-negative integer');
}

/**
 * Payloads may name their device (`deviceId`) though the topic is what identifies it; a payload that
 * names another device is refused as a whole, so one device cannot write into another's record.
 */
export function checkClaimedDevice(body: Record<string, unknown>, deviceId: string): Rejection | undefined {
  const claimed = body['deviceId'];
  if (claimed === undefined || claimed === deviceId) return undefined;
  return { code: 'device_mismatch', reason: 'deviceId in the payload does not match the topic' };
}

/**
 * Decodes and validates a telemetry message (contract §1.1) against the metric catalog: whole-message
 * problems refuse everything, reading problems refuse only that reading (partial acceptance).
 */
export function decodeTelemetry(payload: Uint8Array, ctx: DecodeContext): DecodedTelemetry {
  const parsed = decodeJsonObject(payload, ctx.maxPayloadBytes);
  if (!parsed.ok) return { readings: [], rejections: [parsed.rejection] };
  const body = parsed.value;

  const seq = parseSeq(body['seq']);
  if (!seq.ok) return { readings: [], rejections: [seq.rejection] };
  const whole = (rejection: Rejection): DecodedTelemetry => ({
    ...(seq.value === undefined ? {} : { seq: seq.value }),
    readings: [],
    rejections: [rejection],
  });

  const mismatch = checkClaimedDevice(body, ctx.deviceId);
  if (mismatch) return whole(mismatch);

  let messageTime = ctx.receivedAt;
  if (body['ts'] !== undefined) {
    const t = parseTimestamp(body['ts']);
    if (t === undefined)
      return whole({ code: 'invalid_ts', reason: 'ts must be an ISO-8601 time with offset or epoch milliseconds' });
    messageTime = t;
  }

  const items = body['readings'];
  if (!Array.isArray(items)) return whole({ code: 'invalid_message', reason: 'readings must be an array' });
  if (items.length === 0) return whole({ code: 'no_readings', reason: 'readings must not be empty' });
  if (items.length > MAX_READINGS_PER_MESSAGE) {
    return whole({
      code: 'too_many_readings',
      reason: `readings has ${items.length} items, at most ${MAX_READINGS_PER_MESSAGE} are allowed`,
    });
  }

  const readings: DecodedReading[] = [];
  const rejections: Rejection[] = [];
  for (let index = 0; index < items.length; index++) {
    const result = decodeReading(items[index], index, messageTime, ctx);
    if (result.ok) readings.push(result.value);
    else rejections.push(result.rejection);
  }
  return { ...(seq.value === undefined ? {} : { seq: seq.value }), readings, rejections };
}

function decodeReading(item: unknown, index: number, messageTime: number, ctx: DecodeContext): Parsed<DecodedReading> {
  if (typeof item !== 'object' || item === null || Array.isArray(item))
    return reject('invalid_reading', 'reading must be an object', index);
  const r = item as Record<string, unknown>;
  const metric = r['metric'];
  if (typeof metric !== 'string') return reject('unknown_metric', 'metric must be a string', index);
  if (!isMetricKey(metric)) return reject('unknown_metric', `unknown metric '${truncate(metric)}'`, index);
  const raw = r['value'];
  if (typeof raw !== 'number' || !Number.isFinite(raw))
    return reject('invalid_value', 'value must be a finite number', index);
  const unit = r['unit'];
  if (unit !== undefined && typeof unit !== 'string') return reject('invalid_unit', 'unit must be a string', index);
  const converted = toCanonical(metric, raw, unit === undefined ? undefined : truncate(unit));
  if (!converted.ok) return reject('invalid_unit', converted.reason, index);
  if (!Number.isFinite(converted.value) || !isPlausible(metric, converted.value)) {
    const { min, max } = METRICS[metric].plausible;
    return reject(
      'implausible_value',
      `${metric} ${roundTo(converted.value)} ${METRICS[metric].unit} is outside the plausible range ${min}–${max}`,
      index,
    );
  }
  let time = messageTime;
  if (r['ts'] !== undefined) {
    const t = parseTimestamp(r['ts']);
    if (t === undefined)
      return reject('invalid_ts', 'ts must be an ISO-8601 time with offset or epoch milliseconds', index);
    time = t;
  }
  const window = checkTimeWindow(time, ctx);
  if (window) return reject(window.code, window.reason, index);
  return { ok: true, value: { index, metric, value: converted.value, time } };
}

function truncate(text: string, max = 64): string {
  return text.length > max ? `${text.slice(0, max)}…` : text;
}

function roundTo(value: number): number {
  return Math.round(value * 1000) / 1000;
}
