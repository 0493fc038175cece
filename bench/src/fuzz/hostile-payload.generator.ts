import type { Topics } from '@lantern/messaging/contract';
import { Prng } from '../../../device-simulator/src/prng.js';
import { toJsonText } from './json-text.js';
import { baseStatus, baseTelemetry } from './payloads/base-message.js';
import type { Draft, HostileDevice, Mutation } from './payloads/mutation.js';
import { absurdTimesMutation, extremeNumbers } from './payloads/number-and-time-mutations.js';
import { rapidReadings, semantic } from './payloads/semantic-mutations.js';
import { binary, manyReadings, oversized } from './payloads/size-and-encoding-mutations.js';
import { deepNesting, duplicateKeys, wrongTypes } from './payloads/structure-mutations.js';
import { controlCharacters, unpairedSurrogates } from './payloads/text-mutations.js';
import { unexpectedTopic } from './payloads/topic-mutations.js';

export type { FuzzDeviceType, HostileDevice } from './payloads/mutation.js';

/*
 * The hostile-payload generator: for each (seed, device, seq) it draws a category by weight, builds a
 * valid base message of the device and applies that category's mutation. The mutation families live
 * in ./payloads/ (text, numbers and times, structure, size and encoding, topic, semantic); this file
 * owns the categories, their weights and the composition.
 */

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
  const variant = MUTATIONS[category](prng, draft, { device, topics: ctx.topics, now: ctx.now, seq, slot });
  // rapid/many readings may turn a status draft into telemetry: it then goes to the telemetry topic.
  const topic = draft.topic !== ownTopic ? draft.topic : ctx.topics[draft.kind](device.deviceId);
  const text = Buffer.from(toJsonText(draft.body));
  const payload = draft.finish ? draft.finish(text) : text;
  return { category, variant, kind: draft.kind, topic, payload, seq };
}
