import { iso, type PlanStep } from './plan.js';
import { Prng } from './prng.js';

/**
 * Every kind of malformed or hostile input a device can send (contract §1.1 lists what must be
 * rejected, dead-lettered and answered on the errors topic, without blocking anything else).
 */
export const BAD_DEVICE_KINDS = [
  'truncated-json',
  'invalid-json',
  'non-object-json',
  'missing-readings',
  'empty-readings',
  'wrong-type-readings',
  'wrong-type-value',
  'wrong-type-metric',
  'wrong-type-ts',
  'wrong-type-seq',
  'null-value',
  'nan-literal',
  'infinity',
  'oversize',
  'binary',
  'invalid-utf8',
  'too-many-readings',
  'unknown-metric',
  'bad-unit',
  'implausible-value',
  'future-ts',
  'too-old-ts',
  'unparseable-ts',
  'partially-valid',
  'duplicate-reading',
  'bad-status',
  'spoofed-topic',
  'unknown-topic',
  'too-frequent',
  'metric-not-for-device',
  'unrepresentable-ts',
  'nul-in-text',
  'lone-surrogate',
] as const;
export type BadDeviceKind = (typeof BAD_DEVICE_KINDS)[number];

const json = (value: unknown): Buffer => Buffer.from(JSON.stringify(value), 'utf8');
const text = (value: string): Buffer => Buffer.from(value, 'utf8');

/**
 * The bad-device timeline: a valid message, one step per malformed kind every 500 ms, a valid message
 * last. The valid readings among them keep at least a second between two of a metric in event time,
 * so that what the ingest refuses is only what each kind is about (admission refuses faster ones).
 */
export function badDeviceSteps({ seed = 1, t0 }: { seed?: number | string; t0: number }): PlanStep[] {
  const prng = new Prng(seed).fork('bad-device');
  const at = (i: number) => i * 500;
  const ts = (i: number) => iso(t0 + at(i));
  const good = (i: number, seq: number, value: number) =>
    json({ seq, ts: ts(i), readings: [{ metric: 'heart_rate', value }] });
  const otherDevice = prng.uuid();

  const payloads: Record<BadDeviceKind, (i: number) => { payload: Buffer; topic?: string; deviceId?: string }> = {
    'truncated-json': (i) => ({ payload: good(i, 100, 71).subarray(0, 30) }),
    'invalid-json': () => ({ payload: text("{seq: 1, readings: [{metric: 'heart_rate', value: 70}]}") }),
    'non-object-json': () => ({ payload: json([{ metric: 'heart_rate', value: 70 }]) }),
    'missing-readings': (i) => ({ payload: json({ seq: 101, ts: ts(i) }) }),
    'empty-readings': (i) => ({ payload: json({ seq: 102, ts: ts(i), readings: [] }) }),
    'wrong-type-readings': (i) => ({
      payload: json({ seq: 103, ts: ts(i), readings: { metric: 'heart_rate', value: 70 } }),
    }),
    'wrong-type-value': (i) => ({
      payload: json({ seq: 104, ts: ts(i), readings: [{ metric: 'heart_rate', value: '70' }] }),
    }),
    'wrong-type-metric': (i) => ({ payload: json({ seq: 105, ts: ts(i), readings: [{ metric: 42, value: 70 }] }) }),
    'wrong-type-ts': () => ({ payload: json({ seq: 106, ts: true, readings: [{ metric: 'heart_rate', value: 70 }] }) }),
    'wrong-type-seq': (i) => ({
      payload: json({ seq: 'one', ts: ts(i), readings: [{ metric: 'heart_rate', value: 70 }] }),
    }),
    'null-value': (i) => ({
      payload: json({ seq: 107, ts: ts(i), readings: [{ metric: 'heart_rate', value: null }] }),
    }),
    // JSON has no NaN: a device serialising a NaN float naively produces this text.
    'nan-literal': (i) => ({
      payload: text(`{"seq":108,"ts":"${ts(i)}","readings":[{"metric":"heart_rate","value":NaN}]}`),
    }),
    // Valid JSON whose number overflows to Infinity when parsed.
    infinity: (i) => ({
      payload: text(`{"seq":109,"ts":"${ts(i)}","readings":[{"metric":"heart_rate","value":1e999}]}`),
    }),
    oversize: (i) => ({
      payload: json({
        seq: 110,
        ts: ts(i),
        readings: [{ metric: 'heart_rate', value: 70 }],
        padding: 'x'.repeat(70 * 1024),
      }),
    }),
    binary: () => ({ payload: Buffer.from(Array.from({ length: 256 }, () => prng.int(0, 255))) }),
    'invalid-utf8': (i) => ({
      payload: Buffer.concat([
        text(`{"seq":111,"ts":"${ts(i)}","readings":[{"metric":"heart_rate","value":70,"unit":"`),
        Buffer.from([0xff, 0xfe, 0xc3]),
        text('"}]}'),
      ]),
    }),
    'too-many-readings': (i) => ({
      payload: json({
        seq: 112,
        readings: Array.from({ length: 10_000 }, (_, k) => ({
          metric: 'heart_rate',
          value: 70,
          ts: iso(t0 + at(i) - (10_000 - k) * 1000),
        })),
      }),
    }),
    'unknown-metric': (i) => ({
      payload: json({ seq: 113, ts: ts(i), readings: [{ metric: 'blood_alcohol', value: 0.4 }] }),
    }),
    'bad-unit': (i) => ({
      payload: json({ seq: 114, ts: ts(i), readings: [{ metric: 'glucose', value: 95, unit: 'mg' }] }),
    }),
    'implausible-value': (i) => ({
      payload: json({ seq: 115, ts: ts(i), readings: [{ metric: 'spo2', value: 140 }] }),
    }),
    'future-ts': (i) => ({
      payload: json({ seq: 116, ts: iso(t0 + at(i) + 3_600_000), readings: [{ metric: 'heart_rate', value: 70 }] }),
    }),
    'too-old-ts': (i) => ({
      payload: json({
        seq: 117,
        ts: iso(t0 + at(i) - 60 * 86_400_000),
        readings: [{ metric: 'heart_rate', value: 70 }],
      }),
    }),
    'unparseable-ts': () => ({
      payload: json({ seq: 118, ts: 'yesterday at noon', readings: [{ metric: 'heart_rate', value: 70 }] }),
    }),
    // One valid reading (stored) next to a bad one (rejected with its index).
    'partially-valid': (i) => ({
      payload: json({
        seq: 119,
        ts: ts(i),
        readings: [
          { metric: 'heart_rate', value: 73 },
          { metric: 'glucose', value: 95, unit: 'mg' },
        ],
      }),
    }),
    // The same (device, metric, time) twice: stored once, first value wins. Stamped 1 s after the
    // previous kind's valid heart rate (published 0.5 s before), which a faster one would be too soon after.
    'duplicate-reading': (i) => ({
      payload: json({
        seq: 120,
        readings: [
          { metric: 'heart_rate', value: 74, ts: iso(t0 + at(i) + 500) },
          { metric: 'heart_rate', value: 99, ts: iso(t0 + at(i) + 500) },
        ],
      }),
    }),
    'bad-status': () => ({ topic: 'status', payload: json({ battery: 'full', online: 'yes' }) }),
    // Telemetry for a device this client is not: the broker's ACL or the ingest must refuse it.
    'spoofed-topic': (i) => ({ deviceId: otherDevice, payload: good(i, 121, 66) }),
    'unknown-topic': (i) => ({ topic: 'commands', payload: good(i, 122, 66) }),
    // A faulty sensor: ten heart rates 1 ms apart. The first is stored, nine are refused (too_frequent).
    'too-frequent': (i) => ({
      payload: json({
        seq: 123,
        readings: Array.from({ length: 10 }, (_, k) => ({ metric: 'heart_rate', value: 70, ts: iso(t0 + at(i) + k) })),
      }),
    }),
    // A pulse oximeter does not measure glucose (metric_not_for_device).
    'metric-not-for-device': (i) => ({
      payload: json({ seq: 124, ts: ts(i), readings: [{ metric: 'glucose', value: 100 }] }),
    }),
    // A time no Date can hold next to a valid reading: only the first is refused (invalid_ts).
    'unrepresentable-ts': (i) => ({
      payload: text(
        `{"seq":125,"readings":[{"metric":"heart_rate","value":70,"ts":1e17},{"metric":"spo2","value":97,"ts":"${ts(i)}"}]}`,
      ),
    }),
    // U+0000, which PostgreSQL refuses in text: refused by the codec (invalid_text), never stored.
    'nul-in-text': () => ({ topic: 'status', payload: text('{"firmware":"2.\\u00001"}') }),
    // An unpaired surrogate (valid JSON escape, invalid Unicode text) in a metric name.
    'lone-surrogate': (i) => ({
      payload: text(`{"seq":126,"ts":"${ts(i)}","readings":[{"metric":"heart_rate\\ud800","value":70}]}`),
    }),
  };

  const steps: PlanStep[] = [
    { kind: 'status', atMs: 0, payload: { ts: iso(t0), online: true, battery: 88, firmware: '0.0.1-bad' } },
    {
      kind: 'telemetry',
      atMs: 0,
      payload: { seq: 1, ts: ts(0), readings: [{ metric: 'heart_rate', value: 70 }] },
      qos: 1,
      note: 'valid before',
    },
  ];
  BAD_DEVICE_KINDS.forEach((label, k) => {
    const i = k + 1;
    const { payload, topic = 'telemetry', deviceId } = payloads[label](i);
    steps.push({ kind: 'raw', atMs: at(i), topic, deviceId, payload, label });
  });
  const last = BAD_DEVICE_KINDS.length + 1;
  steps.push({
    kind: 'telemetry',
    atMs: at(last),
    payload: { seq: 2, ts: ts(last), readings: [{ metric: 'heart_rate', value: 72 }] },
    qos: 1,
    note: 'valid after',
  });
  return steps;
}
