/**
 * Quiet hours (spec/alerting.md §5): a patient's daily window, in wall-clock time of their own
 * time zone, during which low-priority patient messages are held until the window ends. Which
 * messages are low-priority is decided where they are stored (docs/alerting.md, "Quiet hours");
 * this file only does the clock: validation and "is this instant inside, and until when".
 */

/** A patient's quiet window: `start` and `end` as 'HH:MM' (24 h), `timeZone` an IANA name. */
export interface QuietHours {
  readonly start: string;
  readonly end: string;
  readonly timeZone: string;
}

const TIME_OF_DAY = /^([01]\d|2[0-3]):([0-5]\d)(?::([0-5]\d))?$/;
/** What a patient may enter: hours and minutes only (stored values may carry seconds). */
const HOURS_MINUTES = /^([01]\d|2[0-3]):[0-5]\d$/;

/** Seconds since midnight of 'HH:MM' or 'HH:MM:SS' (as PostgreSQL returns a `time`), undefined if malformed. */
function secondsOfDay(time: string): number | undefined {
  const m = TIME_OF_DAY.exec(time);
  return m ? Number(m[1]) * 3600 + Number(m[2]) * 60 + Number(m[3] ?? 0) : undefined;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

/** One cached formatter per zone: building one costs far more than using it. Throws on an unknown zone. */
function formatterFor(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (f === undefined) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    formatters.set(timeZone, f);
  }
  return f;
}

interface WallClock {
  readonly year: number;
  readonly month: number;
  readonly day: number;
  /** Seconds since local midnight. */
  readonly seconds: number;
}

function wallClock(at: number, timeZone: string): WallClock {
  const parts: Record<string, number> = {};
  for (const p of formatterFor(timeZone).formatToParts(at)) if (p.type !== 'literal') parts[p.type] = Number(p.value);
  return {
    year: parts.year,
    month: parts.month,
    day: parts.day,
    seconds: parts.hour * 3600 + parts.minute * 60 + parts.second,
  };
}

/** The zone's offset from UTC at `at`, in ms (whole seconds: sub-second parts are dropped by the formatter). */
function offsetAt(at: number, timeZone: string): number {
  const w = wallClock(at, timeZone);
  const asUtc = Date.UTC(w.year, w.month - 1, w.day) + w.seconds * 1000;
  return asUtc - Math.floor(at / 1000) * 1000;
}

/**
 * The canonical name of an IANA time zone as Intl knows it ('europe/paris' → 'Europe/Paris'),
 * undefined if Intl does not know it.
 */
export function canonicalTimeZone(timeZone: string): string | undefined {
  if (timeZone.length === 0 || timeZone.length > 64) return undefined;
  try {
    return new Intl.DateTimeFormat('en-US', { timeZone }).resolvedOptions().timeZone;
  } catch {
    return undefined;
  }
}

/** What is wrong with a quiet window a patient entered, in words for them; undefined when it is valid. */
export function quietHoursProblem(q: QuietHours): string | undefined {
  if (!HOURS_MINUTES.test(q.start))
    return `quietHours.start must be a time as HH:MM (00:00 to 23:59), not "${q.start}"`;
  if (!HOURS_MINUTES.test(q.end)) return `quietHours.end must be a time as HH:MM (00:00 to 23:59), not "${q.end}"`;
  if (q.start === q.end) return 'quietHours.start and quietHours.end must differ (an empty or whole-day window)';
  if (canonicalTimeZone(q.timeZone) === undefined)
    return `quietHours.timeZone must be an IANA time zone such as Europe/Paris, not "${q.timeZone}"`;
  return undefined;
}

/**
 * When the quiet window that contains instant `at` (epoch ms) ends — the first instant after `at`
 * whose wall clock in the patient's zone reads `end` — or undefined when `at` is outside it. The
 * window is in wall-clock time, so across midnight (22:00–07:00) it spans two dates, and on a day
 * the clocks change it is an hour shorter or longer in real time. An `end` that the clocks skip
 * (02:30 on a spring-forward night) ends the window when the clocks jump past it; an `end` that
 * happens twice (autumn) ends it at its first occurrence after `at`.
 */
export function quietHoursEnd(q: QuietHours, at: number): number | undefined {
  const start = secondsOfDay(q.start);
  const end = secondsOfDay(q.end);
  if (start === undefined || end === undefined || start === end) return undefined;
  const now = wallClock(at, q.timeZone);
  const inside = start < end ? now.seconds >= start && now.seconds < end : now.seconds >= start || now.seconds < end;
  if (!inside) return undefined;
  // The end falls on today's date, or tomorrow's for a window across midnight entered before midnight.
  const nextDay = start > end && now.seconds >= start ? 1 : 0;
  const target = Date.UTC(now.year, now.month - 1, now.day + nextDay) + end * 1000;
  // The instants whose wall clock reads `target`: one per offset the zone has around it (two in autumn).
  const offsets = new Set([offsetAt(target - 86_400_000, q.timeZone), offsetAt(target + 86_400_000, q.timeZone)]);
  const candidates = [...offsets]
    .map((offset) => target - offset)
    .filter((t) => t > at && wallSeconds(t, q.timeZone) === target)
    .sort((a, b) => a - b);
  if (candidates.length > 0) return candidates[0];
  // Skipped by the clocks: the window ends at the jump, the first instant whose wall clock is past `end`.
  const bounds = [...offsets].map((offset) => target - offset).sort((a, b) => a - b);
  let low = Math.max(bounds[0], at);
  let high = bounds[bounds.length - 1];
  while (high - low > 1000) {
    const mid = low + Math.max(1000, Math.floor((high - low) / 2000) * 1000);
    if (wallSeconds(mid, q.timeZone) >= target) high = mid;
    else low = mid;
  }
  return high;
}

/** The wall clock at `at` as if it were UTC, ms (to compare with a wall-clock target). */
function wallSeconds(at: number, timeZone: string): number {
  const w = wallClock(at, timeZone);
  return Date.UTC(w.year, w.month - 1, w.day) + w.seconds * 1000;
}

/** A patient's own settings as the API answers them (GET/PUT /me/settings). */
export interface PatientSettingsResource {
  /** Null: no quiet hours. */
  quietHours: QuietHours | null;
  /** ISO time of the last change; null until first saved. */
  updatedAt: string | null;
}
