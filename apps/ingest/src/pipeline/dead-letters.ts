import type { Rejection } from '@lantern/messaging';
import { safeText, type NewIngestRejection } from '@lantern/storage';
import type { InboundMessage } from '../consumer/inbound-message.js';
import type { IngestMetrics } from '../metrics/ingest-metrics.js';
import { summaryOf, type DeadLetterBudget } from './dead-letter-budget.js';
import type { DeviceErrorsReply } from './device-errors.reply.js';
import type { RetryingBatchWriter } from './retrying-batch-writer.js';

/**
 * Sets aside what the ingest cannot store as readings or statuses: each refusal counted, kept as a
 * dead letter (`ingest_rejections`, within the device's DeadLetterBudget) that holds its message
 * until committed, and told to the device on its errors topic (DeviceErrorsReply).
 */
export class DeadLetters {
  constructor(
    private readonly rejections: RetryingBatchWriter<NewIngestRejection>,
    private readonly budget: DeadLetterBudget,
    private readonly reply: DeviceErrorsReply,
    private readonly metrics: IngestMetrics,
  ) {}

  /** Dead-letters `rejections` of `message` (scope: of the whole message or of one reading; by default from each's index). */
  add(
    message: InboundMessage,
    deviceId: string | undefined,
    seq: number | undefined,
    rejections: readonly Rejection[],
    scope?: 'message' | 'reading',
  ): void {
    for (const r of rejections)
      this.metrics.rejections.inc({ reason: r.code, scope: scope ?? (r.index === undefined ? 'message' : 'reading') });
    const size = message.payload.byteLength;
    const budget = this.budget.spend(message, deviceId, rejections.length);
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
    this.reply.send(deviceId, seq, kept);
  }
}
