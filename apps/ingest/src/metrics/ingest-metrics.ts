import { Inject, Injectable } from '@nestjs/common';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { LANTERN_CONFIG, type LanternConfig } from '@lantern/config';

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
  readonly storageRefused = new Counter({
    name: 'lantern_ingest_storage_refused_total',
    help: 'Items the database refused for their data (never retried; readings and statuses become dead letters), by writer (readings, rejections, statuses, alerts)',
    labelNames: ['writer'] as const,
    registers: [this.registry],
  });
  readonly deadLettersLost = new Counter({
    name: 'lantern_ingest_dead_letters_lost_total',
    help: 'Dead letters the database refused even with escaped text and no payload (logged; the message is still acknowledged)',
    registers: [this.registry],
  });
  readonly deadLetterPayloadBytesDropped = new Counter({
    name: 'lantern_ingest_dead_letter_payload_bytes_dropped_total',
    help: 'Raw payload bytes not kept in dead letters because the device spent its INGEST_DEAD_LETTER_BUDGET for the hour',
    registers: [this.registry],
  });
  readonly deadLettersSummarized = new Counter({
    name: 'lantern_ingest_dead_letters_summarized_total',
    help: 'Refusals kept only as a count in one summary row, because the device spent its INGEST_DEAD_LETTER_BUDGET for the hour',
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
  readonly pendingBytes = new Gauge({
    name: 'lantern_ingest_pending_bytes',
    help: 'Payload bytes of the messages received and not yet done with (INGEST_MAX_PENDING_BYTES pauses reading)',
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
  readonly internalErrors = new Counter({
    name: 'lantern_ingest_internal_errors_total',
    help: 'Messages on which the pipeline itself failed (a bug): sealed so later acknowledgements are not held',
    registers: [this.registry],
  });
  readonly canaryAgeSeconds = new Gauge({
    name: 'lantern_ingest_canary_age_seconds',
    help: 'Since the last canary came back through the broker (or since it started): grows when the subscription stops delivering',
    registers: [this.registry],
  });
  readonly canaryRoundTripSeconds = new Gauge({
    name: 'lantern_ingest_canary_round_trip_seconds',
    help: 'How long the last canary took through the broker and back: how long a device message waits in the broker before the ingest sees it; +Inf before the first came back',
    registers: [this.registry],
  });
  readonly lastMessageAgeSeconds = new Gauge({
    name: 'lantern_ingest_last_message_age_seconds',
    help: 'Since the last message consumed from the broker (devices or canary); +Inf before the first',
    registers: [this.registry],
  });
  readonly subscribedFilters = new Gauge({
    name: 'lantern_ingest_subscribed_filters',
    help: 'Filters the broker granted on the current connection (0 while not subscribed)',
    registers: [this.registry],
  });
  readonly writerFailingSeconds = new Gauge({
    name: 'lantern_ingest_writer_failing_seconds',
    help: 'How long each writer has been failing and retrying its current write (0: healthy)',
    labelNames: ['writer'] as const,
    registers: [this.registry],
  });
  readonly connected = new Gauge({
    name: 'lantern_ingest_broker_connected',
    help: '1 while the consuming connection (the persistent session) is connected to the broker',
    registers: [this.registry],
  });
  readonly publisherConnected = new Gauge({
    name: 'lantern_ingest_publisher_connected',
    help: '1 while the connection the ingest publishes events on (alerts, notifications, device events, error replies) is up',
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
  readonly alertOutputSeconds = new Histogram({
    name: 'lantern_ingest_alert_output_seconds',
    help: 'From the evaluation that opened an alert to its event handed to the broker, stored first (the alert lane inside the ingest)',
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.5, 1, 2.5, 5, 10, 30],
    registers: [this.registry],
  });
  readonly activeAlerts = new Gauge({
    name: 'lantern_ingest_active_alerts',
    help: 'Alerts not yet resolved, held by the streaming core, by priority and state (open: not acknowledged yet)',
    labelNames: ['priority', 'state'] as const,
    registers: [this.registry],
  });

  private readonly samplers: (() => void)[] = [() => this.flushTallies()];
  // Per-message counts as plain numbers, added to their counters on scrape: a prom-client `inc`
  // builds and hashes its labels on every call, which these would make 10,000+ times a second.
  private readonly received = { telemetry: [0, 0, 0], status: [0, 0, 0] };
  private accepted = 0;

  /** Counts one MQTT message for `lantern_ingest_messages_total`. */
  messageReceived(kind: 'telemetry' | 'status', qos: 0 | 1 | 2): void {
    this.received[kind][qos] += 1;
  }

  /** Counts readings for `lantern_ingest_readings_accepted_total`. */
  readingsAcceptedBy(count: number): void {
    this.accepted += count;
  }

  private flushTallies(): void {
    for (const kind of ['telemetry', 'status'] as const) {
      const counts = this.received[kind];
      for (let qos = 0; qos < counts.length; qos++) {
        if (counts[qos] === 0) continue;
        this.messages.inc({ kind, qos: String(qos) }, counts[qos]);
        counts[qos] = 0;
      }
    }
    if (this.accepted > 0) this.readingsAccepted.inc(this.accepted);
    this.accepted = 0;
  }

  /** Registers a function that refreshes gauges just before each scrape. */
  onScrape(sample: () => void): void {
    this.samplers.push(sample);
  }

  /** The Prometheus text, with gauges sampled now. */
  async scrape(): Promise<string> {
    for (const sample of this.samplers) sample();
    return this.registry.metrics();
  }

  /**
   * Restarts of this role by `npm start`'s supervisor before this process (LANTERN_ROLE_RESTARTS): a
   * counter that each restart's new process carries on from where the old one stopped.
   */
  readonly roleRestarts = new Counter({
    name: 'lantern_role_restarts_total',
    help: "Times npm start's supervisor restarted this role after it exited on its own",
    labelNames: ['role'] as const,
    registers: [this.registry],
  });

  constructor(@Inject(LANTERN_CONFIG) config: LanternConfig) {
    collectDefaultMetrics({ register: this.registry, prefix: 'lantern_ingest_' });
    this.roleRestarts.labels('ingest').inc(config.roleRestarts);
  }
}
