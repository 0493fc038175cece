import { DEVICE_TYPES, METRICS, type MetricKey } from '@lantern/domain';
import { MAX_PAYLOAD_BYTES, MAX_READINGS_PER_MESSAGE, type Topics } from '@lantern/messaging/contract';
import { Prng } from '../../../device-simulator/src/prng.js';
import { nestedArrays, nestedObjects, OrderedJsonObject, RawJson, toJsonText, type JsonTree } from './json-text.js';

/**
 * What the fuzz does to a valid telemetry or status message (docs/reliability.md, "Fuzzing"). Each
 * hostile message is one valid message with one mutation of one category; a mutation may well leave
 * it valid (an unknown extra key, a number that parses to a plausible value), and then it is stored.
 */
export const HOSTILE_CATEGORIES = [
  'control_characters',
  'unpaired_surrogates',
  'extreme_numbers',
  'absurd_times',
  'deep_nesting',
  'duplicate_keys',
  'wrong_types',
  'many_readings',
  'oversized',
  'binary',
  'unexpected_topic',
  'rapid_readings',
  'semantic',
] as const;
export type HostileCategory = (typeof HOSTILE_CATEGORIES)[number];

/** Relative frequency of each category: the heavy ones (1000 readings, payloads past 64 KiB) rarer. */
export const DEFAULT_CATEGORY_WEIGHTS: Readonly<Record<HostileCategory, number>> = {
  control_characters: 1,
  unpaired_surrogates: 1,
  extreme_numbers: 1,
  absurd_times: 1,
  deep_nesting: 1,
  duplicate_keys: 1,
  wrong_types: 1,
  many_readings: 0.3,
  oversized: 0.4,
  binary: 1,
  unexpected_topic: 1,
  rapid_readings: 1,
  semantic: 1,
};

/** Device types of the hostile devices: every metric they measure allows a reading a second. */
export type FuzzDeviceType = 'pulse_oximeter' | 'wearable_patch';

export interface HostileDevice {
  /** Position among the hostile devices (part of each message's seed). */
  readonly index: number;
  readonly deviceId: string;
  readonly type: FuzzDeviceType;
}

export interface GeneratorContext {
  readonly seed: number;
  readonly topics: Topics;
  /** Wall clock when the message is made: status times and the "odd but valid" times are relative to it. */
  readonly now: number;
  /** Event time of a device's message `seq`: one slot each, SLOT_MS apart, so messages do not share times. */
  slotTime(seq: number): number;
  readonly weights?: Readonly<Record<HostileCategory, number>>;
}

/** Event time between two base messages of a hostile device; a base message's readings stay within 4 s of its slot. */
export const SLOT_MS = 10_000;

export interface HostileMessage {
  readonly category: HostileCategory;
  /** Which mutation, e.g. `value=1e999`: with the seed, device and seq enough to make it again. */
  readonly variant: string;
  readonly kind: 'telemetry' | 'status';
  readonly topic: string;
  readonly payload: Buffer;
  /** The seq the base message carried (a mutation may have made it unreadable). */
  readonly seq: number;
}

/** A message being mutated. */
interface Draft {
  kind: 'telemetry' | 'status';
  body: JsonTree;
  topic: string;
  /** A byte-level edit of the serialised payload (invalid UTF-8 cannot be written as a string). */
  finish?: (payload: Buffer) => Buffer;
}

type Mutation = (prng: Prng, draft: Draft, env: MutationEnv) => string;

interface MutationEnv {
  readonly device: HostileDevice;
  readonly ctx: GeneratorContext;
  readonly seq: number;
  readonly slot: number;
}

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

const iso = (t: number) => new Date(t).toISOString();
const round1 = (v: number) => Math.round(v * 10) / 10;
const normalValue = (prng: Prng, metric: MetricKey) => round1(prng.between(...NORMAL[metric]));
const pick = <T>(prng: Prng, items: readonly T[]): T => items[prng.int(0, items.length - 1)];
const insertAt = (text: string, at: number, what: string) => text.slice(0, at) + what + text.slice(at);
const isRecord = (v: JsonTree): v is Record<string, JsonTree> =>
  v !== null &&
  typeof v === 'object' &&
  !Array.isArray(v) &&
  !(v instanceof RawJson) &&
  !(v instanceof OrderedJsonObject);

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
function baseTelemetry(prng: Prng, device: HostileDevice, seq: number, slot: number): Record<string, JsonTree> {
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
function baseStatus(prng: Prng, now: number): Record<string, JsonTree> {
  const body: Record<string, JsonTree> = { ts: iso(now - prng.int(0, 2000)) };
  body.battery = prng.int(5, 100);
  if (prng.chance(0.7)) body.online = true;
  if (prng.chance(0.7)) body.firmware = pick(prng, ['2.3.1', 'v10.0.0-rc.1', 'build 2026-11-30']);
  if (prng.chance(0.7)) body.rssi = prng.int(-95, -40);
  if (prng.chance(0.2)) body.sensorExpiresAt = iso(now + 10 * 86_400_000);
  return body;
}

function readingsOf(draft: Draft): Record<string, JsonTree>[] {
  if (!isRecord(draft.body) || !Array.isArray(draft.body.readings)) return [];
  return draft.body.readings.filter(isRecord);
}

interface StringField {
  readonly name: string;
  readonly original: string;
  set(value: JsonTree): void;
}

/** A string-valued place of the message (existing or added), for text mutations. */
function stringField(prng: Prng, draft: Draft, env: MutationEnv): StringField {
  const body = draft.body as Record<string, JsonTree>;
  const at = (target: Record<string, JsonTree>, key: string, name: string, fallback: string): StringField => ({
    name,
    original: typeof target[key] === 'string' ? target[key] : fallback,
    set: (value) => (target[key] = value),
  });
  const choice = prng.int(0, 4);
  if (draft.kind === 'status') {
    if (choice === 0 || choice === 4) return at(body, 'firmware', 'firmware', '2.3.1');
    if (choice === 1) return at(body, 'ts', 'ts', iso(env.ctx.now));
    if (choice === 2) return at(body, 'sensorExpiresAt', 'sensorExpiresAt', iso(env.ctx.now + 86_400_000));
    return choice === 3 ? at(body, 'deviceId', 'deviceId', env.device.deviceId) : at(body, 'note', 'extra', 'hi');
  }
  const readings = readingsOf(draft);
  const reading = readings[prng.int(0, readings.length - 1)];
  if (choice === 0) return at(reading, 'metric', 'metric', 'heart_rate');
  if (choice === 1) return at(reading, 'unit', 'unit', '/min');
  if (choice === 2)
    return typeof body.ts === 'string' || !('ts' in reading)
      ? at(body, 'ts', 'ts', iso(env.slot))
      : at(reading, 'ts', 'reading.ts', iso(env.slot));
  if (choice === 3) return at(body, 'deviceId', 'deviceId', env.device.deviceId);
  return at(body, 'note', 'extra', 'hello');
}

const CONTROLS = ['\u0000', '\u0001', '\u0007', '\b', '\u000b', '\f', '\u001b', '\u001f', '\u007f', '\u0085', '\u009f'];
const codeOf = (c: string) => `U+${c.charCodeAt(0).toString(16).toUpperCase().padStart(4, '0')}`;

const controlCharacters: Mutation = (prng, draft, env) => {
  const c = pick(prng, CONTROLS);
  const variant = prng.int(0, 3);
  if (variant === 0) {
    const field = stringField(prng, draft, env);
    field.set(insertAt(field.original, prng.int(0, field.original.length), c));
    return `escaped ${codeOf(c)} in ${field.name}`;
  }
  if (variant === 1) {
    // Unescaped inside a string: JSON forbids U+0000–U+001F there (DEL and C1 are allowed).
    const field = stringField(prng, draft, env);
    const quoted = JSON.stringify(field.original);
    field.set(new RawJson(insertAt(quoted, prng.int(1, quoted.length - 1), c)));
    return `raw ${codeOf(c)} in ${field.name}`;
  }
  if (variant === 2) {
    // Between tokens: tab, newline and carriage return are JSON whitespace, the rest are not.
    const between = pick(prng, [...CONTROLS, '\t', '\n', '\r']);
    draft.finish = (payload) => Buffer.concat([payload.subarray(0, 1), Buffer.from(between), payload.subarray(1)]);
    return `raw ${codeOf(between)} between tokens`;
  }
  (draft.body as Record<string, JsonTree>)[`x${c}y`] = 1;
  return `${codeOf(c)} in an unknown key`;
};

const SURROGATES = ['\ud800', '\udbff', '\udc00', '\udfff', '\udc00\ud800'];
/** Stands for bytes that cannot be written as a JS string; replaced after serialising. */
const BYTES_MARK = 'QQBYTESQQ';

function replaceMark(bytes: Buffer): (payload: Buffer) => Buffer {
  return (payload) => {
    const at = payload.indexOf(BYTES_MARK);
    return at < 0 ? payload : Buffer.concat([payload.subarray(0, at), bytes, payload.subarray(at + BYTES_MARK.length)]);
  };
}

const unpairedSurrogates: Mutation = (prng, draft, env) => {
  const s = pick(prng, SURROGATES);
  const name = [...s].map(codeOf).join('+');
  const variant = prng.int(0, 3);
  const field = stringField(prng, draft, env);
  if (variant === 0) {
    field.set(insertAt(field.original, prng.int(0, field.original.length), s));
    return `escaped ${name} in ${field.name}`;
  }
  if (variant === 1) {
    // A surrogate encoded as UTF-8 (CESU-8 style): not valid UTF-8.
    const bytes = Buffer.from(
      pick(prng, [
        [0xed, 0xa0, 0x80],
        [0xed, 0xbf, 0xbf],
        [0xed, 0xb0, 0x80],
      ]),
    );
    field.set(insertAt(field.original, prng.int(0, field.original.length), BYTES_MARK));
    draft.finish = replaceMark(bytes);
    return `UTF-8-encoded surrogate ${bytes.toString('hex')} in ${field.name}`;
  }
  if (variant === 2) {
    (draft.body as Record<string, JsonTree>)[`k${s}`] = 'v';
    return `escaped ${name} in an unknown key`;
  }
  // A proper pair: valid text (stored in firmware, an unknown metric elsewhere).
  field.set(insertAt(field.original, prng.int(0, field.original.length), '\ud83d\ude00'));
  return `surrogate pair in ${field.name}`;
};

const EXTREME_VALUES: readonly JsonTree[] = [
  1e308,
  -1e308,
  5e-324,
  -5e-324,
  Number.MAX_SAFE_INTEGER,
  -Number.MAX_SAFE_INTEGER,
  0,
  new RawJson('-0'),
  new RawJson('1e999'),
  new RawJson('-1e999'),
  new RawJson('1e-999'),
  new RawJson('9'.repeat(400)),
  new RawJson(`0.${'0'.repeat(400)}1`),
  new RawJson('1E+2'),
  new RawJson('97.00000000000000000000000001'),
];
// Only values that are not a valid seq: a valid other one would be another message's seq.
const EXTREME_SEQS: readonly JsonTree[] = [
  new RawJson('1e20'),
  new RawJson('9007199254740993'),
  -1,
  1.5,
  new RawJson('1e999'),
  new RawJson('-1e999'),
];
const shown = (v: JsonTree) => (v instanceof RawJson ? v.text.slice(0, 24) : JSON.stringify(v));

const extremeNumbers: Mutation = (prng, draft) => {
  const body = draft.body as Record<string, JsonTree>;
  if (draft.kind === 'status') {
    const key = pick(prng, ['battery', 'rssi']);
    const v = pick(prng, EXTREME_VALUES);
    body[key] = v;
    return `${key}=${shown(v)}`;
  }
  if (prng.chance(0.15)) {
    const v = pick(prng, EXTREME_SEQS);
    body.seq = v;
    return `seq=${shown(v)}`;
  }
  const readings = readingsOf(draft);
  const reading = readings[prng.int(0, readings.length - 1)];
  const v = pick(prng, EXTREME_VALUES);
  reading.value = v;
  if (prng.chance(0.2) && reading.metric === 'body_temperature') reading.unit = '[degF]';
  return `value=${shown(v)}`;
};

/** Times no device should send, and a few odd ones that are valid, each with a label for the report. */
function absurdTimes(now: number, slot: number): readonly [string, JsonTree][] {
  const s = iso(slot);
  const fixed: JsonTree[] = [
    0,
    -1,
    1,
    1.5,
    1e-3,
    1e17,
    8.64e15,
    8.64e15 + 1,
    Number.MAX_VALUE,
    -Number.MAX_VALUE,
    new RawJson('1e999'),
    Date.UTC(1999, 11, 31, 23, 59, 59, 999),
    Date.UTC(2000, 0, 1),
    Date.UTC(10000, 0, 1),
    '0000-01-01T00:00:00Z',
    '+275760-09-13T00:00:00.000Z',
    '9999-12-31T23:59:59.999Z',
    '10000-01-01T00:00:00Z',
    '2024-02-30T00:00:00Z',
    '2024-01-01T23:59:60Z',
    '2024-13-01T00:00:00Z',
    '',
    ' ',
    'now',
    'yesterday',
    'x'.repeat(41),
  ];
  return [
    ...fixed.map((t): [string, JsonTree] => [shown(t), t]),
    ['ISO without offset', s.slice(0, -1)],
    ['ISO in lower case', s.toLowerCase()],
    ['ISO +14:00', s.replace('Z', '+14:00')],
    ['ISO +99:99', s.replace('Z', '+99:99')],
    ['ISO with nanoseconds', s.replace(/\.\d{3}Z$/, '.123456789Z')],
    ['ISO + junk', `${s}junk`],
    ['epoch ms as a string', String(slot)],
    ['an hour ahead', iso(now + 3_600_000)],
    ['4 minutes ahead', iso(now + 240_000)], // within the 5 accepted
    ['60 days ago', iso(now - 60 * 86_400_000)],
    ['a century ahead, epoch ms', now + 100 * 365 * 86_400_000],
  ];
}

const absurdTimesMutation: Mutation = (prng, draft, env) => {
  const body = draft.body as Record<string, JsonTree>;
  const [label, t] = pick(prng, absurdTimes(env.ctx.now, env.slot));
  if (draft.kind === 'status') {
    const key = prng.chance(0.8) ? 'ts' : 'sensorExpiresAt';
    body[key] = t;
    return `${key}=${label}`;
  }
  const readings = readingsOf(draft);
  if (prng.chance(0.5) || !('ts' in body)) {
    const reading = readings[prng.int(0, readings.length - 1)];
    reading.ts = t;
    return `reading ts=${label}`;
  }
  body.ts = t;
  return `message ts=${label}`;
};

const deepNesting: Mutation = (prng, draft) => {
  const depth = pick(prng, [16, 256, 4096, 20_000]);
  const body = draft.body as Record<string, JsonTree>;
  const variant = prng.int(0, 4);
  if (variant === 0) {
    if (draft.kind === 'status') body.firmware = nestedArrays(depth, '"1.0"');
    else {
      const readings = readingsOf(draft);
      readings[prng.int(0, readings.length - 1)].value = nestedArrays(depth, '72');
    }
    return `${depth} nested arrays as a ${draft.kind === 'status' ? 'firmware' : 'value'}`;
  }
  if (variant === 1 && draft.kind === 'telemetry') {
    body.readings = nestedArrays(depth);
    return `${depth} nested arrays as readings`;
  }
  if (variant === 2 || variant === 1) {
    body.meta = nestedObjects(Math.min(depth, 5000), 'm');
    return `${Math.min(depth, 5000)} nested objects in an unknown key`;
  }
  if (variant === 3) {
    draft.body = nestedArrays(depth);
    return `${depth} nested arrays as the payload`;
  }
  const objects = Math.min(depth, 4000);
  draft.body = nestedObjects(objects, 'readings');
  return `${objects} nested objects as the payload`;
};

function ordered(record: Record<string, JsonTree>): OrderedJsonObject {
  return new OrderedJsonObject(Object.entries(record));
}

const duplicateKeys: Mutation = (prng, draft, env) => {
  const body = draft.body as Record<string, JsonTree>;
  const o = ordered(body);
  draft.body = o;
  if (draft.kind === 'status') {
    const [key, second] = pick(prng, [
      ['battery', 500],
      ['battery', 50],
      ['online', 'no'],
      ['ts', 'yesterday'],
      ['firmware', '\u0000'],
      ['deviceId', env.device.deviceId],
    ] as [string, JsonTree][]);
    o.entries.push([key, second]);
    return `${key} twice, last ${shown(second)}`;
  }
  const variant = prng.int(0, 7);
  const readings = readingsOf({ ...draft, body });
  const reading = readings[prng.int(0, readings.length - 1)];
  switch (variant) {
    case 0:
      o.entries.push(['readings', []]);
      return 'readings twice, last empty';
    case 1:
      o.entries.push([
        'readings',
        [{ metric: 'heart_rate', value: normalValue(prng, 'heart_rate'), ts: env.slot + 5000 }],
      ]);
      return 'readings twice, last valid';
    case 2:
      o.entries.push(['seq', env.seq]);
      return 'seq twice, same value';
    case 3:
      o.entries.push(['seq', 'x']);
      return 'seq twice, last a string';
    case 4:
      o.entries.push(['ts', 'yesterday']);
      return 'ts twice, last unreadable';
    case 5: {
      const index = readings.indexOf(reading);
      const r = ordered(reading);
      r.entries.push(['metric', 'glucose']);
      (body.readings as JsonTree[])[index] = r;
      return 'metric twice, last not measured by the device';
    }
    case 6: {
      const index = readings.indexOf(reading);
      const r = ordered(reading);
      r.entries.push(['value', pick(prng, ['x', 1000, 80] as JsonTree[])]);
      (body.readings as JsonTree[])[index] = r;
      return 'value twice';
    }
    default:
      o.entries.push(['deviceId', env.device.deviceId], ['deviceId', 'someone-else']);
      return 'deviceId twice, last another device';
  }
};

const WRONG: readonly JsonTree[] = [null, true, false, 0, -1, '', 'x', '72', [], [72], {}, { value: 72 }];
// Wrong as a seq: not a non-negative integer (0 would be valid, and another message's seq).
const WRONG_SEQ: readonly JsonTree[] = [null, true, '', '1', [], {}, -1, 'NaN'];

const wrongTypes: Mutation = (prng, draft) => {
  const body = draft.body as Record<string, JsonTree>;
  if (prng.chance(0.1)) {
    draft.body = pick(prng, [[], 'telemetry', 42, null, true, [body]] as JsonTree[]);
    return `payload is ${Array.isArray(draft.body) ? 'an array' : draft.body === null ? 'null' : typeof draft.body}`;
  }
  if (draft.kind === 'status') {
    const key = pick(prng, ['battery', 'online', 'firmware', 'rssi', 'sensorExpiresAt', 'ts', 'deviceId']);
    const v = pick(prng, WRONG);
    body[key] = v;
    return `${key}=${shown(v)}`;
  }
  const place = pick(prng, ['readings', 'reading', 'metric', 'value', 'ts', 'unit', 'message ts', 'seq', 'deviceId']);
  const v = place === 'seq' ? pick(prng, WRONG_SEQ) : pick(prng, WRONG);
  const readings = readingsOf(draft);
  const index = prng.int(0, readings.length - 1);
  const reading = readings[index];
  if (place === 'readings') body.readings = v;
  else if (place === 'reading') (body.readings as JsonTree[])[index] = v;
  else if (place === 'message ts') body.ts = v;
  else if (place === 'seq' || place === 'deviceId') body[place] = v;
  else reading[place] = v;
  return `${place}=${shown(v)}`;
};

const manyReadings: Mutation = (prng, draft, env) => {
  const body = draft.body as Record<string, JsonTree>;
  if (draft.kind === 'status') draft.kind = 'telemetry';
  delete body.ts;
  const variant = pick(prng, ['backfill', 'backfill', 'over-limit', 'mixed', 'one-ms-apart']);
  const n = variant === 'over-limit' ? MAX_READINGS_PER_MESSAGE + 1 : MAX_READINGS_PER_MESSAGE;
  // Epoch-ms times keep 1000 readings under 64 KiB; heart rate is measured by both device types.
  const readings: JsonTree[] = [];
  for (let k = 0; k < n; k++) {
    const ts = variant === 'one-ms-apart' ? env.slot + k : env.slot - (n - 1 - k) * 1000;
    const value = variant === 'mixed' && k % 7 === 3 ? 1000 : Math.round(normalValue(prng, 'heart_rate'));
    readings.push({ metric: 'heart_rate', value, ts });
  }
  body.readings = readings;
  return `${n} readings, ${variant}`;
};

const oversized: Mutation = (prng, draft) => {
  const size = prng.chance(0.25)
    ? pick(prng, [MAX_PAYLOAD_BYTES, MAX_PAYLOAD_BYTES + 1])
    : prng.chance(0.04)
      ? prng.int(1 << 20, 4 << 20)
      : prng.int(MAX_PAYLOAD_BYTES + 1, 256 * 1024);
  const body = draft.body as Record<string, JsonTree>;
  const asWhitespace = prng.chance(0.3);
  const base = Buffer.byteLength(toJsonText(body)) + (asWhitespace ? 0 : Buffer.byteLength(',"pad":""'));
  const pad = Math.max(0, size - base);
  if (asWhitespace) draft.finish = (payload) => Buffer.concat([payload, Buffer.alloc(pad, 0x20)]);
  else body.pad = 'x'.repeat(pad);
  const label =
    size === MAX_PAYLOAD_BYTES
      ? 'at the 64 KiB limit'
      : size === MAX_PAYLOAD_BYTES + 1
        ? '64 KiB + 1 byte'
        : size <= 256 * 1024
          ? '64–256 KiB'
          : '1–4 MiB';
  return `${label}, padded with ${asWhitespace ? 'trailing spaces' : 'a long string'}`;
};

const binary: Mutation = (prng, draft) => {
  const bytes = (n: number) => Buffer.from(Array.from({ length: n }, () => prng.int(0, 255)));
  const variant = prng.int(0, 10);
  const valid = () => Buffer.from(toJsonText(draft.body));
  let payload: Buffer;
  let name: string;
  switch (variant) {
    case 0:
      payload = bytes(prng.int(1, 1024));
      name = 'random bytes';
      break;
    case 1:
      payload = Buffer.alloc(0);
      name = 'empty';
      break;
    case 2:
      payload = Buffer.alloc(prng.int(1, 64));
      name = 'NUL bytes';
      break;
    case 3:
      payload = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), valid()]);
      name = 'UTF-8 BOM + JSON';
      break;
    case 4:
      payload = Buffer.from(toJsonText(draft.body), 'utf16le');
      name = 'UTF-16LE JSON';
      break;
    case 5: {
      const v = valid();
      payload = v.subarray(0, prng.int(0, v.length - 1));
      name = 'truncated JSON';
      break;
    }
    case 6:
      payload = Buffer.concat([valid(), bytes(prng.int(1, 16))]);
      name = 'JSON + trailing bytes';
      break;
    case 7:
      payload = Buffer.concat([Buffer.from([0x1f, 0x8b, 0x08, 0x00]), bytes(prng.int(10, 200))]);
      name = 'gzip header + bytes';
      break;
    case 8:
      payload = Buffer.from(pick(prng, ['null', '[]', '""', '0', 'true', '{', '}', '{}']));
      name = `JSON ${payload.toString()}`;
      break;
    case 9:
      payload = Buffer.from(toJsonText(draft.body).replace('"', '"\u00e9'), 'latin1');
      name = 'Latin-1 encoded';
      break;
    default:
      payload = Buffer.concat([Buffer.from('{"seq":'), Buffer.from([0xc0, 0xaf]), Buffer.from('}')]);
      name = 'overlong UTF-8';
  }
  draft.finish = () => payload;
  return name;
};

const unexpectedTopic: Mutation = (prng, draft, env) => {
  const root = env.ctx.topics.root;
  const id = env.device.deviceId;
  const kind = draft.kind;
  const variants: [string, string][] = [
    ['extra level', `${root}/devices/${id}/${kind}/extra`],
    ['trailing slash', `${root}/devices/${id}/${kind}/`],
    ['no kind level', `${root}/devices/${id}`],
    ['errors topic', `${root}/devices/${id}/errors`],
    ['kind in upper case', `${root}/devices/${id}/${kind.toUpperCase()}`],
    ['devices in upper case', `${root}/DEVICES/${id}/${kind}`],
    ['leading slash', `/${root}/devices/${id}/${kind}`],
    ['another root', `elsewhere/v1/devices/${id}/${kind}`],
    ['empty device level', `${root}/devices//${kind}`],
    ['device id in upper case', `${root}/devices/${id.toUpperCase()}/${kind}`],
    ['device id with a suffix', `${root}/devices/${id}x/${kind}`],
    ['300-character device id', `${root}/devices/${'d'.repeat(300)}/${kind}`],
    ['non-ASCII device id', `${root}/devices/ger\u00e4t-\u00fc-\ud800/${kind}`],
    ['device id with spaces', `${root}/devices/${id.slice(0, 8)} ${id.slice(9)}/${kind}`],
    ['unknown device', `${root}/devices/${prng.uuid()}/${kind}`],
  ];
  const [name, topic] = pick(prng, variants);
  draft.topic = topic;
  return name;
};

const rapidReadings: Mutation = (prng, draft, env) => {
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

const semantic: Mutation = (prng, draft, env) => {
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

const MUTATIONS: Record<HostileCategory, Mutation> = {
  control_characters: controlCharacters,
  unpaired_surrogates: unpairedSurrogates,
  extreme_numbers: extremeNumbers,
  absurd_times: absurdTimesMutation,
  deep_nesting: deepNesting,
  duplicate_keys: duplicateKeys,
  wrong_types: wrongTypes,
  many_readings: manyReadings,
  oversized,
  binary,
  unexpected_topic: unexpectedTopic,
  rapid_readings: rapidReadings,
  semantic,
};

/** Categories whose mutations apply to a status message too (the others are about readings). */
const STATUS_CATEGORIES = new Set<HostileCategory>(
  HOSTILE_CATEGORIES.filter((c) => c !== 'many_readings' && c !== 'rapid_readings'),
);

function pickCategory(prng: Prng, weights: Readonly<Record<HostileCategory, number>>): HostileCategory {
  const total = HOSTILE_CATEGORIES.reduce((sum, c) => sum + weights[c], 0);
  let r = prng.next() * total;
  for (const c of HOSTILE_CATEGORIES) {
    r -= weights[c];
    if (r < 0) return c;
  }
  return HOSTILE_CATEGORIES[HOSTILE_CATEGORIES.length - 1];
}

/**
 * Hostile message `seq` (≥ 1) of a device: deterministic in (seed, device index, seq) apart from the
 * times, which follow `ctx.now` and `ctx.slotTime`. A valid telemetry (or, one time in five, status)
 * message of the device gets one mutation of a category drawn by weight.
 */
export function generateHostileMessage(ctx: GeneratorContext, device: HostileDevice, seq: number): HostileMessage {
  const prng = new Prng(ctx.seed).fork(`hostile:${device.index}:${seq}`);
  const category = pickCategory(prng, ctx.weights ?? DEFAULT_CATEGORY_WEIGHTS);
  const slot = ctx.slotTime(seq);
  const status = STATUS_CATEGORIES.has(category) && prng.chance(0.2);
  const draft: Draft = status
    ? { kind: 'status', body: baseStatus(prng, ctx.now), topic: ctx.topics.status(device.deviceId) }
    : { kind: 'telemetry', body: baseTelemetry(prng, device, seq, slot), topic: ctx.topics.telemetry(device.deviceId) };
  const ownTopic = draft.topic;
  const variant = MUTATIONS[category](prng, draft, { device, ctx, seq, slot });
  // rapid/many readings may turn a status draft into telemetry: it then goes to the telemetry topic.
  const topic = draft.topic !== ownTopic ? draft.topic : ctx.topics[draft.kind](device.deviceId);
  const text = Buffer.from(toJsonText(draft.body));
  const payload = draft.finish ? draft.finish(text) : text;
  return { category, variant, kind: draft.kind, topic, payload, seq };
}
