import { Inject, Injectable, Logger } from '@nestjs/common';
import { LANTERN_CONFIG, type LanternConfig } from '@lantern/config';
import type { Reading } from '@lantern/domain';
import {
  MAX_PAYLOAD_BYTES,
  decodeStatus,
  decodeTelemetry,
  deviceErrorsMessage,
  parseDeviceTopic,
  topicsFor,
  type Rejection,
  type Topics,
} from '@lantern/messaging';
import {
  DeviceStatusRepository,
  ReadingRepository,
  RejectionRepository,
  type DeviceStatusUpdate,
  type NewIngestRejection,
} from '@lantern/storage';
import { IngestMqttConnection, type InboundMessage } from '../consumer/ingest-mqtt.connection.js';
import { IngestMetrics, type WriterName } from '../metrics/ingest-metrics.js';
import { DevicePresenceService } from './device-presence.service.js';
import { DeviceRegistryService, type DeviceLookup } from './device-registry.service.js';
import { ReadingStream } from './reading.stream.js';
import { RetryingBatchWriter } from './retrying-batch-writer.js';

/** Retry delay of a device lookup that failed (database down): messages wait in order meanwhile. */
const LOOKUP_RETRY_MS = 1000;

/**
 * Turns each inbound message into validated readings and statuses (fed to the streaming core at
 * once, in arrival order) and durable writes (readings, dead letters, device statuses) that hold the
 * message until they commit. Never throws: every failure becomes a dead letter, a retry, or a log.
 */
@Injectable()
export class IngestPipeline {
  private readonly logger = new Logger('IngestPipeline');
  private readonly topics: Topics;
  readonly readings: RetryingBatchWriter<Reading>;
  readonly rejections: RetryingBatchWriter<NewIngestRejection>;
  readonly statuses: RetryingBatchWriter<DeviceStatusUpdate>;
  // Messages wait here, in arrival order, only while a device lookup is in progress.
  private inbox: InboundMessage[] = [];
  private inboxHead = 0;
  private waitingForLookup = false;

  constructor(
    @Inject(LANTERN_CONFIG) private readonly config: LanternConfig,
    private readonly connection: IngestMqttConnection,
    private readonly registry: DeviceRegistryService,
    private readonly presence: DevicePresenceService,
    private readonly stream: ReadingStream,
    private readonly metrics: IngestMetrics,
    readingRepository: ReadingRepository,
    rejectionRepository: RejectionRepository,
    statusRepository: DeviceStatusRepository,
  ) {
    this.topics = topicsFor(config.mqttTopicRoot);
    // Two reading batches commit at once: the database works on one while the other's round trip
    // and the ingest's own work go on (acknowledgements still leave in arrival order).
    this.readings = this.writer(
      'readings',
      config.ingestBatchSize,
      async (items) => {
        const stored = await readingRepository.insertBatch(items);
        this.metrics.readingsStored.inc(stored);
      },
      2,
    );
    this.rejections = this.writer('rejections', 1000, (items) => rejectionRepository.insertMany(items));
    this.statuses = this.writer('statuses', 500, (items) => statusRepository.applyStatuses(items));
  }

  /** Entry point from the MQTT connection. */
  accept(message: InboundMessage): void {
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
    await Promise.all([this.readings.drain(), this.rejections.drain(), this.statuses.drain()]);
  }

  close(): void {
    this.readings.close();
    this.rejections.close();
    this.statuses.close();
  }

  /** Processes the message; returns the device id to look up first when the cache cannot answer. */
  private tryProcess(message: InboundMessage): string | undefined {
    const route = parseDeviceTopic(this.config.mqttTopicRoot, message.topic);
    if (!route || route.kind === 'errors') {
      this.deadLetter(message, undefined, undefined, [
        { code: 'invalid_device_id', reason: 'topic is not a device telemetry or status topic' },
      ]);
      message.pending.seal();
      return undefined;
    }
    const lookup = this.registry.peek(route.deviceId);
    if (!lookup) return route.deviceId;
    this.handle(message, route.deviceId, route.kind, lookup);
    return undefined;
  }

  private handle(message: InboundMessage, deviceId: string, kind: 'telemetry' | 'status', lookup: DeviceLookup): void {
    try {
      if (lookup.kind !== 'known' || lookup.device.decommissioned) {
        const rejection: Rejection =
          lookup.kind === 'invalid'
            ? { code: 'invalid_device_id', reason: 'device id in the topic is not a UUID' }
            : lookup.kind === 'unknown'
              ? { code: 'unknown_device', reason: 'unknown device' }
              : { code: 'decommissioned_device', reason: 'device is decommissioned' };
        this.deadLetter(message, deviceId, undefined, [rejection]);
        return;
      }
      const device = lookup.device;
      const ctx = { receivedAt: message.receivedAt, maxBackfillMs: this.config.ingestMaxBackfill, deviceId };
      if (kind === 'telemetry') {
        const decoded = decodeTelemetry(message.payload, ctx);
        for (const r of decoded.readings) {
          const reading: Reading = {
            deviceId,
            patientId: device.patientId,
            metric: r.metric,
            value: r.value,
            time: r.time,
            receivedAt: message.receivedAt,
            ...(decoded.seq === undefined ? {} : { seq: decoded.seq }),
          };
          this.stream.emitReading(reading);
          this.readings.add(reading, message.pending);
        }
        this.metrics.readingsAccepted.inc(decoded.readings.length);
        if (decoded.rejections.length > 0) this.deadLetter(message, deviceId, decoded.seq, decoded.rejections);
        this.presence.heardFrom(device, message.receivedAt);
      } else {
        const decoded = decodeStatus(message.payload, ctx);
        if (!decoded.ok) {
          this.deadLetter(message, deviceId, undefined, [decoded.rejection]);
          return;
        }
        const s = decoded.status;
        this.stream.emitStatus({ deviceId, patientId: device.patientId, ...s });
        this.statuses.add(
          { deviceId, ...(s.online === false ? {} : { seenAt: message.receivedAt }), ...withoutTime(s) },
          message.pending,
        );
        this.presence.statusReceived(device, s, message.receivedAt);
      }
    } catch (error) {
      // A bug, not bad input: keep the message unacknowledged... but never stall the others.
      this.logger.error(`Unexpected failure on ${message.topic}: ${(error as Error).stack ?? String(error)}`);
      this.deadLetter(message, deviceId, undefined, [
        { code: 'invalid_message', reason: 'internal error while processing the message' },
      ]);
    } finally {
      message.pending.seal();
    }
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

  private deadLetter(
    message: InboundMessage,
    deviceId: string | undefined,
    seq: number | undefined,
    rejections: readonly Rejection[],
  ): void {
    const size = message.payload.byteLength;
    // Keep at most the payload limit; copy so a 10 MB buffer is not kept alive by its first 64 KiB.
    const payload =
      size > MAX_PAYLOAD_BYTES ? Buffer.from(message.payload.subarray(0, MAX_PAYLOAD_BYTES)) : message.payload;
    for (const r of rejections) {
      this.metrics.rejections.inc({ reason: r.code, scope: r.index === undefined ? 'message' : 'reading' });
      this.rejections.add(
        {
          receivedAt: message.receivedAt,
          ...(deviceId === undefined ? {} : { deviceId }),
          topic: message.topic,
          reason: r.reason,
          ...(r.index === undefined ? {} : { readingIndex: r.index }),
          ...(seq === undefined ? {} : { seq }),
          payload,
          payloadSize: size,
        },
        message.pending,
      );
    }
    if (deviceId !== undefined && !/[+#\u0000]/.test(deviceId)) {
      this.connection.publish(
        this.topics.errors(deviceId),
        JSON.stringify(deviceErrorsMessage(seq, rejections)),
        { qos: 1 },
        (error) => {
          if (error) this.logger.debug(`Errors reply to ${deviceId} not sent: ${error.message}`);
        },
      );
    }
  }

  private writer<T>(
    name: WriterName,
    maxItems: number,
    write: (items: T[]) => Promise<void>,
    concurrency = 1,
  ): RetryingBatchWriter<T> {
    return new RetryingBatchWriter<T>({
      name,
      maxItems,
      concurrency,
      maxWaitMs: this.config.ingestBatchMaxWaitMs,
      write,
      onCommitted: (items, ms) => {
        this.metrics.batchSize.observe({ writer: name }, items);
        this.metrics.commitSeconds.observe({ writer: name }, ms / 1000);
      },
      onError: (error, attempt, retryInMs) => {
        this.metrics.writeErrors.inc({ writer: name });
        if (attempt === 1 || attempt % 10 === 0) {
          this.logger.warn(
            `Writing ${name} failed (attempt ${attempt}, retrying in ${retryInMs} ms): ${(error as Error).message}`,
          );
        }
      },
      onRecovered: (attempts) => this.logger.log(`Writing ${name} succeeded again after ${attempts} failed attempts`),
    });
  }

  /** Samples queue depths for /metrics. */
  sampleDepths(): void {
    this.metrics.queueDepth.set({ writer: 'readings' }, this.readings.depth);
    this.metrics.queueDepth.set({ writer: 'rejections' }, this.rejections.depth);
    this.metrics.queueDepth.set({ writer: 'statuses' }, this.statuses.depth);
    this.metrics.queueDepth.set({ writer: 'lookup_wait' }, this.inbox.length - this.inboxHead);
  }
}

function withoutTime<T extends { time: number }>(value: T): Omit<T, 'time'> {
  // eslint-disable-next-line @typescript-eslint/no-unused-vars -- `time` is bound only to leave it out of `rest`
  const { time: _time, ...rest } = value;
  return rest;
}
