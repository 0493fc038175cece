import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * People, devices, alerts, rules, notifications, dead letters and audit: everything except the
 * time-series tables, whose shape depends on the storage mode (see the next migration).
 */
export class CoreSchema1764000000000 implements MigrationInterface {
  name = 'CoreSchema1764000000000';

  async up(q: QueryRunner): Promise<void> {
    // gen_random_uuid() is built in since PostgreSQL 13: no pgcrypto, which PGlite does not ship by default.

    await q.query(`
      CREATE TABLE patients (
        id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        display_name   text NOT NULL,
        date_of_birth  date,
        mrn            text UNIQUE,
        created_at     timestamptz NOT NULL DEFAULT now(),
        created_by     uuid
      )`);

    await q.query(`
      CREATE TABLE users (
        id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        email          text NOT NULL,
        password_hash  text NOT NULL,
        role           text NOT NULL CHECK (role IN ('admin', 'clinician', 'patient')),
        display_name   text NOT NULL,
        patient_id     uuid UNIQUE REFERENCES patients (id),
        created_at     timestamptz NOT NULL DEFAULT now(),
        disabled_at    timestamptz,
        CHECK ((role = 'patient') = (patient_id IS NOT NULL))
      )`);
    await q.query(`CREATE UNIQUE INDEX users_email_key ON users (lower(email))`);

    await q.query(`
      CREATE TABLE care_team_members (
        patient_id     uuid NOT NULL REFERENCES patients (id) ON DELETE CASCADE,
        clinician_id   uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        added_at       timestamptz NOT NULL DEFAULT now(),
        added_by       uuid,
        PRIMARY KEY (patient_id, clinician_id)
      )`);
    await q.query(`CREATE INDEX care_team_members_clinician_idx ON care_team_members (clinician_id, patient_id)`);

    await q.query(`
      CREATE TABLE devices (
        id                 uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        patient_id         uuid NOT NULL REFERENCES patients (id),
        type               text NOT NULL,
        serial             text,
        model              text,
        secret_hash        text NOT NULL,
        secret_rotated_at  timestamptz NOT NULL DEFAULT now(),
        created_at         timestamptz NOT NULL DEFAULT now(),
        decommissioned_at  timestamptz,
        last_seen_at       timestamptz,
        online             boolean NOT NULL DEFAULT false,
        battery            smallint,
        firmware           text,
        rssi               smallint,
        sensor_expires_at  timestamptz,
        last_seq           bigint
      )`);
    await q.query(`CREATE INDEX devices_patient_idx ON devices (patient_id)`);

    await q.query(`
      CREATE TABLE alerts (
        id                uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        patient_id        uuid NOT NULL REFERENCES patients (id),
        device_id         uuid REFERENCES devices (id),
        rule              text NOT NULL,
        metric            text,
        priority          text NOT NULL CHECK (priority IN ('high', 'medium', 'low')),
        state             text NOT NULL CHECK (state IN ('open', 'acknowledged', 'resolved')),
        message           text NOT NULL,
        value             double precision,
        peak_value        double precision,
        opened_at         timestamptz NOT NULL,
        last_triggered_at timestamptz NOT NULL,
        cleared_at        timestamptz,
        acknowledged_at   timestamptz,
        acknowledged_by   uuid REFERENCES users (id),
        acknowledge_note  text,
        resolved_at       timestamptz,
        resolved_by       uuid REFERENCES users (id),
        resolve_note      text,
        escalation_level  integer NOT NULL DEFAULT 0,
        escalated_at      timestamptz,
        late              boolean NOT NULL DEFAULT false,
        updated_at        timestamptz NOT NULL DEFAULT now()
      )`);
    // At most one active alert per (patient, rule, device for device rules): spec/alerting.md §5.
    await q.query(`
      CREATE UNIQUE INDEX alerts_one_active_idx
        ON alerts (patient_id, rule, coalesce(device_id, '00000000-0000-0000-0000-000000000000'::uuid))
        WHERE state <> 'resolved'`);
    await q.query(`CREATE INDEX alerts_patient_opened_idx ON alerts (patient_id, opened_at DESC)`);
    await q.query(`CREATE INDEX alerts_active_idx ON alerts (state) WHERE state <> 'resolved'`);

    await q.query(`
      CREATE TABLE alert_rule_overrides (
        patient_id  uuid NOT NULL REFERENCES patients (id) ON DELETE CASCADE,
        rule_key    text NOT NULL,
        enabled     boolean NOT NULL DEFAULT true,
        params      jsonb NOT NULL DEFAULT '{}'::jsonb,
        updated_at  timestamptz NOT NULL DEFAULT now(),
        updated_by  uuid REFERENCES users (id),
        PRIMARY KEY (patient_id, rule_key)
      )`);

    await q.query(`
      CREATE TABLE patient_notifications (
        id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        patient_id  uuid NOT NULL REFERENCES patients (id) ON DELETE CASCADE,
        kind        text NOT NULL,
        severity    text NOT NULL CHECK (severity IN ('info', 'warning', 'urgent')),
        title       text NOT NULL,
        body        text NOT NULL,
        alert_id    uuid REFERENCES alerts (id),
        device_id   uuid REFERENCES devices (id),
        created_at  timestamptz NOT NULL DEFAULT now(),
        read_at     timestamptz
      )`);
    await q.query(
      `CREATE INDEX patient_notifications_patient_idx ON patient_notifications (patient_id, created_at DESC)`,
    );

    // Dead-letter store: device_id is text because a spoofed or malformed id must be kept as sent.
    await q.query(`
      CREATE TABLE ingest_rejections (
        id             bigserial PRIMARY KEY,
        received_at    timestamptz NOT NULL DEFAULT now(),
        device_id      text,
        topic          text NOT NULL,
        reason         text NOT NULL,
        reading_index  integer,
        seq            bigint,
        payload        bytea,
        payload_size   integer NOT NULL,
        truncated      boolean NOT NULL DEFAULT false
      )`);
    await q.query(`CREATE INDEX ingest_rejections_received_idx ON ingest_rejections (received_at DESC)`);
    await q.query(`CREATE INDEX ingest_rejections_device_idx ON ingest_rejections (device_id, received_at DESC)`);

    await q.query(`
      CREATE TABLE audit_log (
        id          bigserial PRIMARY KEY,
        at          timestamptz NOT NULL DEFAULT now(),
        actor_id    uuid,
        actor_role  text,
        action      text NOT NULL,
        patient_id  uuid,
        resource    text,
        resource_id text,
        ip          text,
        details     jsonb
      )`);
    await q.query(`CREATE INDEX audit_log_patient_idx ON audit_log (patient_id, at DESC)`);
    await q.query(`CREATE INDEX audit_log_at_idx ON audit_log (at DESC)`);
  }

  async down(q: QueryRunner): Promise<void> {
    for (const table of [
      'audit_log',
      'ingest_rejections',
      'patient_notifications',
      'alert_rule_overrides',
      'alerts',
      'devices',
      'care_team_members',
      'users',
      'patients',
    ]) {
      await q.query(`DROP TABLE IF EXISTS ${table}`);
    }
  }
}
