import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { LANTERN_CONFIG, type LanternConfig } from '@lantern/config';
import { IngestInstanceRepository, type IngestInstanceState, type RetryingWriterState } from '@lantern/storage';
import { IngestMqttConnection } from '../consumer/ingest-mqtt.connection.js';
import { IngestMetrics } from '../metrics/ingest-metrics.js';

/** How often the ingest reports its state to the database (the api's /health reads it). */
export const HEARTBEAT_MS = 2000;

/** Names one ingest process in `ingest_instances`: host, pid and a random part (pids repeat across hosts). */
export function newIngestInstanceId(): string {
  return `${hostname()}-${process.pid}-${randomUUID().slice(0, 4)}`;
}

/** A writer the heartbeat watches: its current run of failing writes, if any. */
export interface WatchedWriter {
  readonly retrying: { readonly since: number; readonly attempts: number } | undefined;
}

/**
 * The ingest's account of itself: every HEARTBEAT_MS it stores whether it is connected and
 * subscribed, when it last consumed a message, when its canary last came back, how old its oldest
 * unacknowledged message is and which writers keep failing — in `ingest_instances`, where the api's
 * `/health` judges it (a dead ingest stops beating, which is a verdict too). The same figures are
 * gauges on the ingest's /metrics. An orderly stop says so, so a stopped ingest is not taken for a
 * crashed one.
 */
@Injectable()
export class IngestHeartbeatService {
  private readonly logger = new Logger('IngestHeartbeat');
  private timer: NodeJS.Timeout | undefined;
  private readonly startedAt = Date.now();
  /** This process (this app context) in `ingest_instances`: the consuming one, so the leader. */
  readonly instanceId = newIngestInstanceId();
  private writers: Readonly<Record<string, WatchedWriter>> = {};
  private beating = false;
  private failures = 0;

  constructor(
    @Inject(LANTERN_CONFIG) private readonly config: LanternConfig,
    private readonly connection: IngestMqttConnection,
    private readonly instances: IngestInstanceRepository,
    private readonly metrics: IngestMetrics,
  ) {
    metrics.onScrape(() => this.sampleGauges(this.state()));
  }

  /** Starts beating, reporting the writes of `writers` (by name) that keep failing. */
  start(writers: Readonly<Record<string, WatchedWriter>>): void {
    this.writers = writers;
    this.timer = setInterval(() => void this.beat(), HEARTBEAT_MS);
    this.timer.unref();
    void this.beat();
  }

  /** Stops beating and records an orderly stop. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    try {
      await this.instances.markStopped(this.instanceId);
    } catch (error) {
      this.logger.warn(`Recording the orderly stop failed: ${(error as Error).message}`);
    }
  }

  /** The state as of now (public for tests). */
  state(now = Date.now()): IngestInstanceState {
    const c = this.connection.health();
    return {
      connected: c.connected,
      notPublishingForMs: c.notPublishingSince === null ? 0 : now - c.notPublishingSince,
      subscribed: c.subscribed,
      notConsumingForMs: c.notConsumingSince === null ? 0 : now - c.notConsumingSince,
      lastMessageAgeMs: c.lastMessageAt === null ? null : now - c.lastMessageAt,
      canaryAgeMs: now - (c.lastCanaryAt ?? c.canarySince),
      canaryRoundTripMs: c.canaryRoundTripMs,
      oldestUnackedMs: c.oldestUnackedAt === undefined ? 0 : now - c.oldestUnackedAt,
      pendingMessages: c.pendingMessages,
      paused: c.paused,
      retryingWriters: Object.entries(this.writers).flatMap(([writer, w]): RetryingWriterState[] => {
        const failing = w.retrying;
        return failing ? [{ writer, failingForMs: now - failing.since, attempts: failing.attempts }] : [];
      }),
    };
  }

  private async beat(): Promise<void> {
    if (this.beating) return;
    this.beating = true;
    try {
      await this.instances.heartbeat(
        {
          instanceId: this.instanceId,
          clientId: this.config.ingestMqttClientId,
          role: 'leader',
          startedAt: this.startedAt,
        },
        this.state(),
      );
      if (this.failures > 0) this.logger.log(`Heartbeat stored again after ${this.failures} failures`);
      this.failures = 0;
    } catch (error) {
      // The database is down: /health says so on its own, and the writers retry.
      if (this.failures++ % 30 === 0) this.logger.warn(`Heartbeat not stored: ${(error as Error).message}`);
    } finally {
      this.beating = false;
    }
  }

  private sampleGauges(state: IngestInstanceState): void {
    this.metrics.canaryAgeSeconds.set(state.canaryAgeMs / 1000);
    this.metrics.canaryRoundTripSeconds.set(
      state.canaryRoundTripMs === null ? Infinity : state.canaryRoundTripMs / 1000,
    );
    this.metrics.lastMessageAgeSeconds.set(state.lastMessageAgeMs === null ? Infinity : state.lastMessageAgeMs / 1000);
    this.metrics.subscribedFilters.set(state.subscribed.length);
    this.metrics.writerFailingSeconds.reset();
    for (const w of state.retryingWriters)
      this.metrics.writerFailingSeconds.set({ writer: w.writer }, w.failingForMs / 1000);
  }
}
