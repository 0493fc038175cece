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
  classifyDatabaseError,
  databaseErrorMessage,
  safeText,
  type DeviceStatusUpdate,
  type NewIngestRejection,
} from '@lantern/storage';
import { IngestMqttConnection, type InboundMessage } from '../consumer/ingest-mqtt.connection.js';
import type { PendingMessage } from '../consumer/pending-message.js';
import { IngestMetrics, type WriterName } from '../metrics/ingest-metrics.js';
import { DevicePresenceService } from './device-presence.service.js';
import { DeviceRegistryService, type DeviceLookup } from './device-registry.service.js';
import { ReadingAdmission } from './reading-admission.js';
import { ReadingStream } from './reading.stream.js';
import { RetryingBatchWriter, type BatchEntry } from './retrying-batch-writer.js';

/** Retry delay of a device lookup that failed (database down): messages wait in order meanwhile. */
const LOOKUP_RETRY_MS = 1000;
/** Period of the per-device dead-letter budget (INGEST_DEAD_LETTER_BUDGET bytes of payload each). */
const BUDGET_PERIOD_MS = 3_600_000;
/** Budget key of dead letters whose topic names no registered device: made-up ids share one budget. */
const NO_DEVICE = '';
/** What one dead-letter row costs against the budget (its columns and index entries, roughly). */
const DEAD_LETTER_ROW_BYTES = 256;
/** A recurring storage refusal is logged at most this often (the metrics count every one). */
const REFUSAL_LOG_EVERY_MS = 60_000;

/**
 * Turns each inbound message into validated readings and statuses (fed to the streaming core at
 * once, in arrival order) and durable writes (readings, dead letters, device statuses) that hold the
 * message until they commit. Never throws: every failure becomes a dead letter, a retry, or a log.
 */
@Injectable()
export class IngestPipeline {
  private readonly logger = new Logger('IngestPipeline');
  private readonly topics: Topics;
  // Per-device admission of decoded readings (metric of the device type, minimum interval).
  private readonly admission = new ReadingAdmission();
  readonly readings: RetryingBatchWriter<Reading>;
  readonly rejections: RetryingBatchWriter<NewIngestRejection>;
  readonly statuses: RetryingBatchWriter<DeviceStatusUpdate>;
  // Messages wait here, in arrival order, only while a device lookup is in progress.
  private inbox: InboundMessage[] = [];
  private inboxHead = 0;
  private waitingForLookup = false;
  // The message each PendingMessage stands for: an item the database refuses is dead-lettered with its topic and payload.
  private readonly inboundOf = new WeakMap<PendingMessage, InboundMessage>();
  // Raw payload bytes kept in dead letters per device, for the current budget period only.
  private budgetPeriod = 0;
  private readonly budgetUsed = new Map<string, number>();
  // One budget decision per message payload, however many of its readings are refused.
  private readonly payloadKept = new WeakMap<Buffer, boolean>();
  // Dead letters already escaped and stripped of their payload after a refusal: refused again, they are lost.
  private readonly escapedDeadLetters = new WeakSet<NewIngestRejection>();
  private readonly refusalLoggedAt = new Map<string, { at: number; suppressed: number }>();

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
    // A decommissioned device sends nothing that reaches admission again: drop its state.
    registry.onReload((devices) => {
      for (const d of devices) if (d.decommissioned) this.admission.forget(d.id);
    });
    // Two reading batches commit at once: the database works on one while the other's round trip
    // and the ingest's own work go on (acknowledgements still leave in arrival order).
    this.readings = this.writer(
      'readings',
      config.ingestBatchSize,
      async (items) => {
        const stored = await readingRepository.insertBatch(items);
        this.metrics.readingsStored.inc(stored);
      },
      (refused, error) => {
        for (const { item, message } of refused) {
          const what = `reading ${item.metric} at ${new Date(item.time).toISOString()}`;
          this.storageRefused('readings', message, item.deviceId, item.seq, what, error);
        }
      },
      2,
    );
    this.rejections = this.writer(
      'rejections',
      1000,
      (items) => rejectionRepository.insertMany(items),
      (refused, error) => this.deadLettersRefused(refused, error),
    );
    this.statuses = this.writer(
      'statuses',
      500,
      (items) => statusRepository.applyStatuses(items),
      (refused, error) => {
        for (const { item, message } of refused)
          this.storageRefused('statuses', message, item.deviceId, undefined, 'status', error);
      },
    );
  }

  /** Entry point from the MQTT connection. */
  accept(message: InboundMessage): void {
    this.inboundOf.set(message.pending, message);
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
      // A filter a previous configuration left on the session, or a topic no filter should match:
      // kept and acknowledged, never left unacknowledged (that would hold every later PUBACK).
      this.deadLetter(message, undefined, undefined, [
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
    this.handle(message, route.deviceId, route.kind, lookup);
    return undefined;
  }

  private handle(message: InboundMessage, deviceId: string, kind: 'telemetry' | 'status', lookup: DeviceLookup): void {
    try {
      if (lookup.kind !== 'known' || lookup.device.decommissioned) {
        const rejection: Rejection =
          lookup.kind === 'invalid'
            ? { code: 'invalid_device_id', reason: 'device id in the topic is not a canonical (lowercase) UUID' }
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
        const admitted = this.admission.admit(device, decoded);
        for (const r of admitted.readings) {
          const reading: Reading = {
            deviceId,
            patientId: device.patientId,
            metric: r.metric,
            value: r.value,
            time: r.time,
            receivedAt: message.receivedAt,
            ...(decoded.seq === undefined ? {} : { seq: decoded.seq }),
          };
          // The streaming core holds the message until the alert transitions this reading causes are stored.
          this.stream.emitReading(reading, message.pending);
          this.readings.add(reading, message.pending);
        }
        this.metrics.readingsAccepted.inc(admitted.readings.length);
        if (admitted.rejections.length > 0) this.deadLetter(message, deviceId, decoded.seq, admitted.rejections);
        this.presence.heardFrom(device, message.receivedAt);
      } else {
        const decoded = decodeStatus(message.payload, ctx);
        if (!decoded.ok) {
          this.deadLetter(message, deviceId, undefined, [decoded.rejection]);
          return;
        }
        const s = decoded.status;
        this.stream.emitStatus({ deviceId, patientId: device.patientId, ...s }, message.pending);
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
    scope?: 'message' | 'reading',
  ): void {
    for (const r of rejections)
      this.metrics.rejections.inc({ reason: r.code, scope: scope ?? (r.index === undefined ? 'message' : 'reading') });
    const size = message.payload.byteLength;
    const budget = this.spendBudget(message, deviceId, rejections.length);
    // Over budget, a message's refusals are kept as one row that counts them: a device refusing
    // 1000 readings a message, every second, must not write 1000 rows a second for 30 days.
    const kept = budget.rows ? rejections : [summaryOf(rejections)];
    // Text columns refuse U+0000: the topic and device id are the device's, and reasons may quote it.
    const topic = safeText(message.topic);
    const device = deviceId === undefined ? undefined : safeText(deviceId);
    for (const r of kept) {
      this.rejections.add(
        {
          receivedAt: message.receivedAt,
          ...(device === undefined ? {} : { deviceId: device }),
          topic,
          reason: safeText(r.reason),
          ...(r.index === undefined ? {} : { readingIndex: r.index }),
          ...(seq === undefined ? {} : { seq }),
          ...(budget.payload === undefined ? {} : { payload: budget.payload }),
          payloadSize: size,
        },
        message.pending,
      );
    }
    if (deviceId !== undefined && !/[+#\u0000]/.test(deviceId)) {
      this.connection.publish(
        this.topics.errors(deviceId),
        JSON.stringify(deviceErrorsMessage(seq, kept)),
        { qos: 1 },
        (error) => {
          if (error) this.logger.debug(`Errors reply to ${deviceId} not sent: ${error.message}`);
        },
      );
    }
  }

  /**
   * Charges a message's dead letters to its device's INGEST_DEAD_LETTER_BUDGET for the hour: the raw
   * payload (at most MAX_PAYLOAD_BYTES, decided once per message however many dead letters it has)
   * and DEAD_LETTER_ROW_BYTES per row. Returns the payload to keep (copied, so a 10 MB buffer is not
   * kept alive by its first 64 KiB; undefined once over budget) and whether every row may be kept.
   */
  private spendBudget(
    message: InboundMessage,
    deviceId: string | undefined,
    rows: number,
  ): { payload: Buffer | undefined; rows: boolean } {
    const period = Math.floor(message.receivedAt / BUDGET_PERIOD_MS);
    if (period > this.budgetPeriod) {
      this.budgetPeriod = period;
      this.budgetUsed.clear();
    }
    const key = deviceId !== undefined && this.registry.peek(deviceId)?.kind === 'known' ? deviceId : NO_DEVICE;
    const limit = this.config.ingestDeadLetterBudget;
    let used = this.budgetUsed.get(key) ?? 0;
    let keepPayload = this.payloadKept.get(message.payload);
    if (keepPayload === undefined) {
      const bytes = Math.min(message.payload.byteLength, MAX_PAYLOAD_BYTES);
      keepPayload = used + bytes <= limit;
      if (keepPayload) used += bytes;
      else this.metrics.deadLetterPayloadBytesDropped.inc(bytes);
      this.payloadKept.set(message.payload, keepPayload);
    }
    const rowBytes = rows * DEAD_LETTER_ROW_BYTES;
    const keepRows = rows <= 1 || used + rowBytes <= limit;
    if (keepRows) used += rowBytes;
    else this.metrics.deadLettersSummarized.inc(rows);
    this.budgetUsed.set(key, used);
    const payload = !keepPayload
      ? undefined
      : message.payload.byteLength > MAX_PAYLOAD_BYTES
        ? Buffer.from(message.payload.subarray(0, MAX_PAYLOAD_BYTES))
        : message.payload;
    return { payload, rows: keepRows };
  }

  /**
   * A reading or status the database refused (never retried): a `storage_refused` dead letter of its
   * message, with the database's words and the raw payload. The message is acknowledged once that is stored.
   */
  private storageRefused(
    writer: WriterName,
    pending: PendingMessage | undefined,
    deviceId: string,
    seq: number | undefined,
    what: string,
    error: unknown,
  ): void {
    this.metrics.storageRefused.inc({ writer });
    const cause = databaseErrorMessage(error);
    this.logRefusal(writer, `The database refused a ${what} of device ${safeText(deviceId)} (dead-lettered): ${cause}`);
    const message = pending && this.inboundOf.get(pending);
    // Only items queued without a message (none in production) get here: nothing to dead-letter.
    if (!message) return;
    const reason = `the database refused the ${what}: ${cause}`;
    this.deadLetter(
      message,
      deviceId,
      seq,
      [{ code: 'storage_refused', reason }],
      what === 'status' ? 'message' : 'reading',
    );
  }

  /**
   * Dead letters the database refused: stored once more with every text field escaped and without
   * the payload; refused again, they are counted as lost and logged. Either way the message is acknowledged.
   */
  private deadLettersRefused(refused: readonly BatchEntry<NewIngestRejection>[], error: unknown): void {
    const cause = databaseErrorMessage(error);
    for (const { item, message } of refused) {
      this.metrics.storageRefused.inc({ writer: 'rejections' });
      if (this.escapedDeadLetters.has(item)) {
        this.metrics.deadLettersLost.inc();
        this.logRefusal(
          'lost',
          `A dead letter is lost: the database refused it escaped and without payload (${cause}): ${item.topic}: ${item.reason}`,
        );
        continue;
      }
      const escaped: NewIngestRejection = {
        receivedAt: item.receivedAt,
        ...(item.deviceId === undefined ? {} : { deviceId: safeText(item.deviceId) }),
        topic: safeText(item.topic),
        reason: safeText(
          `${item.reason} (stored without its payload: the database refused this dead letter: ${cause})`,
        ),
        ...(item.readingIndex === undefined ? {} : { readingIndex: item.readingIndex }),
        ...(item.seq === undefined ? {} : { seq: item.seq }),
        payloadSize: item.payloadSize,
      };
      this.escapedDeadLetters.add(escaped);
      this.logRefusal(
        'rejections',
        `The database refused a dead letter (stored again escaped, without payload): ${cause}`,
      );
      this.rejections.add(escaped, message);
    }
  }

  /** Logs a refusal at most once a minute per kind, with how many went unlogged meanwhile (metrics count each). */
  private logRefusal(kind: string, text: string): void {
    const now = Date.now();
    const last = this.refusalLoggedAt.get(kind);
    if (last && now - last.at < REFUSAL_LOG_EVERY_MS) {
      last.suppressed += 1;
      return;
    }
    this.refusalLoggedAt.set(kind, { at: now, suppressed: 0 });
    this.logger.error(last?.suppressed ? `${text} (and ${last.suppressed} more since the last report)` : text);
  }

  private writer<T>(
    name: WriterName,
    maxItems: number,
    write: (items: T[]) => Promise<void>,
    onRefused: (refused: readonly BatchEntry<T>[], error: unknown) => void,
    concurrency = 1,
  ): RetryingBatchWriter<T> {
    return new RetryingBatchWriter<T>({
      name,
      maxItems,
      concurrency,
      maxWaitMs: this.config.ingestBatchMaxWaitMs,
      write,
      // Data the database refuses fails the same way every time: set aside (dead-lettered), never retried.
      isRefusal: (error) => classifyDatabaseError(error) === 'refused',
      onRefused: (refused, error) => {
        try {
          onRefused(refused, error);
        } catch (failure) {
          // A bug: the refused items' messages are still acknowledged, so the writer goes on.
          this.logger.error(`Handling items refused by ${name} failed: ${(failure as Error).stack ?? String(failure)}`);
        }
      },
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

/** One refusal standing for many (a device over its dead-letter budget): how many, for what. */
function summaryOf(rejections: readonly Rejection[]): Rejection {
  const counts = new Map<Rejection['code'], number>();
  for (const r of rejections) counts.set(r.code, (counts.get(r.code) ?? 0) + 1);
  const [code] = [...counts.entries()].sort((a, b) => b[1] - a[1])[0];
  const tally = [...counts.entries()].map(([c, n]) => `${c} ×${n}`).join(', ');
  return {
    code,
    reason: `${rejections.length} refusals (${tally}); kept as one: the device is over its dead-letter budget for the hour`,
  };
}
