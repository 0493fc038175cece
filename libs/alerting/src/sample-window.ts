/**
 * The recent readings of one device and metric, in event-time order, for the windowed rule kinds
 * (rate, predictive, trend). A growable ring buffer over typed arrays: pushing a reading allocates
 * nothing once the buffer has reached its working size.
 */
export class SampleWindow {
  private times: Float64Array;
  private values: Float64Array;
  private head = 0;
  private count = 0;

  /** @param spanMs how much history to keep behind the latest reading. */
  constructor(
    public spanMs: number,
    initialCapacity = 16,
  ) {
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
    if (this.count === this.times.length) this.grow();
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
