import { DEVICE_TYPES, METRIC_KEYS, isMetricKey, type LatestReadingResource, type MetricKey } from '@lantern/domain';
import { getBuckets, type Device, type LatestReading } from './api.js';
import type { AppContext } from './app-context.js';
import { MetricChart, type ThresholdLine } from './chart.js';
import { h, replace } from './dom.js';
import { age, metricLabel, value } from './format.js';
import type { PatientSection } from './patient-section.js';

/** History ranges and the rollup bucket each one reads (contract §3.3). */
const RANGES = [
  { key: '6h', label: '6 h', seconds: 6 * 3600, bucket: '1m' },
  { key: '24h', label: '24 h', seconds: 24 * 3600, bucket: '5m' },
  { key: '7d', label: '7 d', seconds: 7 * 86400, bucket: '1h' },
  { key: '90d', label: '90 d', seconds: 90 * 86400, bucket: '1d' },
] as const;
type Range = (typeof RANGES)[number];

/** What the vitals need from the rest of the page. */
export interface VitalsSources {
  /** The patient's devices: a chart for each metric they measure, even before its first reading. */
  devices: () => readonly Device[];
  /** The threshold lines drawn on a metric's chart. */
  thresholds: (metric: MetricKey) => ThresholdLine[];
  /** A history range finished loading (the page records it for tests and screenshots). */
  historyLoaded: (range: string) => void;
}

/** "Vitals": a live chart per metric with its thresholds, and the history range to show. */
export class PatientVitalsSection implements PatientSection {
  private readonly rangeBar = h('div', { class: 'ranges', role: 'group', 'aria-label': 'History range' });
  private readonly chartGrid = h('div', { class: 'charts' });
  readonly element = h(
    'section',
    { class: 'card', 'aria-labelledby': 'h-charts' },
    h('div', { class: 'section-head' }, h('h2', { id: 'h-charts' }, 'Vitals'), this.rangeBar),
    this.chartGrid,
  );
  private readonly charts = new Map<MetricKey, MetricChart>();
  private latest = new Map<string, LatestReading>();
  private range: Range = RANGES[0];
  private disposed = false;
  private readonly offReading: () => void;

  constructor(
    private readonly patientId: string,
    private readonly ctx: AppContext,
    private readonly sources: VitalsSources,
  ) {
    this.offReading = ctx.live.on('reading', (e) => {
      if (e.patientId !== patientId) return;
      this.latest.set(e.metric, { metric: e.metric, value: e.value, ts: e.ts, deviceId: e.deviceId });
      this.charts.get(e.metric)?.addReading(e.ts, e.value);
      const label = this.chartGrid.querySelector(`[data-metric-latest="${e.metric}"]`);
      if (label) label.textContent = `${value(e.metric, e.value)} · ${age(e.ts)}`;
      else if (!this.charts.has(e.metric)) {
        this.render();
        void this.loadHistory();
      }
    });
  }

  /** The first load: the latest values and the range buttons, then `render`. */
  show(latest: readonly LatestReadingResource[]): void {
    this.latest = new Map(latest.map((r) => [r.metric, r]));
    this.renderRanges();
    this.render();
  }

  /** After a reconnect: keeps whichever of the known and the answered value is newer. */
  mergeLatest(latest: readonly LatestReadingResource[]): void {
    for (const r of latest) {
      const current = this.latest.get(r.metric);
      if (!current || Date.parse(current.ts) <= Date.parse(r.ts)) this.latest.set(r.metric, r);
    }
  }

  /** The metrics shown: what the devices measure and what has readings, in catalog order. */
  metrics(): MetricKey[] {
    const set = new Set<MetricKey>();
    for (const d of this.sources.devices()) for (const m of DEVICE_TYPES[d.type]?.metrics ?? []) set.add(m);
    for (const m of this.latest.keys()) if (isMetricKey(m)) set.add(m);
    return METRIC_KEYS.filter((m) => set.has(m));
  }

  /** Redraws the charts (their history is gone: `loadHistory` after). */
  render(): void {
    const metrics = this.metrics();
    for (const [m, chart] of this.charts) {
      if (metrics.includes(m)) continue;
      chart.destroy();
      this.charts.delete(m);
    }
    replace(
      this.chartGrid,
      metrics.length ? null : h('p', { class: 'muted' }, 'No readings or devices yet.'),
      metrics.map((metric) => {
        const last = this.latest.get(metric);
        const host = h('div', { class: 'chart-host' });
        const figure = h(
          'figure',
          { class: 'chart', 'data-metric': metric },
          h(
            'figcaption',
            {},
            h('strong', {}, metricLabel(metric)),
            ' ',
            h(
              'span',
              { class: 'latest', 'data-metric-latest': metric },
              last ? `${value(metric, last.value)} · ${age(last.ts)}` : 'no data',
            ),
          ),
          host,
        );
        this.charts.get(metric)?.destroy();
        const chart = new MetricChart(host, metric);
        this.charts.set(metric, chart);
        chart.setThresholds(this.sources.thresholds(metric));
        return figure;
      }),
    );
  }

  /** Redraws the threshold lines (the rules changed). */
  updateThresholds(): void {
    for (const [metric, chart] of this.charts) chart.setThresholds(this.sources.thresholds(metric));
  }

  /** Every chart's history for the current range; a range chosen meanwhile wins. */
  async loadHistory(): Promise<void> {
    const to = new Date();
    const from = new Date(to.getTime() - this.range.seconds * 1000);
    const current = this.range;
    await Promise.all(
      [...this.charts].map(async ([metric, chart]) => {
        try {
          const buckets = await getBuckets(this.patientId, metric, from, to, current.bucket);
          if (current === this.range && !this.disposed) chart.setHistory(buckets, current.seconds);
        } catch (error) {
          this.ctx.toast(`Could not load ${metricLabel(metric)} history: ${(error as Error).message}`, 'error');
        }
      }),
    );
    this.sources.historyLoaded(current.key);
  }

  dispose(): void {
    this.disposed = true;
    this.offReading();
    for (const chart of this.charts.values()) chart.destroy();
  }

  private renderRanges(): void {
    replace(
      this.rangeBar,
      RANGES.map((r) =>
        h(
          'button',
          {
            type: 'button',
            class: 'range',
            'aria-pressed': String(r.key === this.range.key),
            'data-range': r.key,
            onclick: () => {
              this.range = r;
              this.renderRanges();
              void this.loadHistory();
            },
          },
          r.label,
        ),
      ),
    );
  }
}
