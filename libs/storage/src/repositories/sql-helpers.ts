/** PostgreSQL SQLSTATE of a unique violation; the constraint name says which. */
export function isUniqueViolation(error: unknown, constraint?: string): boolean {
  const e = error as { code?: string; constraint?: string; driverError?: { code?: string; constraint?: string } };
  const code = e.driverError?.code ?? e.code;
  const name = e.driverError?.constraint ?? e.constraint;
  return code === '23505' && (constraint === undefined || name === constraint);
}

/** Foreign-key violation (a reference to a row that does not exist). */
export function isForeignKeyViolation(error: unknown): boolean {
  const e = error as { code?: string; driverError?: { code?: string } };
  return (e.driverError?.code ?? e.code) === '23503';
}

/**
 * TypeORM's PostgreSQL driver answers an UPDATE or DELETE with `[rows, rowCount]` rather than the
 * rows; this returns the RETURNING rows of either shape.
 */
export function returnedRows<T>(result: unknown): T[] {
  if (Array.isArray(result) && result.length === 2 && Array.isArray(result[0]) && typeof result[1] === 'number')
    return result[0] as T[];
  return result as T[];
}

/**
 * How a failed database call should be handled:
 * - `refused`: the database refused the data itself (SQLSTATE class 22 data exception, 23
 *   integrity constraint, 54 program limit). The same rows fail the same way every time: never
 *   retry them; split the batch to find the rows at fault and set those aside.
 * - `transient`: anything else — connection (08), resources (53), shutdown (57P), serialization
 *   and deadlock (40001, 40P01), errors without a SQLSTATE (socket errors, pool timeouts,
 *   "Connection terminated") — and also class 42 (undefined table or column, syntax, privilege):
 *   that is the statement or the schema at fault, never one row, so splitting would refuse every
 *   row of every batch and acknowledge data that was never stored; retried, it waits in the
 *   broker until the schema or grant is fixed, and the writer's retrying state reports it.
 */
export type DatabaseErrorClass = 'refused' | 'transient';

const REFUSED_CLASSES = new Set(['22', '23', '54']);

/** The SQLSTATE of a driver error or of TypeORM's `QueryFailedError` wrapping one; undefined for other errors. */
export function sqlStateOf(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const e = error as { code?: unknown; driverError?: { code?: unknown } };
  const code = e.driverError?.code ?? e.code;
  // Node's socket errors carry codes too ('ECONNRESET', 'EPIPE'): a SQLSTATE is five digits or capitals, two of them its class.
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) && !code.startsWith('E') ? code : undefined;
}

/** Whether a failed database call may succeed if retried unchanged (see {@link DatabaseErrorClass}). */
export function classifyDatabaseError(error: unknown): DatabaseErrorClass {
  const state = sqlStateOf(error);
  return state !== undefined && REFUSED_CLASSES.has(state.slice(0, 2)) ? 'refused' : 'transient';
}

/** The database's own words for an error (the driver's message, without TypeORM's decoration), one line. */
export function databaseErrorMessage(error: unknown): string {
  const e = error as { message?: unknown; driverError?: { message?: unknown } } | null | undefined;
  const message = e?.driverError?.message ?? e?.message;
  return (typeof message === 'string' ? message : String(error)).split('\n')[0];
}

/**
 * Text that PostgreSQL accepts in a `text` column: U+0000 (refused, SQLSTATE 22021) and unpaired
 * surrogates (silently replaced by U+FFFD when encoded) are written as `\u0000` / `\udXXX`.
 */
export function safeText(value: string): string {
  return value.replace(
    /\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}
