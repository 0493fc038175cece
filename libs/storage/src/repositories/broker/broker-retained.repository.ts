import type pg from 'pg';
import type { BrokerChanges } from './broker-changes.js';
import { decodeBrokerPacketRow, type BrokerPacket, type BrokerPacketRow } from './broker-packet.codec.js';
import type { BrokerStatement } from './broker-statement.js';

/** SQL of the retained messages (`retained`): one row per topic. */
export class BrokerRetainedRepository {
  /** @param s the broker's schema, quoted */
  constructor(private readonly s: string) {}

  /** The retained messages in the order they were first written (inside the caller's snapshot). */
  async load(client: pg.ClientBase): Promise<BrokerPacket[]> {
    const { s } = this;
    const retained = await client.query<BrokerPacketRow>(
      `SELECT packet, payload, payload_is_text FROM ${s}.retained ORDER BY position`,
    );
    return retained.rows.map(decodeBrokerPacketRow);
  }

  /** Adds the retained messages' upserts and deletes to the flush's statement. */
  write(statement: BrokerStatement, changes: Pick<BrokerChanges, 'retainedUpserts' | 'retainedDeletes'>): void {
    const { s } = this;
    const { retainedUpserts, retainedDeletes } = changes;
    if (retainedUpserts.length > 0)
      statement.add(
        `INSERT INTO ${s}.retained (topic, packet, payload, payload_is_text)
         SELECT * FROM unnest(${statement.param(
           retainedUpserts.map((r) => r.topic),
           'text[]',
         )}, ${statement.packets(retainedUpserts)})
         ON CONFLICT (topic) DO UPDATE SET packet = excluded.packet, payload = excluded.payload,
           payload_is_text = excluded.payload_is_text`,
      );
    if (retainedDeletes.length > 0)
      statement.add(`DELETE FROM ${s}.retained WHERE topic = ANY(${statement.param(retainedDeletes, 'text[]')})`);
  }
}
