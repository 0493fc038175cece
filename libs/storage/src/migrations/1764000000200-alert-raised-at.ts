import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * `alerts.raised_at`: the wall-clock time the streaming core raised the alert. Escalation counts
 * from it (spec/alerting.md §5), and it must survive a restart: counted from `opened_at` (the event
 * time of the reading, hours back for a back-filled one) a late alert would escalate at once.
 * Alerts stored before this column existed take their `opened_at`.
 */
export class AlertRaisedAt1764000000200 implements MigrationInterface {
  name = 'AlertRaisedAt1764000000200';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE alerts ADD COLUMN raised_at timestamptz`);
    await q.query(`UPDATE alerts SET raised_at = opened_at`);
    await q.query(`ALTER TABLE alerts ALTER COLUMN raised_at SET DEFAULT now(), ALTER COLUMN raised_at SET NOT NULL`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE alerts DROP COLUMN raised_at`);
  }
}
