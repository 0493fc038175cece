/**
 * Why the ingest refused a message or a reading. The code labels metrics and is stable; the reason
 * text is what an operator reads in the dead-letter store and a device on its errors topic.
 */
export const REJECTION_CODES = [
  'payload_too_large',
  'invalid_utf8',
  'invalid_json',
  'invalid_message',
  'invalid_seq',
  'invalid_ts',
  'no_readings',
  'too_many_readings',
  'device_mismatch',
  'invalid_device_id',
  'unknown_device',
  'decommissioned_device',
  'invalid_reading',
  'unknown_metric',
  'invalid_value',
  'invalid_unit',
  'implausible_value',
  'ts_in_future',
  'ts_too_old',
  'invalid_status',
  'unexpected_topic',
  // Text PostgreSQL refuses (U+0000, unpaired surrogates) or that has no business in a field (control characters).
  'invalid_text',
  // Admission (apps/ingest reading-admission.ts): the device type does not measure the metric, or the
  // reading comes sooner after the device's previous one than the metric's minimum interval allows.
  'metric_not_for_device',
  'too_frequent',
  // The database refused to store a reading or status the codec accepted (its message is in the reason).
  'storage_refused',
] as const;
export type RejectionCode = (typeof REJECTION_CODES)[number];

/** One refusal: of the whole message (`index` absent) or of the reading at `index`. */
export interface Rejection {
  readonly code: RejectionCode;
  readonly reason: string;
  readonly index?: number;
}

/** The reply published on `{root}/devices/{id}/errors` (contract §1.1). */
export interface DeviceErrorsMessage {
  readonly seq?: number;
  readonly errors: readonly { readonly index?: number; readonly reason: string }[];
}

/** Builds the errors-topic reply for a message's rejections. */
export function deviceErrorsMessage(seq: number | undefined, rejections: readonly Rejection[]): DeviceErrorsMessage {
  return {
    ...(seq === undefined ? {} : { seq }),
    errors: rejections.map((r) =>
      r.index === undefined ? { reason: r.reason } : { index: r.index, reason: r.reason },
    ),
  };
}
