import type { AlertPriority, Reading } from '@lantern/domain';
import {
  AlertEngine,
  AlertNotHeldError,
  AlertTransitionError,
  type EngineOutput,
  type RuleOverride,
} from '@lantern/alerting';
import type { PatientTrace } from './virtual-patient.js';

/** Which event an alert warns of: what "followed by its event" means for it. */
export type AlertTarget = 'level2' | 'level1' | 'high';

/** One alert an algorithm raised on a trace. Times are event time (the readings' clock), epoch ms. */
export interface RaisedAlert {
  readonly rule: string;
  readonly target: AlertTarget;
  readonly priority: AlertPriority;
  /** Event time of the reading that raised it. */
  readonly raisedAt: number;
  /** When it stopped being active (resolved), or Infinity when still active at the end of the trace. */
  endedAt: number;
}

/** An alert algorithm run over one patient's readings, in event-time order. */
export interface AlertAlgorithm {
  readonly name: string;
  run(trace: PatientTrace): RaisedAlert[];
}

const MIN_MS = 60_000;

/** Lantern's glucose rules and what each warns of. */
export const LANTERN_TARGETS: Readonly<Record<string, AlertTarget>> = {
  'glucose.urgent_low': 'level2',
  'glucose.urgent_low_soon': 'level2',
  'glucose.low': 'level1',
  'glucose.falling_fast': 'level1',
  'glucose.high': 'high',
};

export interface LanternOptions {
  /** Rule parameters that differ from the catalog (the variants measured in docs/alert-quality.md). */
  readonly overrides?: readonly RuleOverride[];
  /**
   * Minutes after it is raised that a clinician acknowledges an open high or medium alert (low
   * alerts go to the care team's board only and are left alone). Null: nobody acknowledges.
   */
  readonly acknowledgeAfterMin: number | null;
  /** Wall-clock delay between a reading's event time and its evaluation (the ingest's latency). */
  readonly latencyMs: number;
}

/**
 * Lantern's alert engine as the ingest runs it: the real `AlertEngine`, fed each reading at its
 * event time with a wall clock `latencyMs` behind it, swept as the ingest's periodic sweep does, and
 * a clinician acknowledging as {@link LanternOptions} says. The engine decides everything —
 * latching, hysteresis, take-over, re-arming; the harness only reads its transitions.
 */
export class LanternAlgorithm implements AlertAlgorithm {
  constructor(
    readonly name: string,
    private readonly options: LanternOptions,
  ) {}

  run(trace: PatientTrace): RaisedAlert[] {
    let ids = 0;
    const engine = new AlertEngine({ newId: () => `${trace.id}-${++ids}` });
    const deviceId = `${trace.id}-cgm`;
    engine.registerDevice({ deviceId, patientId: trace.id, type: 'cgm' });
    if (this.options.overrides && this.options.overrides.length > 0)
      engine.setOverrides(trace.id, this.options.overrides, trace.start);
    const raised: RaisedAlert[] = [];
    const byId = new Map<string, RaisedAlert>();
    const acknowledgements: { id: string; due: number }[] = [];
    const collect = (out: EngineOutput, now: number): void => {
      for (const t of out.transitions) {
        const target = LANTERN_TARGETS[t.alert.rule];
        if (target === undefined) continue;
        if (t.kind === 'opened') {
          const alert: RaisedAlert = {
            rule: t.alert.rule,
            target,
            priority: t.alert.priority,
            raisedAt: t.alert.openedAt,
            endedAt: Infinity,
          };
          raised.push(alert);
          byId.set(t.alert.id, alert);
          const after = this.options.acknowledgeAfterMin;
          if (after !== null && t.alert.priority !== 'low')
            acknowledgements.push({ id: t.alert.id, due: t.alert.raisedAt + after * MIN_MS });
        } else if (t.kind === 'resolved') {
          const alert = byId.get(t.alert.id);
          // Back on the readings' clock: the wall clock runs latencyMs behind event time here.
          if (alert) alert.endedAt = now - this.options.latencyMs;
        }
      }
    };
    for (let i = 0; i < trace.readingTimes.length; i++) {
      const time = trace.readingTimes[i];
      const now = time + this.options.latencyMs;
      while (acknowledgements.length > 0 && acknowledgements[0].due <= now) {
        const { id, due } = acknowledgements.shift()!;
        try {
          collect(engine.acknowledge(id, 'clinician', due), due);
        } catch (error) {
          // Resolved (or acknowledged) before the clinician got to it.
          if (!(error instanceof AlertNotHeldError) && !(error instanceof AlertTransitionError)) throw error;
        }
      }
      collect(engine.sweep(now), now);
      const reading: Reading = {
        deviceId,
        patientId: trace.id,
        metric: 'glucose',
        value: trace.readingValues[i],
        time,
        receivedAt: now,
      };
      collect(engine.onReading(reading, now), now);
    }
    return raised;
  }
}

/** A fixed-threshold alarm as CGM apps have them: raised on crossing, cleared once back (no hysteresis, no delay). */
class ThresholdAlarm {
  private active: RaisedAlert | null = null;

  constructor(
    private readonly rule: string,
    private readonly target: AlertTarget,
    private readonly priority: AlertPriority,
    private readonly beyond: (value: number) => boolean,
  ) {}

  feed(time: number, value: number, into: RaisedAlert[]): void {
    this.set(time, this.beyond(value), into);
  }

  set(time: number, on: boolean, into: RaisedAlert[]): void {
    if (on && this.active === null) {
      this.active = {
        rule: this.rule,
        target: this.target,
        priority: this.priority,
        raisedAt: time,
        endedAt: Infinity,
      };
      into.push(this.active);
    } else if (!on && this.active !== null) {
      this.active.endedAt = time;
      this.active = null;
    }
  }
}

/**
 * Nightscout-like: its default fixed thresholds — urgent low below 55, low below 80 (the bottom of
 * its target range), urgent high above 260 — each alarm raised on crossing and ended when back.
 * Written here independently of Lantern's engine.
 */
export class NightscoutLikeAlgorithm implements AlertAlgorithm {
  readonly name = 'Nightscout-like';

  run(trace: PatientTrace): RaisedAlert[] {
    const out: RaisedAlert[] = [];
    const alarms = [
      new ThresholdAlarm('urgent low <55', 'level2', 'high', (v) => v < 55),
      new ThresholdAlarm('low <80', 'level1', 'medium', (v) => v < 80),
      new ThresholdAlarm('urgent high >260', 'high', 'low', (v) => v > 260),
    ];
    for (let i = 0; i < trace.readingTimes.length; i++)
      for (const alarm of alarms) alarm.feed(trace.readingTimes[i], trace.readingValues[i], out);
    return out;
  }
}

/**
 * Dexcom-like: urgent low below 55, low below 70, high above 250, and "urgent low soon" — the
 * least-squares line through the last 15 min of readings (at least 3) projected 20 min ahead falls
 * below 55 while the reading is not yet below it. Independent of Lantern's engine.
 */
export class DexcomLikeAlgorithm implements AlertAlgorithm {
  readonly name = 'Dexcom-like';

  run(trace: PatientTrace): RaisedAlert[] {
    const out: RaisedAlert[] = [];
    const urgent = new ThresholdAlarm('urgent low <55', 'level2', 'high', (v) => v < 55);
    const soon = new ThresholdAlarm('urgent low soon', 'level2', 'high', () => false);
    const low = new ThresholdAlarm('low <70', 'level1', 'medium', (v) => v < 70);
    const high = new ThresholdAlarm('high >250', 'high', 'low', (v) => v > 250);
    const times = trace.readingTimes;
    const values = trace.readingValues;
    for (let i = 0; i < times.length; i++) {
      const t = times[i];
      const v = values[i];
      urgent.feed(t, v, out);
      low.feed(t, v, out);
      high.feed(t, v, out);
      const slope = leastSquaresSlope(times, values, i, 15 * MIN_MS, 3);
      soon.set(t, v >= 55 && !Number.isNaN(slope) && v + slope * 20 < 55, out);
    }
    return out;
  }
}

/** Slope (per minute) of the readings in (times[i] − spanMs, times[i]], NaN with fewer than `min`. */
function leastSquaresSlope(
  times: readonly number[],
  values: readonly number[],
  i: number,
  spanMs: number,
  min: number,
): number {
  let n = 0;
  let sx = 0;
  let sy = 0;
  let sxx = 0;
  let sxy = 0;
  for (let j = i; j >= 0 && times[j] >= times[i] - spanMs; j--) {
    const x = (times[j] - times[i]) / MIN_MS;
    const y = values[j];
    n++;
    sx += x;
    sy += y;
    sxx += x * x;
    sxy += x * y;
  }
  const d = n * sxx - sx * sx;
  return n < min || d === 0 ? NaN : (n * sxy - sx * sy) / d;
}
