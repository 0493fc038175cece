import { Injectable } from '@nestjs/common';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

export type WriterName = 'readings' | 'rejections' | 'statuses';

/** The ingest process's own Prometheus metrics (its registry, served on INGEST_METRICS_PORT). */
@Injectable()
export class IngestMetrics {
  readonly registry = new Registry();

  readonly messages = new Counter({
    name: 'lantern_ingest_messages_total',
    help: 'MQTT messages received, by topic kind and QoS',
    labelNames: ['kind', 'qos'] as const,
    registers: [this.registry],
  });
  readonly readingsAccepted = new Counter({
    name: 'lantern_ingest_readings_accepted_total',
    help: 'Readings that passed validation (stored idempotently, fed to the streaming core)',
    registers: [this.registry],
  });
  readonly readingsStored = new Counter({
    name: 'lantern_ingest_readings_stored_total',
    help: 'Rows newly inserted (accepted minus duplicates and redeliveries)',
    registers: [this.registry],
  });
  readonly rejections = new Counter({
    name: 'lantern_ingest_rejections_total',
    help: 'Refused messages (scope=message) and readings (scope=reading), by reason code',
    labelNames: ['reason', 'scope'] as const,
    registers: [this.registry],
  });
  readonly batchSize = new Histogram({
    name: 'lantern_ingest_batch_size',
    help: 'Items per database write',
    labelNames: ['writer'] as const,
    buckets: [1, 10, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 20000],
    registers: [this.registry],
  });
  readonly commitSeconds = new Histogram({
    name: 'lantern_ingest_commit_seconds',
    help: 'Latency of one batch write until committed',
    labelNames: ['writer'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [this.registry],
  });
  readonly writeErrors = new Counter({
    name: 'lantern_ingest_write_errors_total',
    help: 'Failed batch writes (each is retried with backoff)',
    labelNames: ['writer'] as const,
    registers: [this.registry],
  });
  readonly ackLagSeconds = new Histogram({
    name: 'lantern_ingest_ack_lag_seconds',
    help: 'Time from receiving a QoS 1 message to sending its PUBACK',
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [this.registry],
  });
  readonly oldestUnackedSeconds = new Gauge({
    name: 'lantern_ingest_oldest_unacked_seconds',
    help: 'Age of the oldest unacknowledged message (0 when none)',
    registers: [this.registry],
  });
  readonly pendingMessages = new Gauge({
    name: 'lantern_ingest_pending_messages',
    help: 'Messages received and not yet acknowledged (bounded by INGEST_MAX_PENDING_MESSAGES)',
    registers: [this.registry],
  });
  readonly queueDepth = new Gauge({
    name: 'lantern_ingest_queue_depth',
    help: 'Items waiting in each in-memory writer queue',
    labelNames: ['writer'] as const,
    registers: [this.registry],
  });
  readonly paused = new Gauge({
    name: 'lantern_ingest_paused',
    help: '1 while the consumer has stopped reading from the broker (backpressure)',
    registers: [this.registry],
  });
  readonly connected = new Gauge({
    name: 'lantern_ingest_broker_connected',
    help: '1 while connected to the broker',
    registers: [this.registry],
  });
  readonly redeliveryDrops = new Counter({
    name: 'lantern_ingest_abandoned_messages_total',
    help: 'Unacknowledged messages dropped from memory on a lost connection (the broker redelivers them)',
    registers: [this.registry],
  });

  readonly alertEvaluationSeconds = new Histogram({
    name: 'lantern_ingest_alert_evaluation_seconds',
    help: 'Time the streaming alert core spent evaluating one reading (every rule of its metric)',
    buckets: [0.000001, 0.0000025, 0.000005, 0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.001, 0.01],
    registers: [this.registry],
  });
  readonly activeAlerts = new Gauge({
    name: 'lantern_ingest_active_alerts',
    help: 'Alerts not yet resolved, held by the streaming core, by priority and state (open: not acknowledged yet)',
    labelNames: ['priority', 'state'] as const,
    registers: [this.registry],
  });

  private readonly samplers: (() => void)[] = [];

  /** Registers a function that refreshes gauges just before each scrape. */
  onScrape(sample: () => void): void {
    this.samplers.push(sample);
  }

  /** The Prometheus text, with gauges sampled now. */
  async scrape(): Promise<string> {
    for (const sample of this.samplers) sample();
    return this.registry.metrics();
  }

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'lantern_ingest_' });
  }
}
