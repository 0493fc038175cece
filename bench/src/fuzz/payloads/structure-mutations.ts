import { nestedArrays, nestedObjects, type JsonTree } from '../json-text.js';
import { normalValue } from './base-message.js';
import { ordered, pick, readingsOf, shown, type Mutation } from './mutation.js';

/**
 * Mutations of the JSON structure of a message: nesting thousands deep, keys that repeat (JSON.parse
 * keeps the last) and values of the wrong type in every place of a message.
 */

/** deep_nesting */
export const deepNesting: Mutation = (prng, draft) => {
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

/** duplicate_keys */
export const duplicateKeys: Mutation = (prng, draft, env) => {
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

/** wrong_types */
export const wrongTypes: Mutation = (prng, draft) => {
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
