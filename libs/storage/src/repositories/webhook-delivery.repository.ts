import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';

export type WebhookDeliveryState = 'pending' | 'delivered' | 'failed';

/** A delivery to store: its id is the receiver's deduplication key (`X-Lantern-Delivery`). */
export interface NewWebhookDelivery {
  readonly id: string;
  readonly event: string;
  readonly body: string;
}

export interface WebhookDeliveryRecord extends NewWebhookDelivery {
  readonly createdAt: number;
  readonly state: WebhookDeliveryState;
  readonly attempts: number;
  readonly nextAttemptAt: number;
  readonly lastError: string | null;
  readonly finishedAt: number | null;
}

interface DeliveryRow {
  id: string;
  event: string;
  body: string;
  created_at: Date;
  state: WebhookDeliveryState;
  attempts: number;
  next_attempt_at: Date;
  last_error: string | null;
  finished_at: Date | null;
}

const COLUMNS = 'id::text, event, body, created_at, state, attempts, next_attempt_at, last_error, finished_at';

/** `webhook_deliveries`: the durable webhook outbox, delivered in `seq` order. */
@Injectable()
export class WebhookDeliveryRepository {
  constructor(private readonly dataSource: DataSource) {}

  /** Stores deliveries, in order, in one statement. */
  async enqueue(deliveries: readonly NewWebhookDelivery[]): Promise<void> {
    if (deliveries.length === 0) return;
    await this.dataSource.query(
      `INSERT INTO webhook_deliveries (id, event, body)
       SELECT d.id, d.event, d.body
         FROM unnest($1::uuid[], $2::text[], $3::text[]) WITH ORDINALITY AS d(id, event, body, n)
        ORDER BY d.n
       ON CONFLICT (id) DO NOTHING`,
      [deliveries.map((d) => d.id), deliveries.map((d) => d.event), deliveries.map((d) => d.body)],
    );
  }

  /** The oldest pending delivery (whatever its next attempt time: order is kept), with the database's clock. */
  async head(): Promise<{ now: number; delivery: WebhookDeliveryRecord | undefined }> {
    const rows: (Partial<DeliveryRow> & { now: Date })[] = await this.dataSource.query(
      `SELECT n.now, d.* FROM (SELECT now() AS now) n
         LEFT JOIN LATERAL (SELECT ${COLUMNS} FROM webhook_deliveries WHERE state = 'pending' ORDER BY seq LIMIT 1) d ON true`,
    );
    const row = rows[0];
    return { now: row.now.getTime(), delivery: row.id ? toRecord(row as DeliveryRow) : undefined };
  }

  async markDelivered(id: string, attempts: number): Promise<void> {
    await this.dataSource.query(
      `UPDATE webhook_deliveries SET state = 'delivered', attempts = $2, last_error = NULL, finished_at = now() WHERE id = $1`,
      [id, attempts],
    );
  }

  /** Records a failed attempt: retried after `retryInMs`, or final (`failed`) when undefined. */
  async markAttemptFailed(id: string, attempts: number, error: string, retryInMs: number | undefined): Promise<void> {
    await this.dataSource.query(
      retryInMs === undefined
        ? `UPDATE webhook_deliveries SET state = 'failed', attempts = $2, last_error = $3, finished_at = now() WHERE id = $1`
        : `UPDATE webhook_deliveries SET attempts = $2, last_error = $3,
                  next_attempt_at = now() + make_interval(secs => $4::double precision / 1000)
            WHERE id = $1`,
      retryInMs === undefined ? [id, attempts, error] : [id, attempts, error, retryInMs],
    );
  }

  /** Newest first, optionally of one state. */
  async list(query: { state?: WebhookDeliveryState; limit: number }): Promise<WebhookDeliveryRecord[]> {
    const rows: DeliveryRow[] = await this.dataSource.query(
      `SELECT ${COLUMNS} FROM webhook_deliveries WHERE ($1::text IS NULL OR state = $1) ORDER BY seq DESC LIMIT $2`,
      [query.state ?? null, query.limit],
    );
    return rows.map(toRecord);
  }

  /** Deliveries waiting and deliveries that failed for good (kept until retention), for /metrics. */
  async countUndelivered(): Promise<{ pending: number; failed: number }> {
    const [row]: { pending: number; failed: number }[] = await this.dataSource.query(
      `SELECT count(*) FILTER (WHERE state = 'pending')::int AS pending, count(*) FILTER (WHERE state = 'failed')::int AS failed
         FROM webhook_deliveries WHERE state <> 'delivered'`,
    );
    return row;
  }
}

function toRecord(r: DeliveryRow): WebhookDeliveryRecord {
  return {
    id: r.id,
    event: r.event,
    body: r.body,
    createdAt: r.created_at.getTime(),
    state: r.state,
    attempts: r.attempts,
    nextAttemptAt: r.next_attempt_at.getTime(),
    lastError: r.last_error,
    finishedAt: r.finished_at?.getTime() ?? null,
  };
}
