import type { Logger } from '@nestjs/common';
import type { Reading } from '@lantern/domain';
import { databaseErrorMessage, safeText, type DeviceStatusUpdate, type NewIngestRejection } from '@lantern/storage';
import type { InboundMessage } from '../consumer/inbound-message.js';
import type { PendingMessage } from '../consumer/pending-message.js';
import type { IngestMetrics, WriterName } from '../metrics/ingest-metrics.js';
import type { DeadLetters } from './dead-letters.js';
import type { BatchEntry, RetryingBatchWriter } from './retrying-batch-writer.js';

/** A recurring storage refusal is logged at most this often (the metrics count every one). */
const REFUSAL_LOG_EVERY_MS = 60_000;

/**
 * What becomes of an item the database refuses for its data (never retried, or it would jam its
 * writer): a reading or status is dead-lettered as `storage_refused` with its message; a refused dead
 * letter is stored once more escaped and without payload, and refused again it is counted as lost.
 * Either way its message is acknowledged.
 */
export class StorageRefusals {
  // Dead letters already escaped and stripped of their payload after a refusal: refused again, they are lost.
  private readonly escapedDeadLetters = new WeakSet<NewIngestRejection>();
  private readonly refusalLoggedAt = new Map<string, { at: number; suppressed: number }>();

  constructor(
    private readonly deadLetters: DeadLetters,
    private readonly rejections: RetryingBatchWriter<NewIngestRejection>,
    private readonly metrics: IngestMetrics,
    private readonly logger: Logger,
  ) {}

  /** Remembers which message `message.pending` stands for, to dead-letter it if its items are refused. */
  track(message: InboundMessage): void {
    message.pending.inbound = message;
  }

  readingsRefused(refused: readonly BatchEntry<Reading>[], error: unknown): void {
    for (const { item, message } of refused) {
      const what = `reading ${item.metric} at ${new Date(item.time).toISOString()}`;
      this.itemRefused('readings', message, item.deviceId, item.seq, what, error);
    }
  }

  statusesRefused(refused: readonly BatchEntry<DeviceStatusUpdate>[], error: unknown): void {
    for (const { item, message } of refused)
      this.itemRefused('statuses', message, item.deviceId, undefined, 'status', error);
  }

  /**
   * Dead letters the database refused: stored once more with every text field escaped and without
   * the payload; refused again, they are counted as lost and logged. Either way the message is acknowledged.
   */
  deadLettersRefused(refused: readonly BatchEntry<NewIngestRejection>[], error: unknown): void {
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

  /**
   * A reading or status the database refused (never retried): a `storage_refused` dead letter of its
   * message, with the database's words and the raw payload. The message is acknowledged once that is stored.
   */
  private itemRefused(
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
    const message = pending?.inbound;
    // Only items queued without a message (none in production) get here: nothing to dead-letter.
    if (!message) return;
    const reason = `the database refused the ${what}: ${cause}`;
    this.deadLetters.add(
      message,
      deviceId,
      seq,
      [{ code: 'storage_refused', reason }],
      what === 'status' ? 'message' : 'reading',
    );
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
}
