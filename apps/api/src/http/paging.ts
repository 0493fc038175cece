/**
 * Deepest `offset` of the offset-paged lists (alerts, notifications): the database reads and
 * discards every row it skips, and a number past PostgreSQL's bigint would be a database error.
 * Deeper than this, narrow the list with its filters (from/to, state, patientId) instead.
 */
export const MAX_OFFSET = 100_000;
