import { MAX_PAYLOAD_BYTES, MAX_READINGS_PER_MESSAGE } from '@lantern/messaging/contract';
import { toJsonText, type JsonTree } from '../json-text.js';
import { normalValue } from './base-message.js';
import { pick, type Mutation } from './mutation.js';

/**
 * Mutations of a message's size and bytes: the most readings a message may carry (and one more),
 * payloads at and past the 64 KiB limit, and bytes that are not UTF-8 JSON at all.
 */

/** many_readings */
export const manyReadings: Mutation = (prng, draft, env) => {
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

/** oversized */
export const oversized: Mutation = (prng, draft) => {
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

/** binary */
export const binary: Mutation = (prng, draft) => {
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
