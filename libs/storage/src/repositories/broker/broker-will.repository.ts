import type pg from 'pg';
import type { BrokerChanges, StoredBrokerState } from './broker-changes.js';
import { decodeBrokerPacketRow, type BrokerPacketRow } from './broker-packet.codec.js';
import type { BrokerStatement } from './broker-statement.js';

/** SQL of the connected clients' wills (`wills`): one row per client. */
export class BrokerWillRepository {
  /** @param s the broker's schema, quoted */
  constructor(private readonly s: string) {}

  /** The wills in the order they were first written (inside the caller's snapshot). */
  async load(client: pg.ClientBase): Promise<StoredBrokerState['wills']> {
    const { s } = this;
    const wills = await client.query<BrokerPacketRow & { client_id: string }>(
      `SELECT client_id, packet, payload, payload_is_text FROM ${s}.wills ORDER BY position`,
    );
    return wills.rows.map((row) => ({ clientId: row.client_id, packet: decodeBrokerPacketRow(row) }));
  }

  /** Adds the wills' upserts and deletes to the flush's statement. */
  write(statement: BrokerStatement, changes: Pick<BrokerChanges, 'willUpserts' | 'willDeletes'>): void {
    const { s } = this;
    const { willUpserts, willDeletes } = changes;
    if (willUpserts.length > 0)
      statement.add(
        `INSERT INTO ${s}.wills (client_id, packet, payload, payload_is_text)
         SELECT * FROM unnest(${statement.param(
           willUpserts.map((w) => w.clientId),
           'text[]',
         )}, ${statement.packets(willUpserts)})
         ON CONFLICT (client_id) DO UPDATE SET packet = excluded.packet, payload = excluded.payload,
           payload_is_text = excluded.payload_is_text`,
      );
    if (willDeletes.length > 0)
      statement.add(`DELETE FROM ${s}.wills WHERE client_id = ANY(${statement.param(willDeletes, 'text[]')})`);
  }
}
