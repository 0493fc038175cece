/**
 * Lantern's ids are UUIDs. One pattern for every check, so the api, the ingest and the broker agree
 * on what an id is (a wrong id is a 404 or a refused topic, never a PostgreSQL cast error).
 */

/** A UUID in either letter case: what a client may send in a path, a query or a message. */
export const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** A UUID as PostgreSQL prints it (lower case): the one form a device id takes on a topic and in the registry. */
export const CANONICAL_UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** Whether `value` is a UUID in either letter case. */
export function isUuid(value: unknown): value is string {
  return typeof value === 'string' && UUID_PATTERN.test(value);
}

/** The UUIDs among `values`, lower case (as PostgreSQL prints them), each once: the ids a many-id query asks for. */
export function distinctUuids(values: readonly string[]): string[] {
  return [...new Set(values.filter((v) => UUID_PATTERN.test(v)).map((v) => v.toLowerCase()))];
}
