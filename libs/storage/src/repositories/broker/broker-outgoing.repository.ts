import type pg from 'pg';
import type { BrokerChanges, StoredBrokerState } from './broker-changes.js';
import { decodeBrokerPacketRow, type BrokerPacketRow } from './broker-packet.codec.js';
import type { BrokerStatement } from './broker-statement.js';

/**
 * SQL of the outgoing queues (`outgoing`): the QoS 1/2 packets queued for each persistent session,
 * one row per queued copy, numbered in queue order.
 */
export class BrokerOutgoingRepository {
  /** @param s the broker's schema, quoted */
  constructor(private readonly s: string) {}

  /** The queued packets in queue order (inside the caller's snapshot). */
  async load(client: pg.ClientBase): Promise<StoredBrokerState['outgoing']> {
    const { s } = this;
    const outgoing = await client.query<BrokerPacketRow & { id: string; client_id: string }>(
      `SELECT id, client_id, packet, payload, payload_is_text FROM ${s}.outgoing ORDER BY id`,
    );
    return outgoing.rows.map((row) => ({
      id: Number(row.id),
      clientId: row.client_id,
      packet: decodeBrokerPacketRow(row),
    }));
  }

  /** Adds the queues' inserts, updates and deletes to the flush's statement. */
  write(
    statement: BrokerStatement,
    changes: Pick<BrokerChanges, 'outgoingInserts' | 'outgoingUpdates' | 'outgoingDeletes'>,
  ): void {
    const { s } = this;
    const { outgoingInserts, outgoingUpdates, outgoingDeletes } = changes;
    if (outgoingInserts.length > 0)
      statement.add(
        `INSERT INTO ${s}.outgoing (id, client_id, packet, payload, payload_is_text)
         SELECT * FROM unnest(${statement.param(
           outgoingInserts.map((o) => o.id),
           'bigint[]',
         )}, ${statement.param(
           outgoingInserts.map((o) => o.clientId),
           'text[]',
         )}, ${statement.packets(outgoingInserts)})`,
      );
    if (outgoingUpdates.length > 0)
      statement.add(
        `UPDATE ${s}.outgoing o SET packet = u.packet, payload = u.payload, payload_is_text = u.payload_is_text
         FROM unnest(${statement.param(
           outgoingUpdates.map((o) => o.id),
           'bigint[]',
         )}, ${statement.packets(outgoingUpdates)}) AS u(id, packet, payload, payload_is_text)
         WHERE o.id = u.id`,
      );
    if (outgoingDeletes.length > 0)
      statement.add(`DELETE FROM ${s}.outgoing WHERE id = ANY(${statement.param(outgoingDeletes, 'bigint[]')})`);
  }
}
