import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { returnedRows } from './sql-helpers.js';

/** A Web Push endpoint one of a person's browsers registered (`push_subscriptions`), times in epoch ms. */
export interface PushSubscriptionRecord {
  readonly id: string;
  readonly userId: string;
  readonly endpoint: string;
  /** The browser's ECDH public key (base64url): what the payload is encrypted to. */
  readonly p256dh: string;
  /** The browser's auth secret (base64url). */
  readonly auth: string;
  readonly userAgent: string | null;
  readonly createdAt: number;
  readonly lastOkAt: number | null;
  /** The push service said the subscription is gone (404/410): never sent to again. */
  readonly failedAt: number | null;
}

/** What a browser hands over when it subscribes (its PushSubscription's JSON). */
export interface NewPushSubscription {
  readonly endpoint: string;
  readonly p256dh: string;
  readonly auth: string;
  readonly userAgent?: string | null;
}

interface PushSubscriptionRow {
  id: string;
  user_id: string;
  endpoint: string;
  p256dh: string;
  auth: string;
  user_agent: string | null;
  created_at: Date;
  last_ok_at: Date | null;
  failed_at: Date | null;
}

const COLUMNS = 'id::text, user_id::text, endpoint, p256dh, auth, user_agent, created_at, last_ok_at, failed_at';

function toRecord(row: PushSubscriptionRow): PushSubscriptionRecord {
  return {
    id: row.id,
    userId: row.user_id,
    endpoint: row.endpoint,
    p256dh: row.p256dh,
    auth: row.auth,
    userAgent: row.user_agent,
    createdAt: row.created_at.getTime(),
    lastOkAt: row.last_ok_at?.getTime() ?? null,
    failedAt: row.failed_at?.getTime() ?? null,
  };
}

/** `push_subscriptions`: the Web Push endpoints of people's browsers (docs/escalation.md, "Web Push"). */
@Injectable()
export class PushSubscriptionRepository {
  constructor(private readonly db: DataSource) {}

  /**
   * Stores a browser's subscription for `userId`, keyed by endpoint. An endpoint belongs to one
   * browser profile: registered again (new keys, or another person signing in on that browser) it
   * moves to the caller with the new keys and counts as working again.
   */
  async upsert(userId: string, subscription: NewPushSubscription): Promise<PushSubscriptionRecord> {
    const rows: PushSubscriptionRow[] = await this.db.query(
      `INSERT INTO push_subscriptions (user_id, endpoint, p256dh, auth, user_agent)
       VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (endpoint) DO UPDATE
          SET user_id = EXCLUDED.user_id, p256dh = EXCLUDED.p256dh, auth = EXCLUDED.auth,
              user_agent = EXCLUDED.user_agent, failed_at = NULL,
              created_at = CASE WHEN push_subscriptions.user_id = EXCLUDED.user_id
                                THEN push_subscriptions.created_at ELSE now() END
       RETURNING ${COLUMNS}`,
      [userId, subscription.endpoint, subscription.p256dh, subscription.auth, subscription.userAgent ?? null],
    );
    return toRecord(rows[0]);
  }

  /** A person's subscriptions, oldest first; `usableOnly`: without those the push service said are gone. */
  async listByUser(
    userId: string,
    { usableOnly = false }: { usableOnly?: boolean } = {},
  ): Promise<PushSubscriptionRecord[]> {
    const rows: PushSubscriptionRow[] = await this.db.query(
      `SELECT ${COLUMNS} FROM push_subscriptions
        WHERE user_id = $1 ${usableOnly ? 'AND failed_at IS NULL' : ''}
        ORDER BY created_at, id`,
      [userId],
    );
    return rows.map(toRecord);
  }

  async findById(id: string): Promise<PushSubscriptionRecord | undefined> {
    const rows: PushSubscriptionRow[] = await this.db.query(`SELECT ${COLUMNS} FROM push_subscriptions WHERE id = $1`, [
      id,
    ]);
    return rows[0] && toRecord(rows[0]);
  }

  /** Removes the caller's subscription of `endpoint`; false when they had none (another person's is untouched). */
  async deleteByEndpoint(userId: string, endpoint: string): Promise<boolean> {
    const rows = returnedRows<{ id: string }>(
      await this.db.query(`DELETE FROM push_subscriptions WHERE user_id = $1 AND endpoint = $2 RETURNING id::text`, [
        userId,
        endpoint,
      ]),
    );
    return rows.length > 0;
  }

  /** The push service accepted a message for it. */
  async markOk(id: string): Promise<void> {
    await this.db.query(`UPDATE push_subscriptions SET last_ok_at = now() WHERE id = $1`, [id]);
  }

  /** The push service said it is gone (404/410): no more deliveries to it until the browser subscribes again. */
  async markFailed(id: string): Promise<void> {
    await this.db.query(`UPDATE push_subscriptions SET failed_at = COALESCE(failed_at, now()) WHERE id = $1`, [id]);
  }
}
