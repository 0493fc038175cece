import { Gauge, register } from 'prom-client';

/** What the operations gauges read when scraped. */
export interface OpsMetricsSource {
  /** 1 when the ingest was judged consuming at the last check, 0 otherwise. */
  monitoringUp(): number;
  undeliveredWebhooks(): Promise<{ pending: number; failed: number }>;
}

// Module-level, like the live gauges: prom-client's registry is global and tests boot several apps.
let current: OpsMetricsSource | undefined;

/** Registers the api's operations gauges (once per process) reading `source`; returns the unregister function. */
export function registerOpsMetrics(source: OpsMetricsSource): () => void {
  current = source;
  if (!register.getSingleMetric('lantern_monitoring_up')) {
    new Gauge({
      name: 'lantern_monitoring_up',
      help: '1 while an ingest is consuming (connected, subscribed, canary coming back, nothing stuck); see /health',
      collect() {
        this.set(current?.monitoringUp() ?? 0);
      },
    });
    new Gauge({
      name: 'lantern_webhook_deliveries',
      help: 'Webhook outbox deliveries still pending, and those that failed for good (kept until retention)',
      labelNames: ['state'] as const,
      async collect() {
        const counts = await current?.undeliveredWebhooks().catch(() => undefined);
        if (!counts) return;
        this.set({ state: 'pending' }, counts.pending);
        this.set({ state: 'failed' }, counts.failed);
      },
    });
  }
  return () => {
    if (current === source) current = undefined;
  };
}
