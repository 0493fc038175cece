import { UUID_PATTERN } from '@lantern/domain';
import { FhirSearchError } from '@lantern/fhir';
import type { ObservationCursor } from './fhir.repository.js';

/** The opaque `_cursor` of an Observation `next` link: the page's last key, base64url JSON. */
export function encodeCursor(cursor: ObservationCursor): string {
  return Buffer.from(JSON.stringify([cursor.time, cursor.deviceId, cursor.group, cursor.sort])).toString('base64url');
}

/** The key inside a `_cursor`; FhirSearchError (400) when it is not one this server issued. */
export function decodeCursor(text: string): ObservationCursor {
  try {
    const value: unknown = JSON.parse(Buffer.from(text, 'base64url').toString('utf8'));
    if (Array.isArray(value) && value.length === 4) {
      const [time, deviceId, group, sort] = value as unknown[];
      if (
        Number.isSafeInteger(time) &&
        typeof deviceId === 'string' &&
        UUID_PATTERN.test(deviceId) &&
        typeof group === 'string' &&
        /^[a-z_0-9]{1,40}$/.test(group) &&
        (sort === 'asc' || sort === 'desc')
      )
        return { time: time as number, deviceId, group, sort };
    }
  } catch {
    // Not base64 JSON: refused below like any other foreign cursor.
  }
  throw new FhirSearchError('_cursor is not one this server issued');
}
