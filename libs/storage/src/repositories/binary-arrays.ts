/*
 * One-dimensional PostgreSQL arrays in the binary wire format, for the bind parameters of the hot
 * reading insert. node-postgres sends a Buffer parameter as binary (format 1) and anything else as
 * text; as text a batch of 5,000 readings cost the ingest 16-21 ms to build (two ISO strings per
 * reading, then the driver quoting and escaping every element of six arrays into one string) and the
 * server parsing every uuid and timestamp back. Binary: 4-5 ms, no intermediate strings, and the
 * server copies fixed-size values (docs/performance.md).
 *
 * Layout (PostgreSQL array_recv): int32 dimensions (1), int32 has-nulls (0), uint32 element type oid,
 * int32 length, int32 lower bound (1), then per element an int32 byte length and the element's own
 * binary form. No element may be null, except in `boolean[]` (has-nulls 1, a null's length -1). What
 * PostgreSQL would refuse as text is refused here with the same SQLSTATE (class 22), so a caller
 * classifies it as the database's refusal of the data.
 */

const HEADER_BYTES = 20;
const OID = { uuid: 2950, text: 25, timestamptz: 1184, float8: 701, bool: 16 } as const;
/** PostgreSQL's timestamp epoch, 2000-01-01 UTC, in Unix ms. */
const PG_EPOCH_MS = Date.UTC(2000, 0, 1);
const TWO_32 = 2 ** 32;

/** Hex digit values by char code; -1 for anything else. */
const HEX = new Int8Array(128).fill(-1);
for (let c = 0; c < 10; c++) HEX[48 + c] = c;
for (let c = 0; c < 6; c++) HEX[97 + c] = 10 + c; // a-f
for (let c = 0; c < 6; c++) HEX[65 + c] = 10 + c; // A-F

/** An error node-postgres would have reported for the same value sent as text. */
function refused(code: string, message: string): Error {
  return Object.assign(new Error(message), { code });
}

function writeHeader(buf: Buffer, oid: number, n: number, hasNulls = false): number {
  buf.writeInt32BE(1, 0);
  buf.writeInt32BE(hasNulls ? 1 : 0, 4);
  buf.writeUInt32BE(oid, 8);
  buf.writeInt32BE(n, 12);
  buf.writeInt32BE(1, 16);
  return HEADER_BYTES;
}

/** `uuid[]`: each element 16 bytes from its 8-4-4-4-12 hex form. */
export function uuidArray(values: readonly string[]): Buffer {
  const n = values.length;
  const buf = Buffer.allocUnsafe(HEADER_BYTES + n * 20);
  let o = writeHeader(buf, OID.uuid, n);
  for (let i = 0; i < n; i++) {
    buf.writeInt32BE(16, o);
    writeUuid(buf, o + 4, values[i]);
    o += 20;
  }
  return buf;
}

function writeUuid(buf: Buffer, at: number, uuid: string): void {
  if (uuid.length !== 36) throw refused('22P02', `invalid input syntax for type uuid: "${uuid.slice(0, 64)}"`);
  let j = 0;
  for (let i = 0; i < 16; i++) {
    if (j === 8 || j === 13 || j === 18 || j === 23) {
      if (uuid.charCodeAt(j) !== 45) throw refused('22P02', `invalid input syntax for type uuid: "${uuid}"`);
      j += 1;
    }
    const hi = HEX[uuid.charCodeAt(j)] ?? -1;
    const lo = HEX[uuid.charCodeAt(j + 1)] ?? -1;
    if (hi < 0 || lo < 0) throw refused('22P02', `invalid input syntax for type uuid: "${uuid}"`);
    buf[at + i] = (hi << 4) | lo;
    j += 2;
  }
}

/** `text[]`: each element its UTF-8 bytes. */
export function textArray(values: readonly string[]): Buffer {
  let bytes = HEADER_BYTES;
  for (const v of values) bytes += 4 + Buffer.byteLength(v);
  const buf = Buffer.allocUnsafe(bytes);
  let o = writeHeader(buf, OID.text, values.length);
  for (const v of values) {
    if (v.includes('\0')) throw refused('22021', 'invalid byte sequence for encoding "UTF8": 0x00');
    const written = buf.write(v, o + 4);
    buf.writeInt32BE(written, o);
    o += 4 + written;
  }
  return buf;
}

/** `float8[]`: each element an IEEE 754 double, big-endian. */
export function float8Array(values: readonly number[]): Buffer {
  const n = values.length;
  const buf = Buffer.allocUnsafe(HEADER_BYTES + n * 12);
  let o = writeHeader(buf, OID.float8, n);
  for (let i = 0; i < n; i++) {
    buf.writeInt32BE(8, o);
    buf.writeDoubleBE(values[i], o + 4);
    o += 12;
  }
  return buf;
}

/**
 * `timestamptz[]` from Unix ms: each element int64 microseconds since 2000-01-01 UTC. Fractions of
 * a millisecond are dropped, as `new Date(ms).toISOString()` drops them (the text form before).
 */
export function timestamptzArray(unixMs: readonly number[]): Buffer {
  const n = unixMs.length;
  const buf = Buffer.allocUnsafe(HEADER_BYTES + n * 12);
  let o = writeHeader(buf, OID.timestamptz, n);
  for (let i = 0; i < n; i++) {
    const ms = unixMs[i];
    // new Date() accepts ±8.64e15 ms; beyond it (or NaN) there is no instant to send.
    if (!(Math.abs(ms) <= 8.64e15)) throw refused('22008', `timestamp out of range: ${ms}`);
    // Whole microseconds stay exact in a double up to 2^53 (±285 years around 2000): no BigInt needed.
    const micros = (Math.trunc(ms) - PG_EPOCH_MS) * 1000;
    if (!Number.isSafeInteger(micros)) throw refused('22008', `timestamp out of range: ${ms}`);
    const high = Math.floor(micros / TWO_32);
    buf.writeInt32BE(8, o);
    buf.writeInt32BE(high, o + 4);
    buf.writeUInt32BE(micros - high * TWO_32, o + 8);
    o += 12;
  }
  return buf;
}

/** `boolean[]`, nulls allowed: each element one byte (1 or 0), a null only its length -1. */
export function boolArray(values: readonly (boolean | null)[]): Buffer {
  const n = values.length;
  let nulls = 0;
  for (let i = 0; i < n; i++) if (values[i] === null) nulls++;
  const buf = Buffer.allocUnsafe(HEADER_BYTES + n * 5 - nulls);
  let o = writeHeader(buf, OID.bool, n, nulls > 0);
  for (let i = 0; i < n; i++) {
    const v = values[i];
    if (v === null) {
      buf.writeInt32BE(-1, o);
      o += 4;
    } else {
      buf.writeInt32BE(1, o);
      buf[o + 4] = v ? 1 : 0;
      o += 5;
    }
  }
  return buf;
}
