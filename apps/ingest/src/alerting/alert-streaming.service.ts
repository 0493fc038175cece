import {
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
  type OnModuleInit,
} from '@nestjs/common';
import { LANTERN_CONFIG, type LanternConfig } from '@lantern/config';
import { ALERT_PRIORITIES, type DeviceStatus, type Reading } from '@lantern/domain';
import type { EngineOutput } from '@lantern/alerting';
import { IngestMetrics } from '../metrics/ingest-metrics.js';
import { ReadingStream, type MessageHold } from '../pipeline/reading.stream.js';
import { AlertOutputWriter } from './alert-output.writer.js';
import { StreamingCore } from './streaming-core.js';

/** One reading in this many is timed for `lantern_ingest_alert_evaluation_seconds`. */
export const EVALUATION_TIMED_EVERY = 16;

/**
 * Feeds the streaming core in the ingest role: every validated reading and status goes to the
 * engine (StreamingCore) as it is decoded (before its batch commits), one periodic sweep drives
 * signal loss and escalation, and every decision goes to the AlertOutputWriter with the message it
 * came from, which stays unacknowledged until the decision is stored (at least once). Also samples
 * the active-alerts gauge, and drains the writer on shutdown. The engine's state is rebuilt before
 * anything is fed (AlertStateRebuild); rule overrides and clinicians' changes follow the api
 * (RuleOverrideSync, AlertChangeSync).
 */
@Injectable()
export class AlertStreamingService implements OnModuleInit, OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('AlertStreaming');
  private sweepTimer: NodeJS.Timeout | undefined;
  /** Readings evaluated (their evaluation time goes to /metrics). */
  evaluated = 0;

  constructor(
    @Inject(LANTERN_CONFIG) private readonly config: LanternConfig,
    private readonly stream: ReadingStream,
    private readonly core: StreamingCore,
    private readonly writer: AlertOutputWriter,
    private readonly metrics: IngestMetrics,
  ) {}

  /**
   * Subscribes; nothing arrives before bootstrap, when IngestService starts the metrics server and
   * the broker connection — after every onModuleInit, the start-up rebuild's included.
   */
  onModuleInit(): void {
    this.metrics.onScrape(() => this.sampleActiveAlerts());
    this.stream.onReading((reading, message) => this.onReading(reading, message));
    this.stream.onStatus((status, message) => this.onStatus(status, message));
  }

  onApplicationBootstrap(): void {
    this.sweepTimer = setInterval(() => this.sweep(Date.now()), this.config.signalLossSweepMs);
    this.sweepTimer.unref();
  }

  async onApplicationShutdown(): Promise<void> {
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    this.writer.close();
    await this.writer.drained();
  }

  /**
   * Evaluates one reading; never throws into the stream. `message` (the one it came in) stays
   * unacknowledged until the alert transitions the reading caused are stored.
   */
  onReading(reading: Reading, message?: MessageHold): void {
    try {
      this.core.ensureRegistered(reading.deviceId);
      let output: EngineOutput;
      // A sample of the readings is timed: timing and observing every one showed as 2–3 % of the
      // ingest's CPU in its profile under the bench's load (docs/performance.md).
      if (this.evaluated % EVALUATION_TIMED_EVERY === 0) {
        const start = performance.now();
        output = this.core.engine.onReading(reading, Date.now());
        this.metrics.alertEvaluationSeconds.observe((performance.now() - start) / 1000);
      } else output = this.core.engine.onReading(reading, Date.now());
      this.evaluated += 1;
      this.writer.enqueue(output, message);
    } catch (error) {
      this.logger.error(
        `Evaluating a reading of ${reading.deviceId} failed: ${(error as Error).stack ?? String(error)}`,
      );
    }
  }

  /** Evaluates one status (battery rules, sign of life); its message is held as a reading's is. */
  onStatus(status: DeviceStatus, message?: MessageHold): void {
    try {
      this.core.ensureRegistered(status.deviceId);
      this.writer.enqueue(this.core.engine.onStatus(status, Date.now()), message);
    } catch (error) {
      this.logger.error(`Evaluating a status of ${status.deviceId} failed: ${(error as Error).stack ?? String(error)}`);
    }
  }

  /** The periodic sweep: signal loss and escalation. Public for tests, which pass their own clock. */
  sweep(now: number): EngineOutput {
    try {
      const output = this.core.engine.sweep(now);
      this.writer.enqueue(output);
      return output;
    } catch (error) {
      this.logger.error(`Sweep failed: ${(error as Error).stack ?? String(error)}`);
      return { transitions: [], notifications: [] };
    }
  }

  /** Sets the active-alerts gauge from the engine's state (before each /metrics scrape). */
  private sampleActiveAlerts(): void {
    const counts = this.core.engine.activeAlertCounts();
    for (const priority of ALERT_PRIORITIES) {
      for (const state of ['open', 'acknowledged'] as const)
        this.metrics.activeAlerts.set({ priority, state }, counts[priority][state]);
    }
  }
}
