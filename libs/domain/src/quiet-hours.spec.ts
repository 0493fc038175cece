import { describe, expect, it } from '@jest/globals';
import { canonicalTimeZone, quietHoursEnd, quietHoursProblem, type QuietHours } from './quiet-hours.js';

const at = (iso: string): number => Date.parse(iso);
const iso = (ms: number | undefined): string | undefined => (ms === undefined ? undefined : new Date(ms).toISOString());

describe('quietHoursEnd', () => {
  const night: QuietHours = { start: '22:00', end: '07:00', timeZone: 'Europe/Paris' };

  it('holds across midnight until the end on the next date (Paris in winter, UTC+1)', () => {
    // 22:30 and 23:59 on 15 January, 00:00 and 06:59 on the 16th: all until 07:00 on the 16th.
    for (const t of ['2026-01-15T21:30:00Z', '2026-01-15T22:59:59Z', '2026-01-15T23:00:00Z', '2026-01-16T05:59:59Z'])
      expect(iso(quietHoursEnd(night, at(t)))).toBe('2026-01-16T06:00:00.000Z');
  });

  it('is outside at the end itself, before the start and during the day', () => {
    expect(quietHoursEnd(night, at('2026-01-16T06:00:00Z'))).toBeUndefined();
    expect(quietHoursEnd(night, at('2026-01-15T20:59:59Z'))).toBeUndefined();
    expect(quietHoursEnd(night, at('2026-01-15T12:00:00Z'))).toBeUndefined();
  });

  it('starts at the start (inclusive)', () => {
    expect(iso(quietHoursEnd(night, at('2026-01-15T21:00:00Z')))).toBe('2026-01-16T06:00:00.000Z');
  });

  it('reads wall-clock time in the patient zone, not UTC (New York, UTC−5)', () => {
    const ny: QuietHours = { start: '22:00', end: '07:00', timeZone: 'America/New_York' };
    // 02:00 UTC on the 16th is 21:00 on the 15th in New York: not yet quiet.
    expect(quietHoursEnd(ny, at('2026-01-16T02:00:00Z'))).toBeUndefined();
    expect(iso(quietHoursEnd(ny, at('2026-01-16T03:30:00Z')))).toBe('2026-01-16T12:00:00.000Z');
  });

  it('handles a window within one day (a nap, 13:00–15:30)', () => {
    const nap: QuietHours = { start: '13:00', end: '15:30', timeZone: 'Europe/Paris' };
    expect(iso(quietHoursEnd(nap, at('2026-07-01T11:00:00Z')))).toBe('2026-07-01T13:30:00.000Z');
    expect(quietHoursEnd(nap, at('2026-07-01T10:59:59Z'))).toBeUndefined();
    expect(quietHoursEnd(nap, at('2026-07-01T13:30:00Z'))).toBeUndefined();
  });

  it('ends an hour earlier in real time on the spring-forward night (Paris, 29 March 2026)', () => {
    // Clocks go 02:00 CET → 03:00 CEST at 01:00 UTC: 07:00 that morning is 05:00 UTC, not 06:00.
    expect(iso(quietHoursEnd(night, at('2026-03-28T21:30:00Z')))).toBe('2026-03-29T05:00:00.000Z');
    expect(iso(quietHoursEnd(night, at('2026-03-29T01:30:00Z')))).toBe('2026-03-29T05:00:00.000Z');
  });

  it('ends an hour later in real time on the fall-back night (Paris, 25 October 2026)', () => {
    // Clocks go 03:00 CEST → 02:00 CET at 01:00 UTC: 07:00 that morning is 06:00 UTC.
    expect(iso(quietHoursEnd(night, at('2026-10-24T20:30:00Z')))).toBe('2026-10-25T06:00:00.000Z');
  });

  it('ends when the clocks jump past an end they skip (02:30 on the spring-forward night)', () => {
    const short: QuietHours = { start: '23:00', end: '02:30', timeZone: 'Europe/Paris' };
    // 00:00 CET on the 29th; 02:30 never happens that night, the window ends at the jump to 03:00 CEST.
    expect(iso(quietHoursEnd(short, at('2026-03-28T23:00:00Z')))).toBe('2026-03-29T01:00:00.000Z');
  });

  it('ends at the first 02:30 after the instant when the autumn night has two', () => {
    const short: QuietHours = { start: '23:00', end: '02:30', timeZone: 'Europe/Paris' };
    // 01:00 CEST: the first 02:30 is CEST (00:30 UTC).
    expect(iso(quietHoursEnd(short, at('2026-10-24T23:00:00Z')))).toBe('2026-10-25T00:30:00.000Z');
    // 02:10 CET, the hour repeated: quiet again, until 02:30 CET (01:30 UTC).
    expect(iso(quietHoursEnd(short, at('2026-10-25T01:10:00Z')))).toBe('2026-10-25T01:30:00.000Z');
    // 02:40 CEST, between the two: not quiet.
    expect(quietHoursEnd(short, at('2026-10-25T00:40:00Z'))).toBeUndefined();
  });

  it('follows the US spring-forward date (New York, 8 March 2026)', () => {
    const ny: QuietHours = { start: '22:00', end: '07:00', timeZone: 'America/New_York' };
    // 23:00 EST on the 7th = 04:00 UTC on the 8th; 07:00 EDT on the 8th = 11:00 UTC.
    expect(iso(quietHoursEnd(ny, at('2026-03-08T04:00:00Z')))).toBe('2026-03-08T11:00:00.000Z');
  });

  it('accepts stored times with seconds (PostgreSQL `time`)', () => {
    const stored: QuietHours = { start: '22:00:00', end: '07:00:30', timeZone: 'UTC' };
    expect(iso(quietHoursEnd(stored, at('2026-01-16T07:00:10Z')))).toBe('2026-01-16T07:00:30.000Z');
  });
});

describe('quietHoursProblem', () => {
  it('accepts a valid window, across midnight or not', () => {
    expect(quietHoursProblem({ start: '22:00', end: '07:00', timeZone: 'Europe/Paris' })).toBeUndefined();
    expect(quietHoursProblem({ start: '00:00', end: '23:59', timeZone: 'UTC' })).toBeUndefined();
  });

  it('says what is wrong', () => {
    expect(quietHoursProblem({ start: '7:00', end: '22:00', timeZone: 'UTC' })).toMatch(
      /start must be a time as HH:MM/,
    );
    expect(quietHoursProblem({ start: '07:00', end: '24:00', timeZone: 'UTC' })).toMatch(/end must be a time as HH:MM/);
    expect(quietHoursProblem({ start: '07:00', end: '07:00', timeZone: 'UTC' })).toMatch(/must differ/);
    expect(quietHoursProblem({ start: '22:00', end: '07:00', timeZone: 'Mars/Olympus' })).toMatch(
      /IANA time zone.*Mars\/Olympus/,
    );
  });

  it('canonicalizes zone names', () => {
    expect(canonicalTimeZone('europe/paris')).toBe('Europe/Paris');
    expect(canonicalTimeZone('')).toBeUndefined();
  });
});
