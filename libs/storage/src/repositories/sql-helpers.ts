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
