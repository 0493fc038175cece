import { Inject, Injectable, Logger } from '@nestjs/common';
import { LANTERN_CONFIG, type LanternConfig } from '@lantern/config';
import type { Reading } from '@lantern/domain';
import { parseDeviceTopic } from '@lantern/messaging';
import type { DeviceStatusUpdate, NewIngestRejection } from '@lantern/storage';
import type { InboundMessage } from '../consumer/inbound-message.js';
import { IngestMetrics } from '../metrics/ingest-metrics.js';
import { DeviceMessageHandler } from './device-message.handler.js';
import { DeviceRegistryService } from './device-registry.service.js';
import { IngestOutputs } from './ingest-outputs.js';
import type { RetryingBatchWriter } from './retrying-batch-writer.js';

/** Retry delay of a device lookup that failed (database down): messages wait in order meanwhile. */
const LOOKUP_RETRY_MS = 1000;

/**
 * Turns each inbound message into validated readings and statuses (fed to the streaming core at
 * once, in arrival order) and durable writes (readings, dead letters, device statuses) that hold the
 * message until they commit. Never throws: every failure becomes a dead letter, a retry, or a log.
 *
 * This class routes messages in arrival order, waiting for a device lookup when the registry's cache
 * cannot answer; the work is done by DeviceMessageHandler (decode, admit, hand on) and IngestOutputs
 * (IngestWriters for batching, DeadLetters with its DeadLetterBudget and DeviceErrorsReply,
 * StorageRefusals for what the database refuses). It also samples its queue depths for /metrics.
 */
@Injectable()
export class IngestPipeline {
  private readonly logger = new Logger('IngestPipeline');
  // Messages wait here, in arrival order, only while a device lookup is in progress.
  private inbox: InboundMessage[] = [];
  private inboxHead = 0;
  private waitingForLookup = false;

  constructor(
    @Inject(LANTERN_CONFIG) private readonly config: LanternConfig,
    private readonly registry: DeviceRegistryService,
    private readonly outputs: IngestOutputs,
    private readonly handler: DeviceMessageHandler,
    private readonly metrics: IngestMetrics,
  ) {
    registry.onReload((devices) => {
      for (const d of devices) if (d.decommissioned) this.handler.forget(d.id);
    });
    metrics.onScrape(() => this.sampleDepths());
  }

  get readings(): RetryingBatchWriter<Reading> {
    return this.outputs.writers.readings;
  }

  get rejections(): RetryingBatchWriter<NewIngestRejection> {
    return this.outputs.writers.rejections;
  }

  get statuses(): RetryingBatchWriter<DeviceStatusUpdate> {
    return this.outputs.writers.statuses;
  }

  /** Entry point from the MQTT connection. */
  accept(message: InboundMessage): void {
    this.outputs.refusals.track(message);
    if (this.waitingForLookup) {
      this.inbox.push(message);
      return;
    }
    const missing = this.tryProcess(message);
    if (missing !== undefined) {
      this.inbox = [message];
      this.inboxHead = 0;
      this.waitForLookup(missing);
    }
  }

  /** Resolves when every queued write has committed (tests, shutdown). */
  async drain(): Promise<void> {
    await this.outputs.writers.drain();
  }

  close(): void {
    this.outputs.writers.close();
  }

  /** Samples queue depths for /metrics. */
  sampleDepths(): void {
    this.outputs.writers.sampleDepths();
    this.metrics.queueDepth.set({ writer: 'lookup_wait' }, this.inbox.length - this.inboxHead);
  }

  /** Processes the message; returns the device id to look up first when the cache cannot answer. */
  private tryProcess(message: InboundMessage): string | undefined {
    const route = parseDeviceTopic(this.config.mqttTopicRoot, message.topic);
    if (!route || route.kind === 'errors') {
      // A filter a previous configuration left on the session, or a topic no filter should match:
      // kept and acknowledged, never left unacknowledged (that would hold every later PUBACK).
      this.outputs.deadLetters.add(message, undefined, undefined, [
        {
          code: 'unexpected_topic',
          reason: 'topic is not a device telemetry or status topic under the configured root',
        },
      ]);
      message.pending.seal();
      return undefined;
    }
    const lookup = this.registry.peek(route.deviceId);
    if (!lookup) return route.deviceId;
    this.handler.handle(message, route.deviceId, route.kind, lookup);
    return undefined;
  }

  private waitForLookup(deviceId: string): void {
    this.waitingForLookup = true;
    const attempt = (): void => {
      this.registry.lookup(deviceId).then(
        () => this.resume(),
        (error: unknown) => {
          this.logger.warn(`Device lookup failed (retrying): ${(error as Error).message}`);
          setTimeout(attempt, LOOKUP_RETRY_MS);
        },
      );
    };
    attempt();
  }

  private resume(): void {
    while (this.inboxHead < this.inbox.length) {
      const missing = this.tryProcess(this.inbox[this.inboxHead]);
      if (missing !== undefined) {
        this.waitForLookup(missing);
        return;
      }
      this.inboxHead += 1;
    }
    this.inbox = [];
    this.inboxHead = 0;
    this.waitingForLookup = false;
  }
}
