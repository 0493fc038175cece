import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * What makes a stopped or misconfigured ingest visible and device changes reach it at once:
 * - `ingest_sessions`: per ingest client id (its persistent MQTT session), the filter set the
 *   session holds at the broker, so a restart with another topic root or protocol can unsubscribe
 *   what the previous configuration left there.
 * - `ingest_instances`: one row per ingest process (leader or standby), its heartbeat and its own
 *   report (consuming, canary, oldest unacknowledged message, writers in retry), which the api's
 *   `/health` judges.
 * - `devices.changed_at`: moved by a trigger when what the ingest routes by changes (patient,
 *   type, decommissioning, secret) — not by the ingest's own status writes — so the ingest can poll
 *   for changes every second with an index scan.
 */
export class IngestHealth1765000000200 implements MigrationInterface {
  name = 'IngestHealth1765000000200';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE ingest_sessions (
        client_id  text PRIMARY KEY,
        filters    text[] NOT NULL DEFAULT '{}'
      )`);
    await q.query(`
      CREATE TABLE ingest_instances (
        instance_id   text PRIMARY KEY,
        client_id     text NOT NULL,
        role          text NOT NULL CHECK (role IN ('leader', 'standby')),
        started_at    timestamptz NOT NULL,
        heartbeat_at  timestamptz NOT NULL,
        stopped_at    timestamptz,
        state         jsonb NOT NULL DEFAULT '{}'
      )`);
    await q.query(`CREATE INDEX ingest_instances_heartbeat_idx ON ingest_instances (heartbeat_at)`);
    await q.query(`ALTER TABLE devices ADD COLUMN changed_at timestamptz NOT NULL DEFAULT now()`);
    await q.query(`CREATE INDEX devices_changed_idx ON devices (changed_at)`);
    await q.query(`
      CREATE FUNCTION devices_mark_changed() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF NEW.patient_id IS DISTINCT FROM OLD.patient_id
           OR NEW.type IS DISTINCT FROM OLD.type
           OR NEW.decommissioned_at IS DISTINCT FROM OLD.decommissioned_at
           OR NEW.secret_hash IS DISTINCT FROM OLD.secret_hash THEN
          NEW.changed_at := clock_timestamp();
        END IF;
        RETURN NEW;
      END $$`);
    await q.query(`
      CREATE TRIGGER devices_changed BEFORE UPDATE ON devices
        FOR EACH ROW EXECUTE FUNCTION devices_mark_changed()`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TRIGGER devices_changed ON devices`);
    await q.query(`DROP FUNCTION devices_mark_changed()`);
    await q.query(`ALTER TABLE devices DROP COLUMN changed_at`);
    await q.query(`DROP TABLE ingest_instances`);
    await q.query(`DROP TABLE ingest_sessions`);
  }
}
