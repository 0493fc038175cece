import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * PostgreSQL mode: `readings_rollup_pending.logged_at`, when an insert logged the minute for the
 * rollups. An insert does not log a minute the log has held for less than LOG_ONCE_WITHIN, and a
 * rollup run claims only entries older than ROLLUP_SETTLE (reading-rollup.sql.ts says why that is
 * safe): one entry per stream and minute instead of one per message, folded in about once.
 * Existing entries get the migration's time. No table in TimescaleDB mode: nothing to do there.
 */
export class RollupLogTime1766000002200 implements MigrationInterface {
  name = 'RollupLogTime1766000002200';

  async up(q: QueryRunner): Promise<void> {
    await q.query(
      `ALTER TABLE IF EXISTS readings_rollup_pending ADD COLUMN logged_at timestamptz NOT NULL DEFAULT now()`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE IF EXISTS readings_rollup_pending DROP COLUMN logged_at`);
  }
}
