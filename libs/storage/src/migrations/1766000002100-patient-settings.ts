import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Quiet hours (spec/alerting.md §5, docs/alerting.md "Quiet hours").
 * - `patient_settings`: a patient's own settings, one row each; today the quiet window, as wall-clock
 *   times in the patient's IANA zone (null: no quiet hours).
 * - `patient_notifications.deliver_at`: set on a low-priority message stored inside the window, to
 *   the window's end; it is neither published nor listed before then (null: never held).
 *   `released_at`: when the ingest claimed a held message to publish it, so that exactly one ingest
 *   publishes it. The partial index serves the release query, which only looks at unreleased rows.
 * The app role's rights on the new table come from the default privileges of 1766000000000-app-role.
 */
export class PatientSettings1766000002100 implements MigrationInterface {
  name = 'PatientSettings1766000002100';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE patient_settings (
        patient_id   uuid PRIMARY KEY REFERENCES patients (id) ON DELETE CASCADE,
        quiet_start  time,
        quiet_end    time,
        time_zone    text,
        updated_at   timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT patient_settings_quiet_complete CHECK (
          (quiet_start IS NULL AND quiet_end IS NULL AND time_zone IS NULL)
          OR (quiet_start IS NOT NULL AND quiet_end IS NOT NULL AND time_zone IS NOT NULL AND quiet_start <> quiet_end))
      )`);
    await q.query(
      `ALTER TABLE patient_notifications ADD COLUMN deliver_at timestamptz, ADD COLUMN released_at timestamptz`,
    );
    await q.query(
      `CREATE INDEX patient_notifications_held_idx ON patient_notifications (deliver_at)
        WHERE deliver_at IS NOT NULL AND released_at IS NULL`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX patient_notifications_held_idx`);
    await q.query(`ALTER TABLE patient_notifications DROP COLUMN deliver_at, DROP COLUMN released_at`);
    await q.query(`DROP TABLE patient_settings`);
  }
}
