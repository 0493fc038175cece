import { describe, expect, it } from '@jest/globals';
import { classifyDatabaseError } from './sql-helpers.js';
import { boolArray, float8Array, textArray, timestamptzArray, uuidArray } from './binary-arrays.js';

/** The array header: dimensions, has-nulls, element oid, length, lower bound. */
function header(buf: Buffer): number[] {
  return [buf.readInt32BE(0), buf.readInt32BE(4), buf.readUInt32BE(8), buf.readInt32BE(12), buf.readInt32BE(16)];
}

describe('PostgreSQL binary array parameters', () => {
  it('uuid[]: oid 2950, 16 bytes per element from either letter case', () => {
    const buf = uuidArray(['00112233-4455-6677-8899-aabbccddeeff', '00112233-4455-6677-8899-AABBCCDDEEFF']);
    expect(header(buf)).toEqual([1, 0, 2950, 2, 1]);
    expect(buf.length).toBe(20 + 2 * 20);
    for (const at of [20, 40]) {
      expect(buf.readInt32BE(at)).toBe(16);
      expect(buf.subarray(at + 4, at + 20).toString('hex')).toBe('00112233445566778899aabbccddeeff');
    }
  });

  it.each([
    'not-a-uuid',
    '00112233-4455-6677-8899-aabbccddeef',
    '00112233x4455-6677-8899-aabbccddeeff',
    '0011223g-4455-6677-8899-aabbccddeeff',
    '00112233-4455-6677-8899-aabbccddeeé',
  ])('refuses %j as PostgreSQL would (22P02, a refusal of the data, not a retry)', (value) => {
    let error: unknown;
    try {
      uuidArray([value]);
    } catch (e) {
      error = e;
    }
    expect(error).toMatchObject({ code: '22P02' });
    expect(classifyDatabaseError(error)).toBe('refused');
  });

  it('timestamptz[]: oid 1184, int64 microseconds since 2000-01-01 UTC, fractions of a ms dropped', () => {
    const epoch2000 = Date.UTC(2000, 0, 1);
    const buf = timestamptzArray([epoch2000, epoch2000 + 1.9, epoch2000 - 1, Date.UTC(2026, 11, 6, 12, 0, 0, 123)]);
    expect(header(buf)).toEqual([1, 0, 1184, 4, 1]);
    const micros = [0, 1, 2, 3].map((i) => {
      expect(buf.readInt32BE(20 + i * 12)).toBe(8);
      return buf.readBigInt64BE(24 + i * 12);
    });
    expect(micros).toEqual([0n, 1000n, -1000n, BigInt(Date.UTC(2026, 11, 6, 12, 0, 0, 123) - epoch2000) * 1000n]);
  });

  it('timestamptz[]: refuses what has no instant (22008)', () => {
    for (const ms of [NaN, Infinity, 9e15, -9e15]) expect(() => timestamptzArray([ms])).toThrow(/out of range/);
  });

  it('float8[]: oid 701, IEEE 754 big-endian, bit for bit', () => {
    const values = [0, -0, 1.5, -273.15, 1e300, 5e-324];
    const buf = float8Array(values);
    expect(header(buf)).toEqual([1, 0, 701, values.length, 1]);
    expect(values.map((_, i) => buf.readDoubleBE(24 + i * 12))).toEqual(values);
  });

  it('boolean[]: oid 16, one byte per element; nulls flagged in the header and sent as length -1', () => {
    const withNulls = boolArray([true, null, false]);
    expect(header(withNulls)).toEqual([1, 1, 16, 3, 1]);
    expect(withNulls.length).toBe(20 + 5 + 4 + 5);
    expect([
      withNulls.readInt32BE(20),
      withNulls[24],
      withNulls.readInt32BE(25),
      withNulls.readInt32BE(29),
      withNulls[33],
    ]).toEqual([1, 1, -1, 1, 0]);
    expect(header(boolArray([false]))).toEqual([1, 0, 16, 1, 1]);
  });

  it('text[]: oid 25, UTF-8 bytes with their length; refuses NUL as PostgreSQL does', () => {
    const buf = textArray(['heart_rate', 'é', '']);
    expect(header(buf)).toEqual([1, 0, 25, 3, 1]);
    expect(buf.readInt32BE(20)).toBe(10);
    expect(buf.subarray(24, 34).toString()).toBe('heart_rate');
    expect(buf.readInt32BE(34)).toBe(2);
    expect(buf.subarray(38, 40).toString()).toBe('é');
    expect(buf.readInt32BE(40)).toBe(0);
    expect(buf.length).toBe(44);
    let error: unknown;
    try {
      textArray(['a\0b']);
    } catch (e) {
      error = e;
    }
    expect(error).toMatchObject({ code: '22021' });
  });
});
