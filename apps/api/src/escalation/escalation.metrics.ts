import { Counter, Gauge, register } from 'prom-client';

// Module-level: prom-client's registry is global and tests boot several apps in one process.
let chainUp: () => number = () => 0;

/** Outcomes of the chain's delivery attempts by channel: delivered, handed-over (push), retry, failed. */
export function deliveryOutcomes(): Counter<'channel' | 'outcome'> {
  return (
    (register.getSingleMetric('lantern_alert_deliveries_total') as Counter<'channel' | 'outcome'> | undefined) ??
    new Counter({
      name: 'lantern_alert_deliveries_total',
      help: 'Escalation-chain delivery attempts by channel and outcome (delivered, handed-over, retry, failed)',
      labelNames: ['channel', 'outcome'] as const,
    })
  );
}

/** Registers `lantern_escalation_up`: 1 while the chain completes its passes, 0 when it has stopped. */
export function registerChainGauge(up: () => number): void {
  chainUp = up;
  if (!register.getSingleMetric('lantern_escalation_up'))
    new Gauge({
      name: 'lantern_escalation_up',
      help: '1 while the escalation chain walks (people are told about alerts); 0 when it has stopped or fails',
      collect() {
        this.set(chainUp());
      },
    });
}
