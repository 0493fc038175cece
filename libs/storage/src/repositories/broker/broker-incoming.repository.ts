import type pg from 'pg';
import type { BrokerChanges, StoredBrokerState } from './broker-changes.js';
import { decodeBrokerPacketRow, type BrokerPacketRow } from './broker-packet.codec.js';
import type { BrokerStatement } from './broker-statement.js';

/**
 * SQL of the incoming QoS 2 packets (`incoming`): a client's PUBLISH held between its PUBREC and
 * PUBREL, one row per (client, message id).
 */
export class BrokerIncomingRepository {
  /** @param s the broker's schema, quoted */
  constructor(private readonly s: string) {}

  /** The held packets (inside the caller's snapshot). */
  async load(client: pg.ClientBase): Promise<StoredBrokerState['incoming']> {
    const { s } = this;
    const incoming = await client.query<BrokerPacketRow & { client_id: string; message_id: number }>(
      `SELECT client_id, message_id, packet, payload, payload_is_text FROM ${s}.incoming`,
    );
    return incoming.rows.map((row) => ({
      clientId: row.client_id,
      messageId: row.message_id,
      packet: decodeBrokerPacketRow(row),
    }));
  }

  /** Adds the held packets' upserts and deletes to the flush's statement. */
  write(statement: BrokerStatement, changes: Pick<BrokerChanges, 'incomingUpserts' | 'incomingDeletes'>): void {
    const { s } = this;
    const { incomingUpserts, incomingDeletes } = changes;
    if (incomingUpserts.length > 0)
      statement.add(
        `INSERT INTO ${s}.incoming (client_id, message_id, packet, payload, payload_is_text)
         SELECT * FROM unnest(${statement.param(
           incomingUpserts.map((i) => i.clientId),
           'text[]',
         )}, ${statement.param(
           incomingUpserts.map((i) => i.messageId),
           'integer[]',
         )}, ${statement.packets(incomingUpserts)})
         ON CONFLICT (client_id, message_id) DO UPDATE SET packet = excluded.packet, payload = excluded.payload,
           payload_is_text = excluded.payload_is_text`,
      );
    if (incomingDeletes.length > 0)
      statement.add(
        `DELETE FROM ${s}.incoming WHERE (client_id, message_id) IN (SELECT * FROM unnest(${statement.param(
          incomingDeletes.map((d) => d.clientId),
          'text[]',
        )}, ${statement.param(
          incomingDeletes.map((d) => d.messageId),
          'integer[]',
        )}))`,
      );
  }
}
