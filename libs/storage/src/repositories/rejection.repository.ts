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
  /** The raw payload, at most the ingest payload limit (the caller truncates). */
  readonly payload: Buffer;
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
  readonly payload: Buffer;
  readonly payloadSize: number;
  readonly truncated: boolean;
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
}

/** The dead-letter store `ingest_rejections`: written in batches by the ingest, read by admins. */
@Injectable()
export class RejectionRepository {
  constructor(private readonly dataSource: DataSource) {}

  /** Stores many dead letters in one statement (array parameters: no bind-parameter limit). */
  async insertMany(rejections: readonly NewIngestRejection[]): Promise<void> {
    if (rejections.length === 0) return;
    // One payload per message, not per rejected reading: readings of one message share it by reference.
    const payloads: Buffer[] = [];
    const payloadIndex = new Map<Buffer, number>();
    const refs = rejections.map((r) => {
      let i = payloadIndex.get(r.payload);
      if (i === undefined) {
        i = payloads.length + 1;
        payloads.push(r.payload);
        payloadIndex.set(r.payload, i);
      }
      return i;
    });
    await this.dataSource.query(
      `INSERT INTO ingest_rejections (received_at, device_id, topic, reason, reading_index, seq, payload, payload_size, truncated)
       SELECT r.received_at, r.device_id, r.topic, r.reason, r.reading_index, r.seq, ($7::bytea[])[r.payload_ref], r.payload_size,
              r.payload_size > octet_length(($7::bytea[])[r.payload_ref])
         FROM unnest($1::timestamptz[], $2::text[], $3::text[], $4::text[], $5::int[], $6::bigint[], $8::int[], $9::int[])
           AS r(received_at, device_id, topic, reason, reading_index, seq, payload_ref, payload_size)`,
      [
        rejections.map((r) => new Date(r.receivedAt).toISOString()),
        rejections.map((r) => r.deviceId ?? null),
        rejections.map((r) => r.topic),
        rejections.map((r) => r.reason),
        rejections.map((r) => r.readingIndex ?? null),
        rejections.map((r) => (r.seq === undefined ? null : String(r.seq))),
        payloads,
        refs,
        rejections.map((r) => r.payloadSize),
      ],
    );
  }

  /** Newest first, filtered by device and receive time. */
  async find(query: RejectionQuery): Promise<IngestRejectionRecord[]> {
    const rows: RejectionRow[] = await this.dataSource.query(
      `SELECT id::text, received_at, device_id, topic, reason, reading_index, seq::text, payload, payload_size, truncated
         FROM ingest_rejections
        WHERE ($1::text IS NULL OR device_id = $1)
          AND ($2::timestamptz IS NULL OR received_at >= $2)
          AND ($3::timestamptz IS NULL OR received_at < $3)
        ORDER BY received_at DESC, id DESC
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
    }));
  }
}
