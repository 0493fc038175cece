import type pg from 'pg';
import type { BrokerChanges, StoredBrokerState } from './broker-changes.js';
import { decodeBrokerPacketRow, type BrokerPacketRow } from './broker-packet.codec.js';
import type { BrokerStatement } from './broker-statement.js';

/**
 * SQL of the publish journal (`publish_journal`): a device's QoS 1 PUBLISH made durable before its
 * PUBACK, one row per message until every queued copy is written or acknowledged.
 */
export class BrokerJournalRepository {
  /** @param s the broker's schema, quoted */
  constructor(private readonly s: string) {}

  /** The journalled messages, oldest first (inside the caller's snapshot). */
  async load(client: pg.ClientBase): Promise<StoredBrokerState['journal']> {
    const { s } = this;
    const journal = await client.query<BrokerPacketRow & { id: string }>(
      `SELECT id, packet, payload, payload_is_text FROM ${s}.publish_journal ORDER BY id`,
    );
    return journal.rows.map((row) => ({ id: Number(row.id), packet: decodeBrokerPacketRow(row) }));
  }

  /** Adds the journal's inserts and deletes to the flush's statement. */
  write(statement: BrokerStatement, changes: Pick<BrokerChanges, 'journalInserts' | 'journalDeletes'>): void {
    const { s } = this;
    const { journalInserts, journalDeletes } = changes;
    if (journalInserts.length > 0)
      statement.add(
        `INSERT INTO ${s}.publish_journal (id, packet, payload, payload_is_text)
         SELECT * FROM unnest(${statement.param(
           journalInserts.map((j) => j.id),
           'bigint[]',
         )}, ${statement.packets(journalInserts)})`,
      );
    if (journalDeletes.length > 0)
      statement.add(`DELETE FROM ${s}.publish_journal WHERE id = ANY(${statement.param(journalDeletes, 'bigint[]')})`);
  }
}
