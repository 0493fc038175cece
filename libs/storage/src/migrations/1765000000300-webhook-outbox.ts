import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * - `webhook_deliveries`: the durable outbox of ALERT_WEBHOOK_URL. A delivery is stored before it
 *   is sent and ends `delivered` or `failed` (with its last error), so a restart loses none and an
 *   admin can see what never arrived. `seq` is the delivery order.
 * - `leases`: named, expiring leases in PostgreSQL, so that exactly one process at a time does a
 *   job any of several could do (delivering the outbox in order), and another takes over when the
 *   holder dies and its lease runs out.
 */
export class WebhookOutbox1765000000300 implements MigrationInterface {
  name = 'WebhookOutbox1765000000300';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE webhook_deliveries (
        id               uuid PRIMARY KEY,
        seq              bigserial NOT NULL UNIQUE,
        event            text NOT NULL,
        body             text NOT NULL,
        created_at       timestamptz NOT NULL DEFAULT now(),
        state            text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'delivered', 'failed')),
        attempts         integer NOT NULL DEFAULT 0,
        next_attempt_at  timestamptz NOT NULL DEFAULT now(),
        last_error       text,
        finished_at      timestamptz
      )`);
    await q.query(`CREATE INDEX webhook_deliveries_pending_idx ON webhook_deliveries (seq) WHERE state = 'pending'`);
    await q.query(`CREATE INDEX webhook_deliveries_finished_idx ON webhook_deliveries (finished_at)`);
    await q.query(`
      CREATE TABLE leases (
        name        text PRIMARY KEY,
        holder      text NOT NULL,
        expires_at  timestamptz NOT NULL
      )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE leases`);
    await q.query(`DROP TABLE webhook_deliveries`);
  }
}
