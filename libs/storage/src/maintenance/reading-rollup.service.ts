import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { ROLLUP_SETTLE } from '../repositories/reading-rollup.sql.js';

const ORIGIN = `TIMESTAMPTZ '2000-01-01 00:00:00+00'`;
// Any constant; only rollup runs take it, so two processes never fold the same minutes at once
// (an older snapshot could otherwise overwrite a newer result).
const ROLLUP_LOCK_KEY = 7_346_100_002;
// Pending minutes claimed per transaction, so a long backlog is folded in bounded steps.
const CLAIM_LIMIT = 20_000;

export interface RollupResult {
  /** Pending (patient, metric, minute) entries folded in. */
  readonly minutes: number;
  readonly hours: number;
  /** False when another process held the rollup lock and this run did nothing. */
  readonly ran: boolean;
}

/**
 * PostgreSQL mode: keeps readings_1m and readings_1h current. Each insert logs the minutes it
 * touched in readings_rollup_pending; a run claims the entries logged longer than ROLLUP_SETTLE
 * ago (reading-rollup.sql.ts) and recomputes each minute from its raw rows and each affected hour from
 * its minutes. Recomputing (not adding) makes a run idempotent and folds late readings in exactly
 * like new ones.
 */
@Injectable()
export class ReadingRollupService {
  constructor(private readonly dataSource: DataSource) {}

  /** Folds every minute logged longer than ROLLUP_SETTLE ago into the rollups; returns what it did. */
  async run(): Promise<RollupResult> {
    let minutes = 0;
    let hours = 0;
    let claimed = 0;
    for (;;) {
      const step = await this.step();
      if (step === undefined) return { minutes, hours, ran: false };
      minutes += step.minutes;
      hours += step.hours;
      claimed += step.claimed;
      if (step.claimed < CLAIM_LIMIT) {
        // The log churns (every row is deleted within seconds); dead rows would slow the queries
        // that consult it. VACUUM cannot run inside the transaction above.
        if (claimed > 0) await this.dataSource.query(`VACUUM (SKIP_LOCKED) readings_rollup_pending`);
        return { minutes, hours, ran: true };
      }
    }
  }

  private async step(): Promise<{ claimed: number; minutes: number; hours: number } | undefined> {
    return this.dataSource.transaction(async (tx) => {
      const [lock] = await tx.query<{ ok: boolean }[]>(`SELECT pg_try_advisory_xact_lock($1) AS ok`, [ROLLUP_LOCK_KEY]);
      if (!lock?.ok) return undefined;
      // The hours to recompute stay in the database: shipped to Node and back as arrays they cost
      // the ingest's event loop a few hundred milliseconds per run (tens of thousands of elements).
      await tx.query(`CREATE TEMP TABLE rollup_hours (patient_id uuid, metric text, hour timestamptz) ON COMMIT DROP`);
      // One statement: claim and recompute see the same snapshot, so a reading committed later
      // keeps its own pending entry for the next run.
      const [minuteStep] = await tx.query<{ claimed: number; minutes: number; hours: number }[]>(
        `WITH claimed AS (
           DELETE FROM readings_rollup_pending
            WHERE ctid IN (SELECT ctid FROM readings_rollup_pending
                            WHERE logged_at < now() - ${ROLLUP_SETTLE} LIMIT ${CLAIM_LIMIT})
           RETURNING patient_id, metric, bucket
         ),
         keys AS (SELECT DISTINCT patient_id, metric, bucket FROM claimed),
         upserted AS (
           INSERT INTO readings_1m (patient_id, metric, bucket, min, max, sum, count)
           SELECT k.patient_id, k.metric, k.bucket, min(r.value), max(r.value), sum(r.value), count(*)
             FROM keys k
             JOIN readings r ON r.patient_id = k.patient_id AND r.metric = k.metric
                            AND r.time >= k.bucket AND r.time < k.bucket + INTERVAL '1 minute'
            GROUP BY k.patient_id, k.metric, k.bucket
           ON CONFLICT (patient_id, metric, bucket) DO UPDATE
              SET min = EXCLUDED.min, max = EXCLUDED.max, sum = EXCLUDED.sum, count = EXCLUDED.count
           RETURNING 1
         ),
         hk AS (
           INSERT INTO rollup_hours (patient_id, metric, hour)
           SELECT DISTINCT patient_id, metric, date_bin(INTERVAL '1 hour', bucket, ${ORIGIN}) FROM keys
           RETURNING 1
         )
         SELECT (SELECT count(*)::int FROM claimed) AS claimed,
                (SELECT count(*)::int FROM upserted) AS minutes,
                (SELECT count(*)::int FROM hk) AS hours`,
      );
      const { claimed, minutes, hours } = minuteStep;
      if (hours === 0) return { claimed, minutes, hours: 0 };
      // Same transaction, so the minutes just written are visible here.
      const [hourStep] = await tx.query<{ hours: number }[]>(
        `WITH upserted AS (
           INSERT INTO readings_1h (patient_id, metric, bucket, min, max, sum, count)
           SELECT k.patient_id, k.metric, k.hour, min(m.min), max(m.max), sum(m.sum), sum(m.count)
             FROM rollup_hours k
             JOIN readings_1m m ON m.patient_id = k.patient_id AND m.metric = k.metric
                               AND m.bucket >= k.hour AND m.bucket < k.hour + INTERVAL '1 hour'
            GROUP BY k.patient_id, k.metric, k.hour
           ON CONFLICT (patient_id, metric, bucket) DO UPDATE
              SET min = EXCLUDED.min, max = EXCLUDED.max, sum = EXCLUDED.sum, count = EXCLUDED.count
           RETURNING 1
         )
         SELECT count(*)::int AS hours FROM upserted`,
      );
      return { claimed, minutes, hours: hourStep.hours };
    });
  }
}
