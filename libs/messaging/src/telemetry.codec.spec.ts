import { describe, expect, it, jest } from '@jest/globals';
import { decodeTelemetry, parseTimestamp, type DecodeContext } from './telemetry.codec.js';
import { decodeStatus } from './status.codec.js';
import { deviceErrorsMessage } from './ingest-rejection.js';

const NOW = Date.parse('2026-11-22T10:00:00.000Z');
const DEVICE = '6f1c2d3e-4b5a-4c6d-8e9f-0a1b2c3d4e5f';
const ctx: DecodeContext = { receivedAt: NOW, maxBackfillMs: 30 * 86_400_000, deviceId: DEVICE };

const json = (value: unknown): Buffer => Buffer.from(JSON.stringify(value), 'utf8');
const decode = (value: unknown, c: Partial<DecodeContext> = {}) =>
  decodeTelemetry(typeof value === 'string' || Buffer.isBuffer(value) ? Buffer.from(value as string) : json(value), {
    ...ctx,
    ...c,
  });

describe('decodeTelemetry: whole-message refusals', () => {
  it.each([
    ['truncated JSON', '{"seq":1,"readings":[{"metric":"heart_rate","value":7', 'invalid_json'],
    ['empty payload', '', 'invalid_json'],
    ['a JSON array', '[{"metric":"heart_rate","value":72}]', 'invalid_message'],
    ['a JSON string', '"hello"', 'invalid_message'],
    ['null', 'null', 'invalid_message'],
    ['readings not an array', '{"readings":{"metric":"heart_rate"}}', 'invalid_message'],
    ['readings missing', '{"seq":1}', 'invalid_message'],
    ['empty readings', '{"readings":[]}', 'no_readings'],
    ['negative seq', '{"seq":-1,"readings":[{"metric":"heart_rate","value":72}]}', 'invalid_seq'],
    ['fractional seq', '{"seq":1.5,"readings":[{"metric":"heart_rate","value":72}]}', 'invalid_seq'],
    ['string seq', '{"seq":"12","readings":[{"metric":"heart_rate","value":72}]}', 'invalid_seq'],
    ['unparseable message ts', '{"ts":"yesterday","readings":[{"metric":"heart_rate","value":72}]}', 'invalid_ts'],
    [
      'message ts without offset',
      '{"ts":"2026-11-22T10:00:00","readings":[{"metric":"heart_rate","value":72}]}',
      'invalid_ts',
    ],
    [
      'a spoofed device id in the payload',
      `{"deviceId":"00000000-0000-0000-0000-000000000000","readings":[{"metric":"heart_rate","value":72}]}`,
      'device_mismatch',
    ],
  ])('%s', (_name, payload, code) => {
    const result = decode(payload);
    expect(result.readings).toEqual([]);
    expect(result.rejections).toHaveLength(1);
    expect(result.rejections[0].code).toBe(code);
    expect(result.rejections[0].index).toBeUndefined();
    expect(result.rejections[0].reason.length).toBeGreaterThan(5);
  });

  it('refuses binary garbage as not UTF-8 without looking further', () => {
    const garbage = Buffer.from([0xff, 0xfe, 0x00, 0x81, 0xc3, 0x28, 0xa0, 0xa1]);
    expect(decode(garbage).rejections[0].code).toBe('invalid_utf8');
  });

  it('refuses a 10 MB payload by size before decoding it', () => {
    const big = Buffer.from(`{"readings":[${'{"metric":"heart_rate","value":70},'.repeat(300_000)}]}`);
    expect(big.length).toBeGreaterThan(10_000_000);
    const parse = jest.spyOn(JSON, 'parse');
    const result = decode(big);
    // Refused on its size alone: never parsed.
    expect(parse).not.toHaveBeenCalled();
    parse.mockRestore();
    expect(result.rejections[0]).toMatchObject({ code: 'payload_too_large' });
    expect(result.rejections[0].reason).toContain('65536');
  });

  it('accepts exactly 64 KiB and refuses one byte more', () => {
    const base = JSON.stringify({ readings: [{ metric: 'heart_rate', value: 72 }], pad: '' });
    const fill = 64 * 1024 - base.length;
    expect(
      decode(JSON.stringify({ readings: [{ metric: 'heart_rate', value: 72 }], pad: 'x'.repeat(fill) })).readings,
    ).toHaveLength(1);
    expect(
      decode(JSON.stringify({ readings: [{ metric: 'heart_rate', value: 72 }], pad: 'x'.repeat(fill + 1) }))
        .rejections[0].code,
    ).toBe('payload_too_large');
  });

  it('refuses 10 000 readings: by size at the real limit, by count when the size limit allows them', () => {
    const payload = { seq: 3, readings: Array.from({ length: 10_000 }, () => ({ metric: 'steps', value: 1 })) };
    expect(decode(payload).rejections[0].code).toBe('payload_too_large');
    const result = decode(payload, { maxPayloadBytes: 10 * 1024 * 1024 });
    expect(result.seq).toBe(3);
    expect(result.rejections).toEqual([
      { code: 'too_many_readings', reason: 'readings has 10000 items, at most 1000 are allowed' },
    ]);
  });

  it('accepts 1000 readings', () => {
    const readings = Array.from({ length: 1000 }, (_, i) => ({ metric: 'steps', value: i, ts: NOW - i * 1000 }));
    expect(decode({ readings }).readings).toHaveLength(1000);
  });
});

describe('decodeTelemetry: readings', () => {
  it('decodes the contract example, converting mmol/L to mg/dL', () => {
    const result = decode({
      seq: 1042,
      ts: '2026-11-22T10:00:00.000Z',
      readings: [
        { metric: 'heart_rate', value: 72 },
        { metric: 'glucose', value: 5.4, unit: 'mmol/L', ts: '2026-11-22T09:59:00Z' },
      ],
    });
    expect(result.seq).toBe(1042);
    expect(result.rejections).toEqual([]);
    expect(result.readings[0]).toEqual({ index: 0, metric: 'heart_rate', value: 72, time: NOW });
    expect(result.readings[1].metric).toBe('glucose');
    expect(result.readings[1].value).toBeCloseTo(97.2864, 6);
    expect(result.readings[1].time).toBe(NOW - 60_000);
  });

  it('converts kPa, Fahrenheit and pounds, and accepts the canonical unit spelled out', () => {
    const result = decode({
      readings: [
        { metric: 'systolic_bp', value: 16, unit: 'kPa' },
        { metric: 'body_temperature', value: 98.6, unit: '[degF]' },
        { metric: 'body_weight', value: 150, unit: 'lb' },
        { metric: 'spo2', value: 97, unit: '%' },
      ],
    });
    expect(result.rejections).toEqual([]);
    expect(result.readings.map((r) => r.value)).toEqual([
      expect.closeTo(120.00992, 5),
      expect.closeTo(37, 5),
      expect.closeTo(68.0388555, 5),
      97,
    ]);
  });

  it('falls back to the receive time when neither reading nor message has a ts', () => {
    expect(decode({ readings: [{ metric: 'spo2', value: 95 }] }).readings[0].time).toBe(NOW);
  });

  it('accepts ISO-8601 with offsets and epoch milliseconds', () => {
    expect(parseTimestamp('2026-11-22T11:00:00+01:00')).toBe(NOW);
    expect(parseTimestamp('2026-11-22T10:00:00.000000Z')).toBe(NOW);
    expect(parseTimestamp('2026-11-22T10:00Z')).toBe(NOW);
    expect(parseTimestamp(NOW)).toBe(NOW);
    expect(parseTimestamp('2026-11-22')).toBeUndefined();
    expect(parseTimestamp(String(NOW))).toBeUndefined();
    expect(parseTimestamp(-5)).toBeUndefined();
    expect(parseTimestamp('2026-13-45T99:00:00Z')).toBeUndefined();
  });

  it('refuses each bad reading with its index and keeps the good ones (partial acceptance)', () => {
    const result = decode({
      seq: 7,
      readings: [
        { metric: 'heart_rate', value: 72 },
        { metric: 'glucose', value: 100, unit: 'mg' },
        { metric: 'cholesterol', value: 5 },
        { metric: 'spo2', value: 140 },
        { metric: 'heart_rate', value: 'NaN' },
        { metric: 'heart_rate', value: 'Infinity' },
        { metric: 'heart_rate', value: '72' },
        { metric: 'heart_rate', value: null },
        { metric: 'heart_rate', value: 80, ts: NOW + 6 * 60_000 },
        { metric: 'heart_rate', value: 80, ts: NOW - 31 * 86_400_000 },
        { metric: 'heart_rate', value: 80, ts: 'noon' },
        'heart_rate=72',
        { metric: 42, value: 1 },
        { metric: 'glucose', value: 5, unit: 7 },
        { metric: 'spo2', value: 96, ts: NOW + 4 * 60_000 },
      ],
    });
    expect(result.readings.map((r) => r.index)).toEqual([0, 14]);
    expect(result.rejections.map((r) => [r.index, r.code])).toEqual([
      [1, 'invalid_unit'],
      [2, 'unknown_metric'],
      [3, 'implausible_value'],
      [4, 'invalid_value'],
      [5, 'invalid_value'],
      [6, 'invalid_value'],
      [7, 'invalid_value'],
      [8, 'ts_in_future'],
      [9, 'ts_too_old'],
      [10, 'invalid_ts'],
      [11, 'invalid_reading'],
      [12, 'unknown_metric'],
      [13, 'invalid_unit'],
    ]);
    expect(result.rejections[0].reason).toBe("unit 'mg' not convertible to mg/dL");
    expect(result.rejections[2].reason).toBe('spo2 140 % is outside the plausible range 50–100');
  });

  it('refuses a value that JSON turns into Infinity (1e999)', () => {
    const result = decode('{"readings":[{"metric":"heart_rate","value":1e999}]}');
    expect(result.rejections).toEqual([{ code: 'invalid_value', reason: 'value must be a finite number', index: 0 }]);
  });

  it('refuses a converted value that leaves the plausible range', () => {
    expect(decode({ readings: [{ metric: 'glucose', value: 40, unit: 'mmol/L' }] }).rejections[0].code).toBe(
      'implausible_value',
    );
  });

  it('applies the message ts window to readings that inherit it', () => {
    const result = decode({
      ts: NOW + 3_600_000,
      readings: [
        { metric: 'spo2', value: 96 },
        { metric: 'spo2', value: 96, ts: NOW },
      ],
    });
    expect(result.rejections.map((r) => [r.index, r.code])).toEqual([[0, 'ts_in_future']]);
    expect(result.readings).toHaveLength(1);
  });

  it('honours a shorter backfill limit', () => {
    expect(
      decode({ readings: [{ metric: 'spo2', value: 96, ts: NOW - 2 * 3_600_000 }] }, { maxBackfillMs: 3_600_000 })
        .rejections[0].code,
    ).toBe('ts_too_old');
  });

  it('does not trip over prototype keys used as metric names', () => {
    expect(
      decode({
        readings: [
          { metric: '__proto__', value: 1 },
          { metric: 'constructor', value: 1 },
        ],
      }).rejections.map((r) => r.code),
    ).toEqual(['unknown_metric', 'unknown_metric']);
  });

  it('accepts its own device id in the payload', () => {
    expect(decode({ deviceId: DEVICE, readings: [{ metric: 'spo2', value: 96 }] }).readings).toHaveLength(1);
  });
});

describe('deviceErrorsMessage', () => {
  it('shapes the errors-topic reply of contract §1.1', () => {
    expect(
      deviceErrorsMessage(1042, [{ code: 'invalid_unit', reason: "unit 'mg' not convertible to mg/dL", index: 1 }]),
    ).toEqual({
      seq: 1042,
      errors: [{ index: 1, reason: "unit 'mg' not convertible to mg/dL" }],
    });
    expect(deviceErrorsMessage(undefined, [{ code: 'invalid_json', reason: 'x' }])).toEqual({
      errors: [{ reason: 'x' }],
    });
  });
});

describe('decodeStatus', () => {
  const status = (value: unknown) => decodeStatus(typeof value === 'string' ? Buffer.from(value) : json(value), ctx);

  it('decodes every field of contract §1.2', () => {
    expect(
      status({
        ts: '2026-11-22T10:00:00Z',
        battery: 14,
        online: true,
        firmware: '2.3.1',
        rssi: -71,
        sensorExpiresAt: '2026-11-30T00:00:00+00:00',
      }),
    ).toEqual({
      ok: true,
      status: {
        time: NOW,
        battery: 14,
        online: true,
        firmware: '2.3.1',
        rssi: -71,
        sensorExpiresAt: '2026-11-30T00:00:00.000Z',
      },
    });
  });

  it('accepts the last will alone', () => {
    expect(status({ online: false })).toEqual({ ok: true, status: { time: NOW, online: false } });
  });

  it.each([
    [{}, 'invalid_status'],
    [{ battery: 140 }, 'invalid_status'],
    [{ battery: '50' }, 'invalid_status'],
    [{ online: 'yes' }, 'invalid_status'],
    [{ firmware: '' }, 'invalid_status'],
    [{ rssi: 20 }, 'invalid_status'],
    [{ sensorExpiresAt: 'soon' }, 'invalid_status'],
    [{ online: true, ts: 'now' }, 'invalid_ts'],
    [{ online: true, ts: NOW + 3_600_000 }, 'ts_in_future'],
    [{ online: true, deviceId: 'someone-else' }, 'device_mismatch'],
    ['{"online":tru', 'invalid_json'],
  ])('refuses %j (%s)', (value, code) => {
    const result = status(value);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.rejection.code).toBe(code);
  });
});

describe('times outside the sane range (2000-01-01 … 9999-12-31)', () => {
  it('refuses "ts": 1e17 on one reading only, with a clear reason, and keeps the others', () => {
    const result = decode({
      seq: 9,
      readings: [
        { metric: 'spo2', value: 96, ts: NOW - 2000 },
        { metric: 'spo2', value: 97, ts: 1e17 },
        { metric: 'spo2', value: 98, ts: NOW },
      ],
    });
    expect(result.readings.map((r) => r.index)).toEqual([0, 2]);
    expect(result.rejections).toEqual([
      {
        code: 'invalid_ts',
        index: 1,
        reason: 'ts must lie between 2000-01-01T00:00:00.000Z and 9999-12-31T23:59:59.999Z; got 100000000000000000',
      },
    ]);
  });

  it.each([
    ['before 2000', 946_684_799_999],
    ['zero', 0],
    ['negative zero', -0],
    ['negative', -5],
    ['just past year 9999', 253_402_300_800_000],
    ['past what a Date can hold', 8.64e15 + 1],
    ['1e308', 1e308],
    ['year 0000 as ISO', '0000-01-01T00:00:00Z'],
    ['year 1999 as ISO', '1999-12-31T23:59:59Z'],
  ])('refuses a reading ts %s as invalid_ts', (_name, ts) => {
    const result = decode({ readings: [{ metric: 'spo2', value: 96, ts }] });
    expect(result.rejections.map((r) => [r.index, r.code])).toEqual([[0, 'invalid_ts']]);
    expect(result.rejections[0].reason).toMatch(/^ts must lie between 2000-01-01/);
  });

  it('refuses an out-of-range message ts as a whole, like a malformed one', () => {
    const result = decode({ ts: 1e17, readings: [{ metric: 'spo2', value: 96 }] });
    expect(result.readings).toEqual([]);
    expect(result.rejections).toEqual([
      {
        code: 'invalid_ts',
        reason: 'ts must lie between 2000-01-01T00:00:00.000Z and 9999-12-31T23:59:59.999Z; got 100000000000000000',
      },
    ]);
  });

  it('reads the range bounds themselves; the window then judges them', () => {
    expect(parseTimestamp(Date.UTC(2000, 0, 1))).toBe(Date.UTC(2000, 0, 1));
    expect(parseTimestamp('9999-12-31T23:59:59.999Z')).toBe(253_402_300_799_999);
    expect(decode({ readings: [{ metric: 'spo2', value: 96, ts: '9999-12-31T23:59:59.999Z' }] }).rejections).toEqual([
      { code: 'ts_in_future', reason: 'ts 9999-12-31T23:59:59.999Z is more than 5 minutes in the future', index: 0 },
    ]);
  });

  it('never throws in a status either: ts 1e17 and a year-0 sensor expiry are refused', () => {
    expect(decodeStatus(json({ online: true, ts: 1e17 }), ctx)).toMatchObject({
      ok: false,
      rejection: { code: 'invalid_ts' },
    });
    expect(decodeStatus(json({ sensorExpiresAt: '0000-01-01T00:00:00Z' }), ctx)).toMatchObject({
      ok: false,
      rejection: { code: 'invalid_status' },
    });
  });
});

describe('text the database refuses or that has no place in a field', () => {
  it('refuses a metric name with U+0000 as invalid_text, escaped in the reason', () => {
    const result = decode({ readings: [{ metric: 'gl\u0000ucose', value: 96 }] });
    expect(result.rejections).toEqual([
      {
        code: 'invalid_text',
        index: 0,
        reason: "metric 'gl\\u0000ucose' contains the control character U+0000 at index 2",
      },
    ]);
  });

  it('refuses a metric name or a unit with an unpaired surrogate', () => {
    const result = decode({
      readings: [
        { metric: 'x\ud800', value: 96 },
        { metric: 'glucose', value: 96, unit: 'mg\udc00' },
        { metric: 'glucose', value: 96, unit: 'mg/d\u0007L' },
      ],
    });
    expect(result.rejections).toEqual([
      { code: 'invalid_text', index: 0, reason: "metric 'x\\ud800' contains an unpaired surrogate U+D800 at index 1" },
      { code: 'invalid_text', index: 1, reason: "unit 'mg\\udc00' contains an unpaired surrogate U+DC00 at index 2" },
      {
        code: 'invalid_text',
        index: 2,
        reason: "unit 'mg/d\\u0007L' contains the control character U+0007 at index 4",
      },
    ]);
  });

  it('cuts a long unknown metric name without splitting a surrogate pair', () => {
    const name = `${'m'.repeat(63)}😀${'x'.repeat(100)}`;
    const reason = decode({ readings: [{ metric: name, value: 1 }] }).rejections[0].reason;
    expect(reason).toBe(`unknown metric '${'m'.repeat(63)}😀…'`);
  });

  it('escapes the device text V8 quotes in a JSON syntax error', () => {
    const result = decode(Buffer.from('{"readings":tru\u0000e}'));
    expect(result.rejections[0].code).toBe('invalid_json');
    expect(result.rejections[0].reason).not.toContain('\u0000');
    expect(result.rejections[0].reason).toContain('\\u0000');
  });

  it.each([
    ['U+0000', '2.\u00001', 'contains the control character U+0000 at index 2'],
    ['a newline', '2.3\n', 'contains the control character U+000A at index 3'],
    ['DEL', '2\u007f', 'contains the control character U+007F at index 1'],
    ['a lone high surrogate', '2.3\ud83d', 'contains an unpaired surrogate U+D83D at index 3'],
    ['a lone low surrogate', '\ude00', 'contains an unpaired surrogate U+DE00 at index 0'],
  ])('refuses a firmware with %s as invalid_text, without echoing it', (_name, firmware, problem) => {
    expect(decodeStatus(json({ firmware }), ctx)).toEqual({
      ok: false,
      rejection: { code: 'invalid_text', reason: `firmware ${problem}` },
    });
  });

  it('accepts a firmware with non-ASCII text and proper surrogate pairs', () => {
    expect(decodeStatus(json({ firmware: '2.3.1-β 😀' }), ctx)).toEqual({
      ok: true,
      status: { time: NOW, firmware: '2.3.1-β 😀' },
    });
  });
});
