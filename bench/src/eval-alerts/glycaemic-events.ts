/**
 * Glycaemic events by the consensus definitions (Battelino et al. 2019 and 2023, "International
 * consensus on time in range" / CGM-based event definitions; Danne et al. 2017), applied to the
 * true (blood) glucose, sampled every minute:
 * - level-1 hypoglycaemia: below 70 mg/dL for at least 15 min (an event of level 2 is also one of level 1);
 * - level-2 hypoglycaemia: below 54 mg/dL for at least 15 min;
 * - a hypoglycaemic event ends when glucose has been at or above 70 mg/dL for 15 min;
 * - level-2 hyperglycaemia: above 250 mg/dL for at least 15 min, ending when at or below 250 for 15 min.
 * Times are epoch ms; `start` is the first minute beyond the threshold, `end` the first minute of
 * the 15 back in range.
 */
export interface GlycaemicEvent {
  readonly kind: EventKind;
  readonly start: number;
  readonly end: number;
  /** Lowest (hypo) or highest (hyper) true glucose during the event. */
  readonly extreme: number;
}

export type EventKind = 'level1' | 'level2' | 'high';

const MIN_MS = 60_000;
/** Minutes beyond a threshold that make an event, and back in range that end it. */
export const EVENT_MIN_MINUTES = 15;

interface Definition {
  readonly beyond: (g: number) => boolean;
  readonly back: (g: number) => boolean;
  readonly lower: boolean;
}

const DEFINITIONS: Record<EventKind, Definition> = {
  level1: { beyond: (g) => g < 70, back: (g) => g >= 70, lower: true },
  level2: { beyond: (g) => g < 54, back: (g) => g >= 70, lower: true },
  high: { beyond: (g) => g > 250, back: (g) => g <= 250, lower: false },
};

/** The events of one kind in a trace of one value per minute from `start` (epoch ms). */
export function findEvents(kind: EventKind, glucose: ArrayLike<number>, start: number): GlycaemicEvent[] {
  const def = DEFINITIONS[kind];
  const events: GlycaemicEvent[] = [];
  let i = 0;
  const n = glucose.length;
  while (i < n) {
    if (!def.beyond(glucose[i])) {
      i++;
      continue;
    }
    // A run beyond the threshold: an event when it lasts 15 min.
    let j = i;
    while (j < n && def.beyond(glucose[j])) j++;
    if (j - i < EVENT_MIN_MINUTES) {
      i = j;
      continue;
    }
    // It ends once back in range for 15 consecutive minutes; later dips before that belong to it.
    let extreme = glucose[i];
    let k = i;
    let backRun = 0;
    while (k < n && backRun < EVENT_MIN_MINUTES) {
      const g = glucose[k];
      extreme = def.lower ? Math.min(extreme, g) : Math.max(extreme, g);
      backRun = def.back(g) ? backRun + 1 : 0;
      k++;
    }
    const endMinute = backRun >= EVENT_MIN_MINUTES ? k - EVENT_MIN_MINUTES : n;
    events.push({ kind, start: start + i * MIN_MS, end: start + endMinute * MIN_MS, extreme });
    i = k;
  }
  return events;
}
