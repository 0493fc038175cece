import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Provenance of every alert (contract §4.4, docs/alerting.md "Clocks"): `measured_at` (event time:
 * the triggering reading's `ts`), `received_at` (wall: the ingest received that reading from the
 * broker) and `evaluated_at` (wall: the streaming core evaluated it); `raised_at` exists since
 * 1764000000200. Nullable: alerts stored before this migration had none of them recorded, and
 * nothing is made up for them (signal loss has no triggering reading either). Plain columns of an
 * existing table: the app role's grants on `alerts` cover them.
 */
export class AlertProvenance1766000001600 implements MigrationInterface {
  name = 'AlertProvenance1766000001600';

  async up(q: QueryRunner): Promise<void> {
    await q.query(
      `ALTER TABLE alerts ADD COLUMN measured_at timestamptz, ADD COLUMN received_at timestamptz,
                          ADD COLUMN evaluated_at timestamptz`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE alerts DROP COLUMN measured_at, DROP COLUMN received_at, DROP COLUMN evaluated_at`);
  }
}
