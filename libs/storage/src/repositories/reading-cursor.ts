import { METRIC_KEYS, UUID_PATTERN } from '@lantern/domain';

/*
 * The cursor of a page of raw readings: the (time, metric, device) of the last reading shown,
 * opaque to the client, checked strictly when it comes back.
 */

/** A cursor that is not one this service gave out (answered 400). */
export class InvalidCursorError extends Error {
  constructor() {
    super('Invalid cursor');
    this.name = 'InvalidCursorError';
  }
}

export interface CursorPosition {
  readonly time: number;
  readonly metric: string;
  readonly deviceId: string;
}

/** The opaque cursor of a page ending at this reading. */
export function encodeCursor(position: CursorPosition): string {
  return Buffer.from(JSON.stringify([position.time, position.metric, position.deviceId])).toString('base64url');
}

/** The position a cursor names; InvalidCursorError when it is not one of ours. */
export function decodeCursor(cursor: string): CursorPosition {
  try {
    const [time, metric, deviceId] = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown[];
    // Each part checked as strictly as the query will use it: a crafted cursor (a time outside Date's
    // range, a metric with U+0000, a 36-character non-UUID) must be a 400, not a database error.
    if (
      Number.isSafeInteger(time) &&
      Math.abs(time as number) <= 8.64e15 &&
      (METRIC_KEYS as readonly unknown[]).includes(metric) &&
      typeof deviceId === 'string' &&
      UUID_PATTERN.test(deviceId)
    ) {
      return { time: time as number, metric: metric as string, deviceId };
    }
  } catch {
    // fall through
  }
  throw new InvalidCursorError();
}
