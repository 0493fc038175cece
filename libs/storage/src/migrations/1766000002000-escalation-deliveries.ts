import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The escalation chain and its deliveries (contract §4.3, spec/alerting.md §5, docs/escalation.md).
 * - `patient_escalation_policies`: a patient's own tiers per priority (absent: the defaults of
 *   libs/domain escalation.ts).
 * - `alert_chains`: how far an alert's chain has gone (`tier_done`, the index of the last tier fanned
 *   out) and the person who confirmed it, which stops it. A table of its own, not columns of
 *   `alerts`: the ingest writes alert rows with optimistic checks, and the chain (run by the api)
 *   must never make those writes meet a changed row. Alerts already active when this migration runs
 *   are marked done: an upgrade must not page everyone about yesterday's alerts. `tier_times[i]` is
 *   when tier i went out.
 * - `alert_deliveries`: one row per recipient, channel and target (a push subscription, an
 *   address): sent, delivered (a receipt from the recipient's side), read, acknowledged, failed.
 * - `push_subscriptions`: Web Push endpoints a person's browsers registered.
 * The app role's rights come from the default privileges of 1766000000000-app-role.
 */
export class EscalationDeliveries1766000002000 implements MigrationInterface {
  name = 'EscalationDeliveries1766000002000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE patient_escalation_policies (
        patient_id  uuid PRIMARY KEY REFERENCES patients (id) ON DELETE CASCADE,
        policy      jsonb NOT NULL,
        updated_at  timestamptz NOT NULL DEFAULT now(),
        updated_by  uuid
      )`);
    await q.query(`
      CREATE TABLE alert_chains (
        alert_id        uuid PRIMARY KEY REFERENCES alerts (id) ON DELETE CASCADE,
        patient_id      uuid NOT NULL,
        tier_done       integer NOT NULL,
        tier_times      jsonb NOT NULL DEFAULT '[]',
        updated_at      timestamptz NOT NULL DEFAULT now(),
        confirmed_at    timestamptz,
        confirmed_by    uuid REFERENCES users (id),
        confirmed_role  text
      )`);
    await q.query(`
      INSERT INTO alert_chains (alert_id, patient_id, tier_done)
      SELECT id, patient_id, 1000 FROM alerts WHERE state <> 'resolved'`);
    await q.query(`
      CREATE TABLE push_subscriptions (
        id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        user_id      uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        endpoint     text NOT NULL UNIQUE,
        p256dh       text NOT NULL,
        auth         text NOT NULL,
        user_agent   text,
        created_at   timestamptz NOT NULL DEFAULT now(),
        last_ok_at   timestamptz,
        failed_at    timestamptz
      )`);
    await q.query(`CREATE INDEX push_subscriptions_user_idx ON push_subscriptions (user_id)`);
    await q.query(`
      CREATE TABLE alert_deliveries (
        id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        alert_id         uuid NOT NULL REFERENCES alerts (id) ON DELETE CASCADE,
        patient_id       uuid NOT NULL,
        tier             integer NOT NULL,
        recipient_id     uuid REFERENCES users (id) ON DELETE SET NULL,
        recipient_role   text NOT NULL CHECK (recipient_role IN ('patient', 'caregiver', 'clinician', 'admin', 'webhook')),
        recipient_name   text,
        channel          text NOT NULL CHECK (channel IN ('socket', 'push', 'email', 'webhook')),
        target           text,
        sent_at          timestamptz NOT NULL DEFAULT now(),
        delivered_at     timestamptz,
        read_at          timestamptz,
        acknowledged_at  timestamptz,
        failed_at        timestamptz,
        error            text,
        attempts         integer NOT NULL DEFAULT 0,
        next_attempt_at  timestamptz NOT NULL DEFAULT now(),
        claimed_until    timestamptz
      )`);
    await q.query(`CREATE INDEX alert_deliveries_alert_idx ON alert_deliveries (alert_id, tier)`);
    await q.query(
      `CREATE INDEX alert_deliveries_pending_idx ON alert_deliveries (channel, next_attempt_at) WHERE delivered_at IS NULL AND failed_at IS NULL`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE alert_deliveries`);
    await q.query(`DROP TABLE push_subscriptions`);
    await q.query(`DROP TABLE alert_chains`);
    await q.query(`DROP TABLE patient_escalation_policies`);
  }
}
