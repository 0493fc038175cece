import { isMetricKey, isPlausible, METRICS, toCanonical, type MetricKey } from '@lantern/domain';
import { echoText, textProblem } from './device-text.js';
import type { Rejection, RejectionCode } from './ingest-rejection.js';

/** Contract §1.1: payload limit. */
export const MAX_PAYLOAD_BYTES = 64 * 1024;
/** Contract §1.1: readings per message. */
export const MAX_READINGS_PER_MESSAGE = 1000;
/** Contract §1.1: a reading more than this far in the future is refused. */
export const MAX_FUTURE_SKEW_MS = 5 * 60_000;
/**
 * The sane range of event times, whatever the configured window: before 2000 no device of ours
 * existed, and past year 9999 a time has no ISO-8601 form (`1e17` ms is not even a valid Date, and
 * formatting it threw). A time outside is malformed (`invalid_ts`), not merely early or late.
 */
export const MIN_EVENT_TIME = Date.UTC(2000, 0, 1);
export const MAX_EVENT_TIME = Date.UTC(9999, 11, 31, 23, 59, 59, 999);

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
    // V8 quotes the offending text in its message: escape it, it is the device's.
    return reject('invalid_json', `payload is not valid JSON: ${echoText(String((error as Error).message), 120)}`);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    return reject('invalid_message', 'payload must be a JSON object');
  }
  return { ok: true, value: json as Record<string, unknown> };
}

const TS_FORMAT = 'ts must be an ISO-8601 time with offset or epoch milliseconds';
const TS_RANGE = `ts must lie between ${new Date(MIN_EVENT_TIME).toISOString()} and ${new Date(MAX_EVENT_TIME).toISOString()}`;

/**
 * Reads a timestamp given as ISO-8601 with offset or epoch milliseconds, within the sane range
 * (MIN_EVENT_TIME … MAX_EVENT_TIME); the reason tells a malformed time from one out of range.
 */
export function readTimestamp(value: unknown): { ok: true; time: number } | { ok: false; reason: string } {
  let ms = NaN;
  if (typeof value === 'number') ms = Math.round(value);
  else if (typeof value === 'string' && value.length <= 40 && ISO_WITH_OFFSET.test(value)) ms = Date.parse(value);
  else return { ok: false, reason: TS_FORMAT };
  if (Number.isNaN(ms)) return { ok: false, reason: TS_FORMAT };
  // -0, negative, 1e17, Infinity: a number is safe to echo (no device text in it).
  if (!(ms >= MIN_EVENT_TIME && ms <= MAX_EVENT_TIME)) {
    return { ok: false, reason: `${TS_RANGE}; got ${typeof value === 'number' ? String(value) : value}` };
  }
  return { ok: true, time: ms };
}

/** Parses a timestamp as `readTimestamp` does; undefined when malformed or out of range. */
export function parseTimestamp(value: unknown): number | undefined {
  const result = readTimestamp(value);
  return result.ok ? result.time : undefined;
}

/** An epoch-ms time as ISO-8601, or the bare number when no Date can hold it (never throws). */
export function formatTime(time: number): string {
  return Number.isFinite(time) && Math.abs(time) <= 8.64e15 ? new Date(time).toISOString() : String(time);
}

/** Checks a timestamp against the accepted window (≤ 5 min ahead, ≤ max backfill behind). */
export function checkTimeWindow(
  time: number,
  ctx: Pick<DecodeContext, 'receivedAt' | 'maxBackfillMs'>,
): { code: RejectionCode; reason: string } | undefined {
  if (time > ctx.receivedAt + MAX_FUTURE_SKEW_MS) {
    return { code: 'ts_in_future', reason: `ts ${formatTime(time)} is more than 5 minutes in the future` };
  }
  if (time < ctx.receivedAt - ctx.maxBackfillMs) {
    const days = Math.round((ctx.maxBackfillMs / 86_400_000) * 100) / 100;
    return {
      code: 'ts_too_old',
      reason: `ts ${formatTime(time)} is older than the backfill limit of ${days} days`,
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
    const t = readTimestamp(body['ts']);
    if (!t.ok) return whole({ code: 'invalid_ts', reason: t.reason });
    messageTime = t.time;
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
  // Plain literals rather than a conditional spread: this runs for every message.
  return seq.value === undefined ? { readings, rejections } : { seq: seq.value, readings, rejections };
}

function decodeReading(item: unknown, index: number, messageTime: number, ctx: DecodeContext): Parsed<DecodedReading> {
  if (typeof item !== 'object' || item === null || Array.isArray(item))
    return reject('invalid_reading', 'reading must be an object', index);
  const r = item as Record<string, unknown>;
  const metric = r['metric'];
  if (typeof metric !== 'string') return reject('unknown_metric', 'metric must be a string', index);
  if (!isMetricKey(metric)) {
    // The name goes into the reason, which is stored as text: escaped, and refused as text first.
    const problem = textProblem(metric);
    if (problem) return reject('invalid_text', `metric '${echoText(metric)}' ${problem}`, index);
    return reject('unknown_metric', `unknown metric '${echoText(metric)}'`, index);
  }
  const raw = r['value'];
  if (typeof raw !== 'number' || !Number.isFinite(raw))
    return reject('invalid_value', 'value must be a finite number', index);
  const unit = r['unit'];
  if (unit !== undefined && typeof unit !== 'string') return reject('invalid_unit', 'unit must be a string', index);
  if (unit !== undefined) {
    const problem = textProblem(unit);
    if (problem) return reject('invalid_text', `unit '${echoText(unit)}' ${problem}`, index);
  }
  // A unit is compared, never stored; cut it (pair-safe) because toCanonical echoes it in its reason.
  const converted = toCanonical(metric, raw, unit === undefined ? undefined : echoText(unit));
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
    const t = readTimestamp(r['ts']);
    if (!t.ok) return reject('invalid_ts', t.reason, index);
    time = t.time;
  }
  const window = checkTimeWindow(time, ctx);
  if (window) return reject(window.code, window.reason, index);
  return { ok: true, value: { index, metric, value: converted.value, time } };
}

function roundTo(value: number): number {
  return Math.round(value * 1000) / 1000;
}
