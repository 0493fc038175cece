/** How often every live subscription's visibility is checked again (care-team changes). */
export const ACCESS_RECHECK_MS = 30_000;
/**
 * How often every socket's login is checked against the database. A revocation made on this
 * instance closes its sockets at once (SessionService.onRevoked); one made on another api instance
 * is found by this sweep — one query for all sockets — so every socket of a revoked login closes
 * within this interval plus a query, under the 5 s of contract §4.1, broker or no broker.
 */
export const SESSION_RECHECK_MS = 2_000;
