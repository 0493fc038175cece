import type pg from 'pg';
import type { BrokerChanges, StoredBrokerState } from './broker/broker-changes.js';
import { BrokerIncomingRepository } from './broker/broker-incoming.repository.js';
import { BrokerJournalRepository } from './broker/broker-journal.repository.js';
import { BrokerOutgoingRepository } from './broker/broker-outgoing.repository.js';
import { BrokerRetainedRepository } from './broker/broker-retained.repository.js';
import { BrokerSchemaRepository } from './broker/broker-schema.repository.js';
import { BrokerStatement } from './broker/broker-statement.js';
import { BrokerSubscriptionRepository } from './broker/broker-subscription.repository.js';
import { BrokerWillRepository } from './broker/broker-will.repository.js';

/*
 * The embedded broker's durable state (aedes sessions, subscriptions, retained messages, in-flight
 * packets) in PostgreSQL: the SQL of libs/embedded's AedesPostgresPersistence, kept with the other
 * repositories. It works on a `pg` pool, as the broker runs in the supervisor beside no TypeORM.
 * Each kind of state has its repository under ./broker/; this one puts them together.
 */

/**
 * All SQL of the embedded broker's persistence, in its own schema (default `broker`) so Lantern's
 * migrations never see these tables. The schema is created by {@link ensureSchema}, idempotently.
 * Loads read every kind of state in one snapshot; a write is one statement for every kind.
 */
export class AedesPostgresRepository {
  private readonly schema: BrokerSchemaRepository;
  private readonly subscriptions: BrokerSubscriptionRepository;
  private readonly retained: BrokerRetainedRepository;
  private readonly outgoing: BrokerOutgoingRepository;
  private readonly incoming: BrokerIncomingRepository;
  private readonly wills: BrokerWillRepository;
  private readonly journal: BrokerJournalRepository;

  constructor(
    private readonly pool: pg.Pool,
    schema: string,
  ) {
    this.schema = new BrokerSchemaRepository(pool, schema);
    const s = this.schema.quoted;
    this.subscriptions = new BrokerSubscriptionRepository(s);
    this.retained = new BrokerRetainedRepository(s);
    this.outgoing = new BrokerOutgoingRepository(s);
    this.incoming = new BrokerIncomingRepository(s);
    this.wills = new BrokerWillRepository(s);
    this.journal = new BrokerJournalRepository(s);
  }

  /** See {@link BrokerSchemaRepository.lock}: one broker per schema. */
  lock(): Promise<() => Promise<void>> {
    return this.schema.lock();
  }

  /** See {@link BrokerSchemaRepository.ensureSchema}. */
  ensureSchema(): Promise<void> {
    return this.schema.ensureSchema();
  }

  /** Reads everything back, in one repeatable-read snapshot. */
  async load(): Promise<StoredBrokerState> {
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
      const subscriptions = await this.subscriptions.load(client);
      const retained = await this.retained.load(client);
      const outgoing = await this.outgoing.load(client);
      const incoming = await this.incoming.load(client);
      const wills = await this.wills.load(client);
      const journal = await this.journal.load(client);
      await client.query('COMMIT');
      return { subscriptions, retained, outgoing, incoming, wills, journal };
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    } finally {
      client.release();
    }
  }

  /**
   * Writes a change set as ONE statement of data-modifying CTEs (see {@link BrokerStatement}): the
   * journal first, then the queues, subscriptions, retained messages, QoS 2 packets and wills.
   */
  async write(changes: BrokerChanges): Promise<void> {
    const statement = new BrokerStatement();
    this.journal.write(statement, changes);
    this.outgoing.write(statement, changes);
    this.subscriptions.write(statement, changes);
    this.retained.write(statement, changes);
    this.incoming.write(statement, changes);
    this.wills.write(statement, changes);
    const sql = statement.sql();
    if (sql === undefined) return;
    await this.pool.query(sql, statement.params);
  }
}
