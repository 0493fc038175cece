/*
 * SQL text of the reading rollups shared by the writes and the bucketed reads: the origin every
 * bucket is aligned to (the same as ReadingRollupService's), and on PostgreSQL the minute and hour
 * sources that combine settled rollup rows with the minutes still in the invalidation log.
 */

/** The origin of every bucket (date_bin), as SQL. */
export const ORIGIN = `TIMESTAMPTZ '2000-01-01 00:00:00+00'`;

/*
 * The invalidation log in PostgreSQL mode (docs/storage.md, "Rollups in PostgreSQL mode"): each
 * entry says a minute of one stream must be recomputed, `logged_at` when an insert logged it.
 *
 * An insert does not log a minute the log has held for less than LOG_ONCE_WITHIN: at 10,000 devices
 * that is one entry per stream and minute instead of one per message. A run claims only entries
 * older than ROLLUP_SETTLE, so a minute still receiving readings is folded in about once rather than
 * recomputed from all its raw rows by every run (every 10 s; at 10,000 readings/s that was more of
 * the database's work than storing the readings). Queries read a minute with an entry from its raw
 * rows, so one not yet folded in is never missing from an answer.
 *
 * Why skipping is safe: an insert that skips, deciding at clock time c, saw an entry logged at
 * c − LOG_ONCE_WITHIN or later; a run claims that entry only once it is older than ROLLUP_SETTLE,
 * so with a snapshot taken at c + (ROLLUP_SETTLE − LOG_ONCE_WITHIN) = c + 2 min at the earliest,
 * while the insert commits right after its decision (the log's insert is its statement's last
 * step). The run therefore recomputes the minute with the skipped readings in it.
 */
export const ROLLUP_SETTLE = `INTERVAL '3 minutes'`;
export const LOG_ONCE_WITHIN = `INTERVAL '1 minute'`;

// PostgreSQL mode, minute source: rollup rows for settled minutes, raw rows for minutes still
// pending in the invalidation log. The pending set is small and computed once (hashed NOT IN).
const PG_PENDING = `
  pm AS MATERIALIZED (
    SELECT DISTINCT bucket FROM readings_rollup_pending
     WHERE patient_id = $1 AND metric = $2 AND bucket >= $3 AND bucket < $4
  )`;
// The bounds on r.time repeat what pm implies (its minutes lie in [$3, $4), which is aligned to whole
// minutes at least), so the planner can prune the daily partitions at plan time: planning every
// partition of `readings` cost more than running the query (2.6 vs 0.5 ms warm, 8.6 vs 2.8 cold, 24 h).
const PG_RAW_PENDING = `
  SELECT pm.bucket, min(r.value) AS min, max(r.value) AS max, sum(r.value) AS sum, count(*) AS count
    FROM pm
    JOIN readings r ON r.patient_id = $1 AND r.metric = $2 AND r.time >= pm.bucket AND r.time < pm.bucket + INTERVAL '1 minute'
                   AND r.time >= $3 AND r.time < $4
   GROUP BY pm.bucket`;
export const PG_MINUTES = `
  WITH ${PG_PENDING}
  SELECT bucket, min, max, sum, count FROM readings_1m
   WHERE patient_id = $1 AND metric = $2 AND bucket >= $3 AND bucket < $4
     AND bucket NOT IN (SELECT bucket FROM pm)
  UNION ALL
  ${PG_RAW_PENDING}`;
// Hour source: settled hours from readings_1h; an hour with a pending minute is rebuilt from its
// settled minutes plus raw rows of the pending ones.
export const PG_HOURS = `
  WITH ${PG_PENDING},
  ph AS MATERIALIZED (SELECT DISTINCT date_bin(INTERVAL '1 hour', bucket, ${ORIGIN}) AS hour FROM pm)
  SELECT bucket, min, max, sum, count FROM readings_1h
   WHERE patient_id = $1 AND metric = $2 AND bucket >= $3 AND bucket < $4
     AND bucket NOT IN (SELECT hour FROM ph)
  UNION ALL
  SELECT date_bin(INTERVAL '1 hour', bucket, ${ORIGIN}), min, max, sum, count FROM (
    SELECT m.bucket, m.min, m.max, m.sum, m.count
      FROM ph
      JOIN readings_1m m ON m.patient_id = $1 AND m.metric = $2 AND m.bucket >= ph.hour AND m.bucket < ph.hour + INTERVAL '1 hour'
     WHERE m.bucket NOT IN (SELECT bucket FROM pm)
    UNION ALL
    ${PG_RAW_PENDING}
  ) dirty`;
