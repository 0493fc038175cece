import { RawJson, type JsonTree } from '../json-text.js';
import { iso, pick, readingsOf, shown, type Mutation } from './mutation.js';

/**
 * Mutations of the numbers and times of a message: values and seqs at and past what a double holds,
 * and times no device should send (epoch extremes, impossible dates, junk) next to a few odd valid ones.
 */

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
/** extreme_numbers */
export const extremeNumbers: Mutation = (prng, draft) => {
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

/** absurd_times */
export const absurdTimesMutation: Mutation = (prng, draft, env) => {
  const body = draft.body as Record<string, JsonTree>;
  const [label, t] = pick(prng, absurdTimes(env.now, env.slot));
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
