/**
 * Most samples a window holds, whatever its span: the oldest is dropped beyond it. A second guard
 * behind the ingest's admission (minimum interval per metric), so that no stream, however dense,
 * makes a reading's evaluation walk an unbounded window in the consumer's read loop. Sized so that
 * every stream admission lets through fits the default rules' windows whole: the longest is
 * body_weight.gain_3d's 72 h, at body_weight's 60 s minimum interval 4,320 samples (glucose's 15 min
 * at 55 s: 17); the next power of two (the ring needs one) is 8,192 — 128 KiB, only for a scale
 * weighing once a minute for three days. A per-patient override may widen a window (up to 30 days);
 * a dense stream then keeps its newest 8,192 samples (5.7 days of once-a-minute glucose, 28 days of a
 * 5-minute CGM).
 */
export const MAX_WINDOW_SAMPLES = 8192;

/**
 * The recent readings of one device and metric, in event-time order, for the windowed rule kinds
 * (rate, predictive, trend). A growable ring buffer over typed arrays: pushing a reading allocates
 * nothing once the buffer has reached its working size, and it never grows past `maxSamples`.
 */
export class SampleWindow {
  private times: Float64Array;
  private values: Float64Array;
  private head = 0;
  private count = 0;
  private readonly fit = new Float64Array(2);
  // Scratch of robustFit, allocated on first use (only streams with a robust rule pay for it).
  private robustX: Float64Array | null = null;
  private robustY: Float64Array | null = null;
  private robustPairs: Float64Array | null = null;

  /**
   * @param spanMs how much history to keep behind the latest reading.
   * @param initialCapacity and `maxSamples`: powers of two (the ring indexes with a bit mask).
   */
  constructor(
    public spanMs: number,
    initialCapacity = 16,
    readonly maxSamples = MAX_WINDOW_SAMPLES,
  ) {
    if (!isPowerOfTwo(initialCapacity) || !isPowerOfTwo(maxSamples) || initialCapacity > maxSamples) {
      throw new RangeError(`capacities must be powers of two, initial ≤ max (got ${initialCapacity}, ${maxSamples})`);
    }
    this.times = new Float64Array(initialCapacity);
    this.values = new Float64Array(initialCapacity);
  }

  get size(): number {
    return this.count;
  }

  /** Appends a reading (callers guarantee increasing time) and drops what fell out of the span. */
  push(time: number, value: number): void {
    const from = time - this.spanMs;
    while (this.count > 0 && this.times[this.head] < from) {
      this.head = (this.head + 1) & (this.times.length - 1);
      this.count--;
    }
    if (this.count === this.times.length) {
      if (this.times.length < this.maxSamples) this.grow();
      else {
        // Full at the cap: the oldest sample makes room (the span is then shorter than spanMs).
        this.head = (this.head + 1) & (this.times.length - 1);
        this.count--;
      }
    }
    const at = (this.head + this.count) & (this.times.length - 1);
    this.times[at] = time;
    this.values[at] = value;
    this.count++;
  }

  /**
   * Least-squares slope, in value units per minute, of the readings at or after `from`;
   * NaN when fewer than `minSamples` readings fall in that range.
   */
  slopePerMin(from: number, minSamples: number): number {
    return this.linearFit(from, minSamples, this.fit)[0];
  }

  /**
   * Least-squares line through the readings at or after `from`: `out[0]` its slope (value units per
   * minute), `out[1]` its value at the latest reading's time — the trend's estimate of the value now,
   * less noisy than the latest reading alone. Both NaN when fewer than `minSamples` readings fall in
   * that range. Returns `out`.
   */
  linearFit(from: number, minSamples: number, out: Float64Array): Float64Array {
    out[0] = NaN;
    out[1] = NaN;
    const mask = this.times.length - 1;
    if (this.count === 0) return out;
    const latest = this.times[(this.head + this.count - 1) & mask];
    // Times relative to the latest, in minutes: keeps the sums small and exact enough.
    let n = 0;
    let sx = 0;
    let sy = 0;
    let sxx = 0;
    let sxy = 0;
    for (let i = this.count - 1; i >= 0; i--) {
      const at = (this.head + i) & mask;
      const t = this.times[at];
      if (t < from) break;
      const x = (t - latest) / 60_000;
      const y = this.values[at];
      n++;
      sx += x;
      sy += y;
      sxx += x * x;
      sxy += x * y;
    }
    if (n < minSamples || n < 2) return out;
    const denominator = n * sxx - sx * sx;
    if (denominator === 0) return out;
    const slope = (n * sxy - sx * sy) / denominator;
    out[0] = slope;
    // x is 0 at the latest reading: the intercept is the line's value there.
    out[1] = (sy - slope * sx) / n;
    return out;
  }

  /**
   * The Theil–Sen line through the readings at or after `from` (at most the newest
   * {@link ROBUST_MAX_SAMPLES}): `out[0]` the median of the pairwise slopes (value units per minute),
   * `out[1]` the line's value at the latest reading's time (the median of value − slope × time).
   * Robust to outliers: up to about 29 % of wild readings cannot tilt it, where one tilts a
   * least-squares line. Both NaN with fewer than `minSamples` readings (or fewer than 2). Returns `out`.
   */
  robustFit(from: number, minSamples: number, out: Float64Array): Float64Array {
    out[0] = NaN;
    out[1] = NaN;
    const mask = this.times.length - 1;
    if (this.count === 0) return out;
    const latest = this.times[(this.head + this.count - 1) & mask];
    const xs = (this.robustX ??= new Float64Array(ROBUST_MAX_SAMPLES));
    const ys = (this.robustY ??= new Float64Array(ROBUST_MAX_SAMPLES));
    const pairs = (this.robustPairs ??= new Float64Array((ROBUST_MAX_SAMPLES * (ROBUST_MAX_SAMPLES - 1)) / 2));
    let n = 0;
    for (let i = this.count - 1; i >= 0 && n < ROBUST_MAX_SAMPLES; i--) {
      const at = (this.head + i) & mask;
      const t = this.times[at];
      if (t < from) break;
      xs[n] = (t - latest) / 60_000;
      ys[n] = this.values[at];
      n++;
    }
    if (n < minSamples || n < 2) return out;
    let k = 0;
    for (let i = 0; i < n; i++)
      for (let j = i + 1; j < n; j++) if (xs[i] !== xs[j]) pairs[k++] = (ys[i] - ys[j]) / (xs[i] - xs[j]);
    if (k === 0) return out;
    const slope = medianOf(pairs, k);
    for (let i = 0; i < n; i++) pairs[i] = ys[i] - slope * xs[i];
    out[0] = slope;
    out[1] = medianOf(pairs, n);
    return out;
  }

  /** Lowest (`'min'`) or highest (`'max'`) value at or after `from`; NaN when none. */
  extreme(from: number, which: 'min' | 'max'): number {
    const mask = this.times.length - 1;
    let best = NaN;
    for (let i = this.count - 1; i >= 0; i--) {
      const at = (this.head + i) & mask;
      if (this.times[at] < from) break;
      const v = this.values[at];
      if (Number.isNaN(best) || (which === 'min' ? v < best : v > best)) best = v;
    }
    return best;
  }

  private grow(): void {
    const capacity = this.times.length * 2;
    const times = new Float64Array(capacity);
    const values = new Float64Array(capacity);
    const mask = this.times.length - 1;
    for (let i = 0; i < this.count; i++) {
      times[i] = this.times[(this.head + i) & mask]!;
      values[i] = this.values[(this.head + i) & mask]!;
    }
    this.times = times;
    this.values = values;
    this.head = 0;
  }
}

/** Most readings {@link SampleWindow.robustFit} looks at: its pairwise slopes grow with the square. */
export const ROBUST_MAX_SAMPLES = 32;

/** Median of the first `n` values of `a` (reorders them). */
function medianOf(a: Float64Array, n: number): number {
  const sorted = a.subarray(0, n).sort();
  const mid = n >> 1;
  return n % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

function isPowerOfTwo(n: number): boolean {
  return Number.isInteger(n) && n > 0 && (n & (n - 1)) === 0;
}
