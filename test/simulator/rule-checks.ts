// Independent re-statements of the default rules of spec/alerting.md §4, with the spec's numbers
// written out here on purpose: the scenarios are checked against the spec, not against themselves.

export interface Point {
  time: number;
  value: number;
}

export const SPEC = {
  'glucose.urgent_low': { direction: 'below', threshold: 54, delaySec: 0, hysteresis: 5 },
  'glucose.low': { direction: 'below', threshold: 70, delaySec: 0, hysteresis: 5 },
  'heart_rate.high': { direction: 'above', threshold: 130, delaySec: 60, hysteresis: 5 },
  'heart_rate.low': { direction: 'below', threshold: 40, delaySec: 30, hysteresis: 5 },
  'spo2.low': { direction: 'below', threshold: 90, delaySec: 60, hysteresis: 2 },
  'spo2.critical': { direction: 'below', threshold: 85, delaySec: 15, hysteresis: 2 },
  'systolic_bp.high': { direction: 'above', threshold: 180, delaySec: 0, hysteresis: 10 },
  'systolic_bp.low': { direction: 'below', threshold: 90, delaySec: 0, hysteresis: 5 },
  'respiratory_rate.high': { direction: 'above', threshold: 30, delaySec: 60, hysteresis: 2 },
  'respiratory_rate.low': { direction: 'below', threshold: 8, delaySec: 30, hysteresis: 1 },
  'body_temperature.fever': { direction: 'above', threshold: 38.3, delaySec: 0, hysteresis: 0.3 },
} as const;

type ThresholdSpec = { direction: 'below' | 'above'; threshold: number; delaySec: number; hysteresis: number };

/** Time (ms) at which a threshold rule fires, or undefined; and when it clears afterwards. */
export function thresholdFires(points: Point[], rule: ThresholdSpec): { firedAt?: number; clearedAt?: number } {
  const beyond = (v: number) => (rule.direction === 'below' ? v < rule.threshold : v > rule.threshold);
  const cleared = (v: number) =>
    rule.direction === 'below' ? v > rule.threshold + rule.hysteresis : v < rule.threshold - rule.hysteresis;
  let since: number | undefined;
  let firedAt: number | undefined;
  for (const p of points) {
    if (firedAt === undefined) {
      if (!beyond(p.value)) since = undefined;
      else {
        since ??= p.time;
        if (p.time - since >= rule.delaySec * 1000) firedAt = p.time;
      }
    } else if (cleared(p.value)) return { firedAt, clearedAt: p.time };
  }
  return { firedAt };
}

/** Least-squares slope in units per minute. */
export function slopePerMin(points: Point[]): number {
  const n = points.length;
  const mx = points.reduce((s, p) => s + p.time, 0) / n;
  const my = points.reduce((s, p) => s + p.value, 0) / n;
  let num = 0;
  let den = 0;
  for (const p of points) {
    num += (p.time - mx) * (p.value - my);
    den += (p.time - mx) ** 2;
  }
  return (num / den) * 60_000;
}

/** Window ending at `i`, both boundary conventions; the check must hold for both. */
function windows(points: Point[], i: number, windowSec: number): Point[][] {
  const end = points[i].time;
  return [
    points.filter((p) => p.time > end - windowSec * 1000 && p.time <= end),
    points.filter((p) => p.time >= end - windowSec * 1000 && p.time <= end),
  ];
}

/** glucose.falling_fast: falling ≥ 3 mg/dL/min over 15 min with ≥ 3 samples. First time it holds. */
export function fallingFastAt(points: Point[]): number | undefined {
  for (let i = 0; i < points.length; i++) {
    const ws = windows(points, i, 900);
    if (ws.every((w) => w.length >= 3 && slopePerMin(w) <= -3)) return points[i].time;
  }
  return undefined;
}

/** glucose.urgent_low_soon: trend over 15 min (≥ 3 samples) projects below 55 within 20 min while the value is not below 55 yet. */
export function urgentLowSoonAt(points: Point[]): number | undefined {
  for (let i = 0; i < points.length; i++) {
    const p = points[i];
    if (p.value < 55) continue;
    const ws = windows(points, i, 900);
    if (ws.every((w) => w.length >= 3 && p.value + slopePerMin(w) * 20 < 55)) return p.time;
  }
  return undefined;
}

/** body_weight.gain_3d: latest minus the lowest of the previous 72 h (exclusive boundary) ≥ 2 kg. */
export function weightGainAt(points: Point[]): number | undefined {
  for (let i = 0; i < points.length; i++) {
    const p = points[i];
    const earlier = points.filter((q) => q.time > p.time - 72 * 3_600_000 && q.time < p.time);
    if (earlier.length > 0 && p.value - Math.min(...earlier.map((q) => q.value)) >= 2) return p.time;
  }
  return undefined;
}
