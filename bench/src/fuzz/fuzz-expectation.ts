import type { MetricKey } from '@lantern/domain';
import { decodeStatus, decodeTelemetry, parseDeviceTopic, type Topics } from '@lantern/messaging/contract';
import type { HostileMessage } from './hostile-payload.generator.js';

/**
 * What the database must show for one hostile message once the ingest has acknowledged it
 * (docs/reliability.md, "Fuzzing: accounting"):
 *
 * - `readings`: telemetry on the device's own topic whose `seq` the codec reads. Its dead letters
 *   carry that seq, so the message is accounted for when a whole-message dead letter exists, or when
 *   each reading either has a dead letter with its index or is stored at its (device, metric, time).
 * - `single`: no seq can be read (binary, broken JSON, a seq of the wrong type), a status the codec
 *   refuses, or a topic naming no registered device: exactly one dead letter without seq on its topic.
 * - `status`: a status the codec accepts: applied, or (were the database to refuse it) one dead letter.
 * - `unrouted`: the topic matches none of the ingest's subscriptions, so the broker never delivers it.
 *   On Lantern's own brokers the device ACL refuses such a publish; the fuzz broker is anonymous.
 */
export type Expectation =
  | { readonly kind: 'readings'; readonly seq: number; readonly whole: boolean; readonly readings: ExpectedReading[] }
  | { readonly kind: 'single' }
  | { readonly kind: 'status' }
  | { readonly kind: 'unrouted' };

/** A reading of a `readings` message: metric and time when the codec accepts it, else neither (a dead letter is due). */
export interface ExpectedReading {
  readonly index: number;
  readonly metric?: MetricKey;
  readonly time?: number;
}

/** The decoding context the codec gets in the ingest, as far as the harness can know it. */
export interface ExpectationContext {
  readonly topics: Topics;
  readonly deviceId: string;
  /** Stands in for the ingest's receive time: the fuzz keeps its times far from the window's edges. */
  readonly receivedAt: number;
  readonly maxBackfillMs: number;
}

/** The topic as the ingest will see it: mqtt.js writes it as UTF-8, so an unpaired surrogate arrives as U+FFFD. */
export function topicOnTheWire(topic: string): string {
  return Buffer.from(topic, 'utf8').toString('utf8');
}

/** Whether an MQTT topic filter (`+` and a trailing `#`) matches a topic. */
export function topicMatches(filter: string, topic: string): boolean {
  const f = filter.split('/');
  const t = topic.split('/');
  for (let i = 0; i < f.length; i++) {
    if (f[i] === '#') return true;
    if (i >= t.length) return false;
    if (f[i] !== '+' && f[i] !== t[i]) return false;
  }
  return f.length === t.length;
}

/**
 * The expectation of a hostile message, from the codec of libs/messaging (pure): which seq its dead
 * letters will carry and which readings the codec accepts. Admission (minimum interval, metric of the
 * device type) and the database decide the rest, which is why an accepted reading may still be
 * dead-lettered. Throws when the generator made a message that could not be attributed.
 */
export function expectationOf(message: HostileMessage, ctx: ExpectationContext): Expectation {
  const topic = topicOnTheWire(message.topic);
  const { topics } = ctx;
  if (!topicMatches(topics.allTelemetry, topic) && !topicMatches(topics.allStatus, topic)) return { kind: 'unrouted' };
  const route = parseDeviceTopic(topics.root, topic);
  if (!route || route.deviceId !== ctx.deviceId) return { kind: 'single' };
  const decodeContext = { receivedAt: ctx.receivedAt, maxBackfillMs: ctx.maxBackfillMs, deviceId: ctx.deviceId };
  if (route.kind === 'status')
    return decodeStatus(message.payload, decodeContext).ok ? { kind: 'status' } : { kind: 'single' };
  const decoded = decodeTelemetry(message.payload, decodeContext);
  const whole = decoded.readings.length === 0 && decoded.rejections.some((r) => r.index === undefined);
  if (decoded.seq === undefined) {
    if (whole) return { kind: 'single' };
    throw new Error(`fuzz generator bug: ${message.category} (${message.variant}) has readings but no seq`);
  }
  if (decoded.seq !== message.seq)
    throw new Error(
      `fuzz generator bug: ${message.category} (${message.variant}) turned seq ${message.seq} into ${decoded.seq}`,
    );
  const readings: ExpectedReading[] = [
    ...decoded.readings.map((r) => ({ index: r.index, metric: r.metric, time: r.time })),
    ...decoded.rejections.flatMap((r) => (r.index === undefined ? [] : [{ index: r.index }])),
  ];
  return { kind: 'readings', seq: decoded.seq, whole, readings };
}
