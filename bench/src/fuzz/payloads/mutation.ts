import type { Topics } from '@lantern/messaging/contract';
import type { Prng } from '../../../../device-simulator/src/prng.js';
import { OrderedJsonObject, RawJson, type JsonTree } from '../json-text.js';

/**
 * What every mutation of the hostile-payload generator works on: the hostile device, the message being
 * mutated (a draft of JSON tree, topic and a byte-level finish) and the small helpers the mutation
 * families share to find a place in it. The families themselves live beside this file, one per kind
 * of attack; the generator draws a category and applies its mutation.
 */

/** Device types of the hostile devices: every metric they measure allows a reading a second. */
export type FuzzDeviceType = 'pulse_oximeter' | 'wearable_patch';

export interface HostileDevice {
  /** Position among the hostile devices (part of each message's seed). */
  readonly index: number;
  readonly deviceId: string;
  readonly type: FuzzDeviceType;
}

/** A message being mutated. */
export interface Draft {
  kind: 'telemetry' | 'status';
  body: JsonTree;
  topic: string;
  /** A byte-level edit of the serialised payload (invalid UTF-8 cannot be written as a string). */
  finish?: (payload: Buffer) => Buffer;
}

/** One category's mutation: edits the draft in place and returns the variant's label for the report. */
export type Mutation = (prng: Prng, draft: Draft, env: MutationEnv) => string;

/** Where and when the message is made. */
export interface MutationEnv {
  readonly device: HostileDevice;
  readonly topics: Topics;
  /** Wall clock when the message is made (GeneratorContext.now). */
  readonly now: number;
  readonly seq: number;
  readonly slot: number;
}

export const iso = (t: number) => new Date(t).toISOString();
export const pick = <T>(prng: Prng, items: readonly T[]): T => items[prng.int(0, items.length - 1)];
export const insertAt = (text: string, at: number, what: string) => text.slice(0, at) + what + text.slice(at);
export const isRecord = (v: JsonTree): v is Record<string, JsonTree> =>
  v !== null &&
  typeof v === 'object' &&
  !Array.isArray(v) &&
  !(v instanceof RawJson) &&
  !(v instanceof OrderedJsonObject);

export function readingsOf(draft: Draft): Record<string, JsonTree>[] {
  if (!isRecord(draft.body) || !Array.isArray(draft.body.readings)) return [];
  return draft.body.readings.filter(isRecord);
}

export interface StringField {
  readonly name: string;
  readonly original: string;
  set(value: JsonTree): void;
}

/** A string-valued place of the message (existing or added), for text mutations. */
export function stringField(prng: Prng, draft: Draft, env: MutationEnv): StringField {
  const body = draft.body as Record<string, JsonTree>;
  const at = (target: Record<string, JsonTree>, key: string, name: string, fallback: string): StringField => ({
    name,
    original: typeof target[key] === 'string' ? target[key] : fallback,
    set: (value) => (target[key] = value),
  });
  const choice = prng.int(0, 4);
  if (draft.kind === 'status') {
    if (choice === 0 || choice === 4) return at(body, 'firmware', 'firmware', '2.3.1');
    if (choice === 1) return at(body, 'ts', 'ts', iso(env.now));
    if (choice === 2) return at(body, 'sensorExpiresAt', 'sensorExpiresAt', iso(env.now + 86_400_000));
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

export const codeOf = (c: string) => `U+${c.charCodeAt(0).toString(16).toUpperCase().padStart(4, '0')}`;
/** A value as the report shows it: a verbatim fragment cut to 24 characters, anything else as JSON. */
export const shown = (v: JsonTree) => (v instanceof RawJson ? v.text.slice(0, 24) : JSON.stringify(v));

/** The record as an object whose entries can repeat (duplicate_keys). */
export function ordered(record: Record<string, JsonTree>): OrderedJsonObject {
  return new OrderedJsonObject(Object.entries(record));
}
