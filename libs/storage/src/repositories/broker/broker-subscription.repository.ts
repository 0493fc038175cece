import type pg from 'pg';
import type { BrokerChanges, StoredBrokerState } from './broker-changes.js';
import type { BrokerStatement } from './broker-statement.js';

/** SQL of the persistent sessions' subscriptions (`subscriptions`): one row per (client, topic filter). */
export class BrokerSubscriptionRepository {
  /** @param s the broker's schema, quoted */
  constructor(private readonly s: string) {}

  /** The subscriptions in the order they were first written (inside the caller's snapshot). */
  async load(client: pg.ClientBase): Promise<StoredBrokerState['subscriptions']> {
    const { s } = this;
    const subscriptions = await client.query<{
      client_id: string;
      topic: string;
      qos: number;
      rh: number | null;
      rap: boolean | null;
      nl: boolean | null;
      subscription_identifier: number | null;
    }>(`SELECT client_id, topic, qos, rh, rap, nl, subscription_identifier FROM ${s}.subscriptions ORDER BY position`);
    return subscriptions.rows.map((row) => ({
      clientId: row.client_id,
      topic: row.topic,
      record: {
        qos: row.qos,
        rh: row.rh ?? undefined,
        rap: row.rap ?? undefined,
        nl: row.nl ?? undefined,
        ...(row.subscription_identifier !== null && { subscriptionIdentifier: row.subscription_identifier }),
      },
    }));
  }

  /** Adds the subscriptions' upserts and deletes to the flush's statement. */
  write(statement: BrokerStatement, changes: Pick<BrokerChanges, 'subscriptionUpserts' | 'subscriptionDeletes'>): void {
    const { s } = this;
    const { subscriptionUpserts, subscriptionDeletes } = changes;
    if (subscriptionUpserts.length > 0) {
      const records = subscriptionUpserts.map((u) => u.record);
      statement.add(
        `INSERT INTO ${s}.subscriptions (client_id, topic, qos, rh, rap, nl, subscription_identifier)
         SELECT * FROM unnest(${statement.param(
           subscriptionUpserts.map((u) => u.clientId),
           'text[]',
         )}, ${statement.param(
           subscriptionUpserts.map((u) => u.topic),
           'text[]',
         )}, ${statement.param(
           records.map((r) => r.qos),
           'smallint[]',
         )}, ${statement.param(
           records.map((r) => r.rh ?? null),
           'smallint[]',
         )}, ${statement.param(
           records.map((r) => r.rap ?? null),
           'boolean[]',
         )}, ${statement.param(
           records.map((r) => r.nl ?? null),
           'boolean[]',
         )}, ${statement.param(
           records.map((r) => r.subscriptionIdentifier ?? null),
           'integer[]',
         )})
         ON CONFLICT (client_id, topic) DO UPDATE SET qos = excluded.qos, rh = excluded.rh, rap = excluded.rap,
           nl = excluded.nl, subscription_identifier = excluded.subscription_identifier`,
      );
    }
    if (subscriptionDeletes.length > 0)
      statement.add(
        `DELETE FROM ${s}.subscriptions WHERE (client_id, topic) IN (SELECT * FROM unnest(${statement.param(
          subscriptionDeletes.map((d) => d.clientId),
          'text[]',
        )}, ${statement.param(
          subscriptionDeletes.map((d) => d.topic),
          'text[]',
        )}))`,
      );
  }
}
