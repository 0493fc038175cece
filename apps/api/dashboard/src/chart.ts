import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { METRICS, type MetricKey, type ReadingBucketResource } from '@lantern/domain';

const CHART_HEIGHT = 220;

export interface ThresholdLine {
  value: number;
  label: string;
  priority: string;
}

/**
 * One metric's chart: the bucket average as a line, min–max as a band, the patient's effective
 * thresholds as labelled dashed lines, and live readings appended as they arrive.
 */
export class MetricChart {
  private plot: uPlot | null = null;
  private data: [number[], number[], number[], number[]] = [[], [], [], []];
  private thresholds: ThresholdLine[] = [];
  private windowSec = 6 * 3600;
  private pending = 0;
  private readonly resize = new ResizeObserver(() => this.fit());

  constructor(
    private readonly host: HTMLElement,
    private readonly metric: MetricKey,
  ) {
    this.resize.observe(host);
  }

  setThresholds(lines: ThresholdLine[]): void {
    this.thresholds = lines;
    this.plot?.redraw(false);
  }

  /** Replaces the history with buckets covering the last `windowSec`. */
  setHistory(buckets: ReadingBucketResource[], windowSec: number): void {
    this.windowSec = windowSec;
    const sorted = [...buckets].sort((a, b) => Date.parse(a.ts) - Date.parse(b.ts));
    this.data = [
      sorted.map((b) => Date.parse(b.ts) / 1000),
      sorted.map((b) => b.avg),
      sorted.map((b) => b.min),
      sorted.map((b) => b.max),
    ];
    this.draw();
  }

  /** A live reading: appended (or replacing a same-second point), then the window is trimmed. */
  addReading(ts: string, value: number): void {
    const t = Date.parse(ts) / 1000;
    const [xs, avg, min, max] = this.data;
    if (xs.length && t < xs[xs.length - 1]) return;
    if (xs.length && t === xs[xs.length - 1]) {
      avg[avg.length - 1] = value;
    } else {
      xs.push(t);
      avg.push(value);
      min.push(value);
      max.push(value);
    }
    const cutoff = Date.now() / 1000 - this.windowSec;
    while (xs.length && xs[0] < cutoff) this.data.forEach((series) => series.shift());
    if (!this.pending) this.pending = requestAnimationFrame(() => this.draw());
  }

  points(): number {
    return this.data[0].length;
  }

  destroy(): void {
    this.resize.disconnect();
    cancelAnimationFrame(this.pending);
    this.plot?.destroy();
  }

  private draw(): void {
    this.pending = 0;
    const now = Date.now() / 1000;
    if (this.plot) {
      this.plot.setData(this.data, false);
      this.plot.setScale('x', { min: now - this.windowSec, max: now });
      return;
    }
    const def = METRICS[this.metric];
    const style = getComputedStyle(document.documentElement);
    const line = style.getPropertyValue('--chart-line').trim() || '#2563eb';
    const band = style.getPropertyValue('--chart-band').trim() || 'rgba(37,99,235,0.15)';
    const axis = style.getPropertyValue('--fg-muted').trim() || '#555';
    const opts: uPlot.Options = {
      width: Math.max(240, this.host.clientWidth),
      height: CHART_HEIGHT,
      legend: { show: false },
      cursor: { drag: { x: false, y: false } },
      scales: {
        x: { time: true, auto: false, range: () => [Date.now() / 1000 - this.windowSec, Date.now() / 1000] },
        y: { range: (_u, lo, hi) => this.yRange(lo, hi) },
      },
      axes: [
        { stroke: axis, grid: { stroke: 'rgba(128,128,128,0.15)' } },
        { stroke: axis, grid: { stroke: 'rgba(128,128,128,0.15)' }, size: 50, label: def.unitDisplay, labelSize: 14 },
      ],
      series: [
        {},
        { label: def.label, stroke: line, width: 2, spanGaps: false, points: { show: (u) => u.data[0].length < 60 } },
        { label: 'min', stroke: 'transparent', points: { show: false } },
        { label: 'max', stroke: 'transparent', points: { show: false } },
      ],
      bands: [{ series: [3, 2], fill: band }],
      hooks: { draw: [(u) => this.drawThresholds(u)] },
    };
    this.plot = new uPlot(opts, this.data, this.host);
  }

  private yRange(lo: number | null, hi: number | null): [number, number] {
    const values = [...this.thresholds.map((t) => t.value)];
    if (lo !== null && Number.isFinite(lo)) values.push(lo);
    if (hi !== null && Number.isFinite(hi)) values.push(hi);
    if (!values.length) return [METRICS[this.metric].plausible.min, METRICS[this.metric].plausible.max];
    const min = Math.min(...values);
    const max = Math.max(...values);
    const pad = Math.max((max - min) * 0.1, 1);
    return [Math.floor(min - pad), Math.ceil(max + pad)];
  }

  private drawThresholds(u: uPlot): void {
    const ctx = u.ctx;
    const { left, width } = u.bbox;
    const dpr = devicePixelRatio || 1;
    ctx.save();
    ctx.font = `${11 * dpr}px system-ui, sans-serif`;
    // uPlot leaves the axis labels' alignment on the context.
    ctx.textAlign = 'left';
    ctx.textBaseline = 'bottom';
    ctx.lineWidth = 1.5 * dpr;
    ctx.setLineDash([6 * dpr, 4 * dpr]);
    // Labels alternate left and right so close thresholds (70 and 54) stay readable.
    [...this.thresholds]
      .sort((a, b) => a.value - b.value)
      .forEach((t, i) => {
        const y = Math.round(u.valToPos(t.value, 'y', true));
        ctx.strokeStyle = t.priority === 'high' ? '#b91c1c' : t.priority === 'medium' ? '#b45309' : '#475569';
        ctx.beginPath();
        ctx.moveTo(left, y);
        ctx.lineTo(left + width, y);
        ctx.stroke();
        ctx.fillStyle = ctx.strokeStyle;
        const text = `${t.label} ${t.value}`;
        const x = i % 2 === 0 ? left + 4 * dpr : left + width - ctx.measureText(text).width - 4 * dpr;
        ctx.fillText(text, x, y - 3 * dpr);
      });
    ctx.restore();
  }

  private fit(): void {
    if (this.plot && this.host.clientWidth > 0)
      this.plot.setSize({ width: this.host.clientWidth, height: CHART_HEIGHT });
  }
}
