import { ParseError } from './setting.js';

/*
 * The parsers settings of every section share: integers in a range, text, URLs, durations, one of
 * a list, booleans. Parsers of one section's values live in that section.
 */

/** An integer between `min` and `max`, both included. */
export const int =
  (min: number, max: number) =>
  (raw: string): number | ParseError => {
    const n = Number(raw);
    if (!/^-?\d+$/.test(raw.trim()) || !Number.isSafeInteger(n))
      return new ParseError(`must be an integer, got '${raw}'`);
    if (n < min || n > max) return new ParseError(`must be between ${min} and ${max}, got ${n}`);
    return n;
  };

/** Text of at least `minLength` characters. */
export const text =
  (minLength = 1) =>
  (raw: string): string | ParseError =>
    raw.length >= minLength ? raw : new ParseError(`must be at least ${minLength} characters long`);

/** A URL with one of `protocols` (written as `URL.protocol` gives them: `'postgres:'`). */
export const url =
  (...protocols: string[]) =>
  (raw: string): string | ParseError => {
    try {
      const parsed = new URL(raw);
      if (!protocols.includes(parsed.protocol)) {
        return new ParseError(
          `must use ${protocols.map((p) => p.replace(':', '://')).join(' or ')}, got '${parsed.protocol}//'`,
        );
      }
      return raw;
    } catch {
      return new ParseError('must be a URL');
    }
  };

const UNITS_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
/** "90d", "7d", "36h", "15m", "30s": a duration, parsed to milliseconds. */
export const duration =
  (minMs: number) =>
  (raw: string): number | ParseError => {
    const m = /^(\d+)(ms|s|m|h|d)$/.exec(raw.trim());
    if (!m) return new ParseError(`must be a duration like 30s, 15m, 36h or 90d, got '${raw}'`);
    const ms = Number(m[1]) * UNITS_MS[m[2]];
    if (ms < minMs) return new ParseError(`must be at least ${minMs} ms`);
    return ms;
  };

/** One of the listed words, exactly. */
export const oneOf =
  <T extends string>(...values: T[]) =>
  (raw: string): T | ParseError =>
    (values as string[]).includes(raw)
      ? (raw as T)
      : new ParseError(`must be one of ${values.join(', ')}, got '${raw}'`);

/** `true` or `1`, `false` or `0`. */
export const bool = (raw: string): boolean | ParseError =>
  raw === 'true' || raw === '1'
    ? true
    : raw === 'false' || raw === '0'
      ? false
      : new ParseError(`must be true or false, got '${raw}'`);
