import { MAX_PAYLOAD_BYTES, type Rejection } from '@lantern/messaging';
import type { IngestMetrics } from '../metrics/ingest-metrics.js';
import type { InboundMessage } from '../consumer/inbound-message.js';

/** Period of the per-device dead-letter budget (INGEST_DEAD_LETTER_BUDGET bytes of payload each). */
const BUDGET_PERIOD_MS = 3_600_000;
/** Budget key of dead letters whose topic names no registered device: made-up ids share one budget. */
const NO_DEVICE = '';
/** What one dead-letter row costs against the budget (its columns and index entries, roughly). */
const DEAD_LETTER_ROW_BYTES = 256;

/** What a message's dead letters may keep: the payload (undefined once over budget) and every row. */
export interface DeadLetterAllowance {
  readonly payload: Buffer | undefined;
  readonly rows: boolean;
}

/**
 * How much of a device's dead letters is kept, per hour: INGEST_DEAD_LETTER_BUDGET bytes of raw
 * payload and rows. A device that sends nothing but garbage must not fill the database.
 */
export class DeadLetterBudget {
  private period = 0;
  // Raw payload bytes kept in dead letters per device, for the current budget period only.
  private readonly used = new Map<string, number>();
  // One budget decision per message payload, however many of its readings are refused.
  private readonly payloadKept = new WeakMap<Buffer, boolean>();

  constructor(
    /** INGEST_DEAD_LETTER_BUDGET. */
    private readonly limit: number,
    /** Whether `deviceId` is a registered device (else it is charged to the shared NO_DEVICE budget). */
    private readonly isKnownDevice: (deviceId: string) => boolean,
    private readonly metrics: IngestMetrics,
  ) {}

  /**
   * Charges a message's dead letters to its device's budget for the hour: the raw payload (at most
   * MAX_PAYLOAD_BYTES, decided once per message however many dead letters it has) and
   * DEAD_LETTER_ROW_BYTES per row. Returns the payload to keep (copied, so a 10 MB buffer is not
   * kept alive by its first 64 KiB; undefined once over budget) and whether every row may be kept.
   */
  spend(message: InboundMessage, deviceId: string | undefined, rows: number): DeadLetterAllowance {
    const period = Math.floor(message.receivedAt / BUDGET_PERIOD_MS);
    if (period > this.period) {
      this.period = period;
      this.used.clear();
    }
    const key = deviceId !== undefined && this.isKnownDevice(deviceId) ? deviceId : NO_DEVICE;
    const limit = this.limit;
    let used = this.used.get(key) ?? 0;
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
    this.used.set(key, used);
    const payload = !keepPayload
      ? undefined
      : message.payload.byteLength > MAX_PAYLOAD_BYTES
        ? Buffer.from(message.payload.subarray(0, MAX_PAYLOAD_BYTES))
        : message.payload;
    return { payload, rows: keepRows };
  }
}

/** One refusal standing for many (a device over its dead-letter budget): how many, for what. */
export function summaryOf(rejections: readonly Rejection[]): Rejection {
  const counts = new Map<Rejection['code'], number>();
  for (const r of rejections) counts.set(r.code, (counts.get(r.code) ?? 0) + 1);
  const [code] = [...counts.entries()].sort((a, b) => b[1] - a[1])[0];
  const tally = [...counts.entries()].map(([c, n]) => `${c} ×${n}`).join(', ');
  return {
    code,
    reason: `${rejections.length} refusals (${tally}); kept as one: the device is over its dead-letter budget for the hour`,
  };
}
