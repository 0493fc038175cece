import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Dead letters keep one raw payload per message, not one per refused reading: a 64 KiB message
 * with 1000 refused readings stored its payload 1000 times (≈ 64 MB, kept for REJECTION_RETENTION).
 * Payloads move to `ingest_rejected_payloads`, referenced by `ingest_rejections.payload_id`.
 * `payload_dropped` marks a dead letter whose payload was not kept (the per-device dead-letter
 * budget was spent, or the database refused the dead letter with it); `payload_size` and
 * `truncated` stay on the dead letter, as they describe the message as received.
 * Existing rows share a payload when they came from one message (same receive time, topic and bytes).
 */
export class DeadLetterPayloads1765000000100 implements MigrationInterface {
  name = 'DeadLetterPayloads1765000000100';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE ingest_rejected_payloads (
        id           bigserial PRIMARY KEY,
        received_at  timestamptz NOT NULL,
        payload      bytea NOT NULL
      )`);
    // Retention deletes by age.
    await q.query(`CREATE INDEX ingest_rejected_payloads_received_idx ON ingest_rejected_payloads (received_at)`);
    await q.query(`
      ALTER TABLE ingest_rejections
        ADD COLUMN payload_id bigint REFERENCES ingest_rejected_payloads (id),
        ADD COLUMN payload_dropped boolean NOT NULL DEFAULT false`);
    // Retention asks "does any dead letter still use this payload?"; so does the foreign key on delete.
    await q.query(`CREATE INDEX ingest_rejections_payload_idx ON ingest_rejections (payload_id)`);

    await q.query(`
      CREATE TEMPORARY TABLE moved_payloads ON COMMIT DROP AS
        SELECT nextval('ingest_rejected_payloads_id_seq') AS id, received_at, topic, payload
          FROM (SELECT DISTINCT received_at, topic, payload FROM ingest_rejections WHERE payload IS NOT NULL) d`);
    await q.query(`
      INSERT INTO ingest_rejected_payloads (id, received_at, payload)
        SELECT id, received_at, payload FROM moved_payloads`);
    await q.query(`
      UPDATE ingest_rejections r SET payload_id = m.id
        FROM moved_payloads m
       WHERE r.payload IS NOT NULL AND m.received_at = r.received_at AND m.topic = r.topic AND m.payload = r.payload`);
    await q.query(`DROP TABLE moved_payloads`);
    await q.query(`ALTER TABLE ingest_rejections DROP COLUMN payload`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE ingest_rejections ADD COLUMN payload bytea`);
    await q.query(`
      UPDATE ingest_rejections r SET payload = p.payload
        FROM ingest_rejected_payloads p WHERE p.id = r.payload_id`);
    await q.query(`ALTER TABLE ingest_rejections DROP COLUMN payload_id, DROP COLUMN payload_dropped`);
    await q.query(`DROP TABLE ingest_rejected_payloads`);
  }
}
