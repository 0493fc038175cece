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
    const mask = this.times.length - 1;
    if (this.count === 0) return NaN;
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
    if (n < minSamples || n < 2) return NaN;
    const denominator = n * sxx - sx * sx;
    if (denominator === 0) return NaN;
    return (n * sxy - sx * sy) / denominator;
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

function isPowerOfTwo(n: number): boolean {
  return Number.isInteger(n) && n > 0 && (n & (n - 1)) === 0;
}
