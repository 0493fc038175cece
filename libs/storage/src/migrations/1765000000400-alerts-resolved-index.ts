import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * `alerts_resolved_idx`: the ingest's start reads the latest resolved alert of each (patient, rule)
 * resolved lately (how far the database already reflects each rule, docs/alerting.md "Rebuilt on
 * start"); without it that is a scan of every alert ever raised. Partial: only resolved rows, which
 * change no more once resolved.
 */
export class AlertsResolvedIndex1765000000400 implements MigrationInterface {
  name = 'AlertsResolvedIndex1765000000400';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE INDEX alerts_resolved_idx ON alerts (resolved_at) WHERE state = 'resolved'`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX alerts_resolved_idx`);
  }
}
