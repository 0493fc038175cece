import type pg from 'pg';

const IDENTIFIER = /^[a-z_][a-z0-9_]{0,62}$/;

/** Another broker holds the schema (see {@link BrokerSchemaRepository.lock}). */
export class BrokerSchemaInUseError extends Error {
  constructor(readonly schema: string) {
    super(`another broker is using the schema "${schema}" of this database: run one embedded broker per database`);
    this.name = 'BrokerSchemaInUseError';
  }
}

/**
 * The embedded broker's own schema (default `broker`, so Lantern's migrations never see its
 * tables): its name, checked once; its tables, created idempotently by {@link ensureSchema}; and
 * the advisory lock that gives it to one broker at a time.
 */
export class BrokerSchemaRepository {
  /** The schema's name quoted for SQL text (a checked identifier, never a parameter). */
  readonly quoted: string;

  constructor(
    private readonly pool: pg.Pool,
    private readonly schema: string,
  ) {
    if (!IDENTIFIER.test(schema)) throw new Error(`broker schema name '${schema}' must match ${String(IDENTIFIER)}`);
    this.quoted = `"${schema}"`;
  }

  /**
   * Takes the schema for one broker: a session advisory lock, held on a connection of its own until
   * the returned release. Two brokers writing one schema would collide on row ids; the second fails
   * to start instead. The server drops the lock when the holder's connection dies: keepalives make
   * it notice a holder that vanished without closing it (a power cut) within about 25 s.
   */
  async lock(): Promise<() => Promise<void>> {
    const client = await this.pool.connect();
    try {
      await client.query('SET tcp_keepalives_idle = 10; SET tcp_keepalives_interval = 5; SET tcp_keepalives_count = 3');
      const { rows } = await client.query<{ locked: boolean }>('SELECT pg_try_advisory_lock(hashtext($1)) AS locked', [
        `lantern-broker:${this.schema}`,
      ]);
      if (!rows[0].locked) throw new BrokerSchemaInUseError(this.schema);
    } catch (error) {
      client.release();
      throw error;
    }
    // A dropped lock connection must not crash the broker; the lock is gone with it (nothing to undo).
    client.on('error', () => undefined);
    return async () => {
      try {
        await client.query('SELECT pg_advisory_unlock(hashtext($1))', [`lantern-broker:${this.schema}`]);
      } finally {
        client.release();
      }
    };
  }

  /**
   * Creates the schema and its tables when missing. `position` columns keep the order rows were
   * first written in, which is the order aedes-persistence's memory store answers in.
   */
  async ensureSchema(): Promise<void> {
    const s = this.quoted;
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      // Two brokers starting at once on one database must not race on CREATE … IF NOT EXISTS.
      await client.query(`SELECT pg_advisory_xact_lock(hashtext($1))`, [`lantern-broker-schema:${s}`]);
      await client.query(`
        CREATE SCHEMA IF NOT EXISTS ${s};
        CREATE TABLE IF NOT EXISTS ${s}.subscriptions (
          client_id text NOT NULL,
          topic text NOT NULL,
          qos smallint NOT NULL,
          rh smallint,
          rap boolean,
          nl boolean,
          subscription_identifier integer,
          position bigserial NOT NULL,
          PRIMARY KEY (client_id, topic)
        );
        CREATE TABLE IF NOT EXISTS ${s}.retained (
          topic text PRIMARY KEY,
          packet text NOT NULL,
          payload bytea,
          payload_is_text boolean NOT NULL,
          position bigserial NOT NULL
        );
        CREATE TABLE IF NOT EXISTS ${s}.outgoing (
          id bigint PRIMARY KEY,
          client_id text NOT NULL,
          packet text NOT NULL,
          payload bytea,
          payload_is_text boolean NOT NULL
        );
        CREATE TABLE IF NOT EXISTS ${s}.incoming (
          client_id text NOT NULL,
          message_id integer NOT NULL,
          packet text NOT NULL,
          payload bytea,
          payload_is_text boolean NOT NULL,
          PRIMARY KEY (client_id, message_id)
        );
        CREATE TABLE IF NOT EXISTS ${s}.wills (
          client_id text PRIMARY KEY,
          packet text NOT NULL,
          payload bytea,
          payload_is_text boolean NOT NULL,
          position bigserial NOT NULL
        );
        CREATE TABLE IF NOT EXISTS ${s}.publish_journal (
          id bigint PRIMARY KEY,
          packet text NOT NULL,
          payload bytea,
          payload_is_text boolean NOT NULL
        );
      `);
      await client.query('COMMIT');
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    } finally {
      client.release();
    }
  }
}
