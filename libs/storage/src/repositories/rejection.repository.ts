import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';

/** A dead letter: a refused message, or one refused reading of it (`readingIndex`). */
export interface NewIngestRejection {
  readonly receivedAt: number;
  /** As sent in the topic (may be malformed or spoofed); undefined when the topic named none. */
  readonly deviceId?: string;
  readonly topic: string;
  readonly reason: string;
  readonly readingIndex?: number;
  readonly seq?: number;
  /**
   * The raw payload, at most the ingest payload limit (the caller truncates); absent when it is not
   * kept (the device's dead-letter budget is spent). Dead letters given the same Buffer (the readings
   * of one message) share one stored copy.
   */
  readonly payload?: Buffer;
  /** Size of the payload as received, before truncation. */
  readonly payloadSize: number;
}

export interface IngestRejectionRecord {
  readonly id: string;
  readonly receivedAt: Date;
  readonly deviceId?: string;
  readonly topic: string;
  readonly reason: string;
  readonly readingIndex?: number;
  readonly seq?: number;
  /** Empty for a dead letter stored without one (see `payloadDropped`). */
  readonly payload: Buffer;
  readonly payloadSize: number;
  readonly truncated: boolean;
  /** The payload was not kept (dead-letter budget spent, or the database refused the dead letter with it). */
  readonly payloadDropped: boolean;
}

export interface RejectionQuery {
  readonly deviceId?: string;
  /** Inclusive, epoch ms. */
  readonly from?: number;
  /** Exclusive, epoch ms. */
  readonly to?: number;
  readonly limit: number;
}

interface RejectionRow {
  id: string;
  received_at: Date;
  device_id: string | null;
  topic: string;
  reason: string;
  reading_index: number | null;
  seq: string | null;
  payload: Buffer | null;
  payload_size: number;
  truncated: boolean;
  payload_dropped: boolean;
}

/**
 * The dead-letter store `ingest_rejections`, with the raw payloads in `ingest_rejected_payloads`
 * (one per message): written in batches by the ingest, read by admins.
 */
@Injectable()
export class RejectionRepository {
  constructor(private readonly dataSource: DataSource) {}

  /**
   * Stores many dead letters and their payloads in one statement (array parameters: no
   * bind-parameter limit), each distinct payload once: the readings of one message share it.
   */
  async insertMany(rejections: readonly NewIngestRejection[]): Promise<void> {
    if (rejections.length === 0) return;
    const payloads: Buffer[] = [];
    const payloadReceivedAt: string[] = [];
    const payloadIndex = new Map<Buffer, number>();
    const receivedAt = rejections.map((r) => new Date(r.receivedAt).toISOString());
    const refs = rejections.map((r, i) => {
      if (r.payload === undefined) return null;
      let ref = payloadIndex.get(r.payload);
      if (ref === undefined) {
        payloads.push(r.payload);
        payloadReceivedAt.push(receivedAt[i]);
        ref = payloads.length;
        payloadIndex.set(r.payload, ref);
      }
      return ref;
    });
    // Ids are drawn in a CTE (evaluated once, as it calls nextval) so that the dead letters can
    // reference payloads inserted by the same statement; ORDER BY keeps their ids in batch order.
    await this.dataSource.query(
      `WITH p AS (
         SELECT nextval('ingest_rejected_payloads_id_seq') AS id, x.ref, x.received_at, x.payload
           FROM unnest($7::bytea[], $10::timestamptz[]) WITH ORDINALITY AS x(payload, received_at, ref)
       ), stored AS (
         INSERT INTO ingest_rejected_payloads (id, received_at, payload) SELECT id, received_at, payload FROM p
       )
       INSERT INTO ingest_rejections (received_at, device_id, topic, reason, reading_index, seq, payload_id, payload_size,
                                      truncated, payload_dropped)
       SELECT r.received_at, r.device_id, r.topic, r.reason, r.reading_index, r.seq, p.id, r.payload_size,
              coalesce(r.payload_size > octet_length(p.payload), false), r.payload_ref IS NULL
         FROM unnest($1::timestamptz[], $2::text[], $3::text[], $4::text[], $5::int[], $6::bigint[], $8::int[], $9::int[])
                WITH ORDINALITY AS r(received_at, device_id, topic, reason, reading_index, seq, payload_ref, payload_size, n)
         LEFT JOIN p ON p.ref = r.payload_ref
        ORDER BY r.n`,
      [
        receivedAt,
        rejections.map((r) => r.deviceId ?? null),
        rejections.map((r) => r.topic),
        rejections.map((r) => r.reason),
        rejections.map((r) => r.readingIndex ?? null),
        rejections.map((r) => (r.seq === undefined ? null : String(r.seq))),
        payloads,
        refs,
        rejections.map((r) => r.payloadSize),
        payloadReceivedAt,
      ],
    );
  }

  /** Newest first, filtered by device and receive time. */
  async find(query: RejectionQuery): Promise<IngestRejectionRecord[]> {
    const rows: RejectionRow[] = await this.dataSource.query(
      `SELECT r.id::text, r.received_at, r.device_id, r.topic, r.reason, r.reading_index, r.seq::text, p.payload,
              r.payload_size, r.truncated, r.payload_dropped
         FROM ingest_rejections r
         LEFT JOIN ingest_rejected_payloads p ON p.id = r.payload_id
        WHERE ($1::text IS NULL OR r.device_id = $1)
          AND ($2::timestamptz IS NULL OR r.received_at >= $2)
          AND ($3::timestamptz IS NULL OR r.received_at < $3)
        ORDER BY r.received_at DESC, r.id DESC
        LIMIT $4`,
      [
        query.deviceId ?? null,
        query.from === undefined ? null : new Date(query.from),
        query.to === undefined ? null : new Date(query.to),
        query.limit,
      ],
    );
    return rows.map((r) => ({
      id: r.id,
      receivedAt: r.received_at,
      ...(r.device_id === null ? {} : { deviceId: r.device_id }),
      topic: r.topic,
      reason: r.reason,
      ...(r.reading_index === null ? {} : { readingIndex: r.reading_index }),
      ...(r.seq === null ? {} : { seq: Number(r.seq) }),
      payload: r.payload ?? Buffer.alloc(0),
      payloadSize: r.payload_size,
      truncated: r.truncated,
      payloadDropped: r.payload_dropped,
    }));
  }
}
