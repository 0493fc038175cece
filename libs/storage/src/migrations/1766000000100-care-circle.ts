import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The care circle (contract §4.2, docs/security.md "Caregivers"): role `caregiver`, and what each
 * patient shares with whom. A `caregiver_shares` row is one share: invited by the patient to an
 * e-mail address with scopes, accepted by a caregiver account (`caregiver_id`), revoked by the
 * patient (`revoked_at`; kept, so the access log can still name who had access). At most one live
 * share per patient and address. `caregiver_invitations` holds the share's invitation token as a
 * SHA-256 hash only, single use (`used_at`), with an expiry; inviting the same address again while
 * the share is pending replaces the token. The app role's rights on both tables come from the
 * default privileges of 1766000000000-app-role.
 */
export class CareCircle1766000000100 implements MigrationInterface {
  name = 'CareCircle1766000000100';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE users DROP CONSTRAINT users_role_check`);
    await q.query(
      `ALTER TABLE users ADD CONSTRAINT users_role_check CHECK (role IN ('admin', 'clinician', 'patient', 'caregiver'))`,
    );
    await q.query(`
      CREATE TABLE caregiver_shares (
        id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        patient_id    uuid NOT NULL REFERENCES patients (id) ON DELETE CASCADE,
        email         text NOT NULL,
        display_name  text,
        scopes        text[] NOT NULL CHECK (
                        cardinality(scopes) > 0 AND scopes <@ ARRAY['glucose', 'cardiac', 'respiratory', 'weight',
                          'blood_pressure', 'temperature', 'devices', 'alerts', 'notifications']::text[]),
        caregiver_id  uuid REFERENCES users (id) ON DELETE CASCADE,
        invited_by    uuid NOT NULL,
        created_at    timestamptz NOT NULL DEFAULT now(),
        updated_at    timestamptz NOT NULL DEFAULT now(),
        accepted_at   timestamptz,
        revoked_at    timestamptz,
        CHECK ((caregiver_id IS NULL) = (accepted_at IS NULL))
      )`);
    await q.query(
      `CREATE UNIQUE INDEX caregiver_shares_live_email_key ON caregiver_shares (patient_id, lower(email)) WHERE revoked_at IS NULL`,
    );
    // Every request of a caregiver asks for its live share of one patient, and the live sweep for many.
    await q.query(
      `CREATE INDEX caregiver_shares_caregiver_idx ON caregiver_shares (caregiver_id, patient_id) WHERE revoked_at IS NULL`,
    );
    await q.query(`
      CREATE TABLE caregiver_invitations (
        token_hash  text PRIMARY KEY,
        share_id    uuid NOT NULL REFERENCES caregiver_shares (id) ON DELETE CASCADE,
        created_at  timestamptz NOT NULL DEFAULT now(),
        expires_at  timestamptz NOT NULL,
        used_at     timestamptz
      )`);
    await q.query(`CREATE INDEX caregiver_invitations_share_idx ON caregiver_invitations (share_id)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE caregiver_invitations`);
    await q.query(`DROP TABLE caregiver_shares`);
    await q.query(`DELETE FROM users WHERE role = 'caregiver'`);
    await q.query(`ALTER TABLE users DROP CONSTRAINT users_role_check`);
    await q.query(
      `ALTER TABLE users ADD CONSTRAINT users_role_check CHECK (role IN ('admin', 'clinician', 'patient'))`,
    );
  }
}
