import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Logins that can be revoked (contract §4.1, docs/security.md "Sessions"). A `sessions` row is one
 * login — a refresh-token family; access tokens name it (`sid`) and are checked against it on every
 * request. `refresh_tokens` keeps every token a login was ever issued, as a SHA-256 hash only: the
 * current one is unspent; a spent one presented again is a stolen copy and revokes the whole login.
 */
export class Sessions1765000000500 implements MigrationInterface {
  name = 'Sessions1765000000500';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE sessions (
        id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        user_id         uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        created_at      timestamptz NOT NULL DEFAULT now(),
        refreshed_at    timestamptz NOT NULL DEFAULT now(),
        -- Moves forward at every refresh: a login ends REFRESH_TOKEN_TTL after its last refresh.
        expires_at      timestamptz NOT NULL,
        revoked_at      timestamptz,
        revoked_reason  text CHECK (revoked_reason IN
                          ('logout', 'password_change', 'password_reset', 'disabled', 'role_change', 'refresh_token_reuse')),
        ip              text,
        user_agent      text,
        CHECK ((revoked_at IS NULL) = (revoked_reason IS NULL))
      )`);
    // Revoking every login of a user (disable, role change, password change) reads only the live ones.
    await q.query(`CREATE INDEX sessions_user_live_idx ON sessions (user_id) WHERE revoked_at IS NULL`);
    // Pruning ended logins.
    await q.query(`CREATE INDEX sessions_expires_idx ON sessions (expires_at)`);

    await q.query(`
      CREATE TABLE refresh_tokens (
        token_hash  text PRIMARY KEY,
        session_id  uuid NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
        issued_at   timestamptz NOT NULL DEFAULT now(),
        spent_at    timestamptz
      )`);
    await q.query(`CREATE INDEX refresh_tokens_session_idx ON refresh_tokens (session_id)`);
    // The rotation invariant, enforced by the database: a login holds at most one unspent token.
    await q.query(
      `CREATE UNIQUE INDEX refresh_tokens_one_live_key ON refresh_tokens (session_id) WHERE spent_at IS NULL`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE refresh_tokens`);
    await q.query(`DROP TABLE sessions`);
  }
}
