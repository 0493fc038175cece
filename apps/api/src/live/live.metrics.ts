import { Gauge, register } from 'prom-client';

/** What the live gauges read when scraped. */
export interface LiveMetricsSource {
  connectedSockets(): number;
  watchedPatients(): number;
}

// Module-level: prom-client's registry is global and tests boot several apps in one process,
// so the gauges are registered once and sum over the live instances of this process.
const sources = new Set<LiveMetricsSource>();

function gauge(name: string, help: string, read: (s: LiveMetricsSource) => number): void {
  if (register.getSingleMetric(name)) return;
  new Gauge({
    name,
    help,
    collect() {
      let total = 0;
      for (const s of sources) total += read(s);
      this.set(total);
    },
  });
}

/** Registers a live instance with the `/metrics` gauges; returns the function that removes it. */
export function registerLiveMetrics(source: LiveMetricsSource): () => void {
  gauge('lantern_api_live_connected_sockets', 'Sockets connected to /live on this api process.', (s) =>
    s.connectedSockets(),
  );
  gauge(
    'lantern_api_live_watched_patients',
    'Patients watched by at least one socket on this api process (broker subscriptions held).',
    (s) => s.watchedPatients(),
  );
  sources.add(source);
  return () => sources.delete(source);
}
