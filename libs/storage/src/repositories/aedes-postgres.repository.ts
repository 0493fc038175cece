import type pg from 'pg';

/*
 * The embedded broker's durable state (aedes sessions, subscriptions, retained messages, in-flight
 * packets) in PostgreSQL: the SQL of libs/embedded's AedesPostgresPersistence, kept with the other
 * repositories. It works on a `pg` pool, as the broker runs in the supervisor beside no TypeORM.
 */

/**
 * A packet as aedes hands it to a persistence: a PUBLISH (payload a Buffer, or a string when a
 * caller published one), a PUBREL, or a will. Fields beyond the named ones (brokerId, brokerCounter,
 * clientId, MQTT 5 properties, …) are kept as they are.
 */
export interface BrokerPacket {
  [field: string]: unknown;
  cmd?: string;
  topic?: string;
  payload?: Buffer | string;
  qos?: number;
  retain?: boolean;
  messageId?: number;
  brokerId?: string;
  brokerCounter?: number;
  clientId?: string;
}

/** A packet as stored: its fields as JSON text and its payload as bytes (see {@link encodeBrokerPacket}). */
export interface EncodedPacket {
  readonly json: string;
  readonly payload: Buffer | null;
  readonly payloadIsText: boolean;
}

/** A subscription of a persistent session, as aedes-persistence keeps it (undefined options stay undefined). */
export interface SubscriptionRecord {
  readonly qos: number;
  readonly rh: number | undefined;
  readonly rap: boolean | undefined;
  readonly nl: boolean | undefined;
  readonly subscriptionIdentifier?: number;
}

/** Everything one flush writes, in one statement (one transaction). A key appears in one list at most. */
export interface BrokerChanges {
  readonly journalInserts: { readonly id: number; readonly packet: EncodedPacket }[];
  readonly journalDeletes: number[];
  readonly outgoingInserts: { readonly id: number; readonly clientId: string; readonly packet: EncodedPacket }[];
  readonly outgoingUpdates: { readonly id: number; readonly packet: EncodedPacket }[];
  readonly outgoingDeletes: number[];
  readonly subscriptionUpserts: {
    readonly clientId: string;
    readonly topic: string;
    readonly record: SubscriptionRecord;
  }[];
  readonly subscriptionDeletes: { readonly clientId: string; readonly topic: string }[];
  readonly retainedUpserts: { readonly topic: string; readonly packet: EncodedPacket }[];
  readonly retainedDeletes: string[];
  readonly incomingUpserts: { readonly clientId: string; readonly messageId: number; readonly packet: EncodedPacket }[];
  readonly incomingDeletes: { readonly clientId: string; readonly messageId: number }[];
  readonly willUpserts: { readonly clientId: string; readonly packet: EncodedPacket }[];
  readonly willDeletes: string[];
}

/** What a previous run left, in the order it was written. */
export interface StoredBrokerState {
  readonly subscriptions: { readonly clientId: string; readonly topic: string; readonly record: SubscriptionRecord }[];
  readonly retained: BrokerPacket[];
  readonly outgoing: { readonly id: number; readonly clientId: string; readonly packet: BrokerPacket }[];
  readonly incoming: { readonly clientId: string; readonly messageId: number; readonly packet: BrokerPacket }[];
  readonly wills: { readonly clientId: string; readonly packet: BrokerPacket }[];
  readonly journal: { readonly id: number; readonly packet: BrokerPacket }[];
}

/** Creates an empty change set. */
export function noBrokerChanges(): BrokerChanges {
  return {
    journalInserts: [],
    journalDeletes: [],
    outgoingInserts: [],
    outgoingUpdates: [],
    outgoingDeletes: [],
    subscriptionUpserts: [],
    subscriptionDeletes: [],
    retainedUpserts: [],
    retainedDeletes: [],
    incomingUpserts: [],
    incomingDeletes: [],
    willUpserts: [],
    willDeletes: [],
  };
}

/** True when the change set writes nothing. */
export function isEmptyBrokerChange(changes: BrokerChanges): boolean {
  return Object.values(changes).every((list: unknown[]) => list.length === 0);
}

// Markers in the stored JSON: a Buffer inside a packet (MQTT 5 correlation data, say) and a field
// whose value is undefined (aedes-packet's `messageId: undefined`), which JSON would drop.
const BUFFER = '$lanternBuffer';
const UNDEFINED = '$lanternUndefined';

/** Encodes a packet for storage: the payload goes to a bytea column as it is, the rest to JSON. */
export function encodeBrokerPacket(packet: BrokerPacket): EncodedPacket {
  const { payload, ...fields } = packet;
  const json = JSON.stringify(fields, function (this: Record<string, unknown>, key, value: unknown) {
    const raw = this[key];
    if (Buffer.isBuffer(raw)) return { [BUFFER]: raw.toString('base64') };
    if (raw === undefined && this === fields && key !== '') return { [UNDEFINED]: true };
    return value;
  });
  if (payload === undefined || payload === null) return { json, payload: null, payloadIsText: false };
  return typeof payload === 'string'
    ? { json, payload: Buffer.from(payload, 'utf8'), payloadIsText: true }
    : { json, payload, payloadIsText: false };
}

/** The inverse of {@link encodeBrokerPacket}. */
export function decodeBrokerPacket(json: string, payload: Buffer | null, payloadIsText: boolean): BrokerPacket {
  const packet = JSON.parse(json, (_key, value: unknown) => {
    if (value !== null && typeof value === 'object' && BUFFER in value)
      return Buffer.from((value as Record<string, string>)[BUFFER], 'base64');
    return value;
  }) as BrokerPacket;
  // A reviver cannot put an undefined value back (returning undefined deletes the field).
  for (const [key, value] of Object.entries(packet)) {
    if (value !== null && typeof value === 'object' && UNDEFINED in value) packet[key] = undefined;
  }
  if (payload !== null) packet.payload = payloadIsText ? payload.toString('utf8') : payload;
  return packet;
}

const IDENTIFIER = /^[a-z_][a-z0-9_]{0,62}$/;

/** Another broker holds the schema (see {@link AedesPostgresRepository.lock}). */
export class BrokerSchemaInUseError extends Error {
  constructor(readonly schema: string) {
    super(`another broker is using the schema "${schema}" of this database: run one embedded broker per database`);
    this.name = 'BrokerSchemaInUseError';
  }
}

/**
 * All SQL of the embedded broker's persistence, in its own schema (default `broker`) so Lantern's
 * migrations never see these tables. The schema is created by {@link ensureSchema}, idempotently.
 */
export class AedesPostgresRepository {
  private readonly s: string;
  private readonly schema: string;

  constructor(
    private readonly pool: pg.Pool,
    schema: string,
  ) {
    if (!IDENTIFIER.test(schema)) throw new Error(`broker schema name '${schema}' must match ${String(IDENTIFIER)}`);
    this.schema = schema;
    this.s = `"${schema}"`;
  }

  /**
   * Takes the schema for one broker: a session advisory lock, held on a connection of its own until
   * the returned release. Two brokers writing one schema would collide on row ids; the second fails
   * to start instead. The server drops the lock when the holder's connection dies: keepalives make
   * it notice a holder that vanished without closing it (a power cut) within about 25 s.
   */
  async lock(): Promise<() => Promise<void>> {
    const client = await this.pool.connect();
    try {
      await client.query('SET tcp_keepalives_idle = 10; SET tcp_keepalives_interval = 5; SET tcp_keepalives_count = 3');
      const { rows } = await client.query<{ locked: boolean }>('SELECT pg_try_advisory_lock(hashtext($1)) AS locked', [
        `lantern-broker:${this.schema}`,
      ]);
      if (!rows[0].locked) throw new BrokerSchemaInUseError(this.schema);
    } catch (error) {
      client.release();
      throw error;
    }
    // A dropped lock connection must not crash the broker; the lock is gone with it (nothing to undo).
    client.on('error', () => undefined);
    return async () => {
      try {
        await client.query('SELECT pg_advisory_unlock(hashtext($1))', [`lantern-broker:${this.schema}`]);
      } finally {
        client.release();
      }
    };
  }

  /**
   * Creates the schema and its tables when missing. `position` columns keep the order rows were
   * first written in, which is the order aedes-persistence's memory store answers in.
   */
  async ensureSchema(): Promise<void> {
    const { s } = this;
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      // Two brokers starting at once on one database must not race on CREATE … IF NOT EXISTS.
      await client.query(`SELECT pg_advisory_xact_lock(hashtext($1))`, [`lantern-broker-schema:${s}`]);
      await client.query(`
        CREATE SCHEMA IF NOT EXISTS ${s};
        CREATE TABLE IF NOT EXISTS ${s}.subscriptions (
          client_id text NOT NULL,
          topic text NOT NULL,
          qos smallint NOT NULL,
          rh smallint,
          rap boolean,
          nl boolean,
          subscription_identifier integer,
          position bigserial NOT NULL,
          PRIMARY KEY (client_id, topic)
        );
        CREATE TABLE IF NOT EXISTS ${s}.retained (
          topic text PRIMARY KEY,
          packet text NOT NULL,
          payload bytea,
          payload_is_text boolean NOT NULL,
          position bigserial NOT NULL
        );
        CREATE TABLE IF NOT EXISTS ${s}.outgoing (
          id bigint PRIMARY KEY,
          client_id text NOT NULL,
          packet text NOT NULL,
          payload bytea,
          payload_is_text boolean NOT NULL
        );
        CREATE TABLE IF NOT EXISTS ${s}.incoming (
          client_id text NOT NULL,
          message_id integer NOT NULL,
          packet text NOT NULL,
          payload bytea,
          payload_is_text boolean NOT NULL,
          PRIMARY KEY (client_id, message_id)
        );
        CREATE TABLE IF NOT EXISTS ${s}.wills (
          client_id text PRIMARY KEY,
          packet text NOT NULL,
          payload bytea,
          payload_is_text boolean NOT NULL,
          position bigserial NOT NULL
        );
        CREATE TABLE IF NOT EXISTS ${s}.publish_journal (
          id bigint PRIMARY KEY,
          packet text NOT NULL,
          payload bytea,
          payload_is_text boolean NOT NULL
        );
      `);
      await client.query('COMMIT');
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    } finally {
      client.release();
    }
  }

  /** Reads everything back, in one repeatable-read snapshot. */
  async load(): Promise<StoredBrokerState> {
    const { s } = this;
    const client = await this.pool.connect();
    type PacketRow = { packet: string; payload: Buffer | null; payload_is_text: boolean };
    const decode = (row: PacketRow) => decodeBrokerPacket(row.packet, row.payload, row.payload_is_text);
    try {
      await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
      const subscriptions = await client.query<{
        client_id: string;
        topic: string;
        qos: number;
        rh: number | null;
        rap: boolean | null;
        nl: boolean | null;
        subscription_identifier: number | null;
      }>(
        `SELECT client_id, topic, qos, rh, rap, nl, subscription_identifier FROM ${s}.subscriptions ORDER BY position`,
      );
      const retained = await client.query<PacketRow>(
        `SELECT packet, payload, payload_is_text FROM ${s}.retained ORDER BY position`,
      );
      const outgoing = await client.query<PacketRow & { id: string; client_id: string }>(
        `SELECT id, client_id, packet, payload, payload_is_text FROM ${s}.outgoing ORDER BY id`,
      );
      const incoming = await client.query<PacketRow & { client_id: string; message_id: number }>(
        `SELECT client_id, message_id, packet, payload, payload_is_text FROM ${s}.incoming`,
      );
      const wills = await client.query<PacketRow & { client_id: string }>(
        `SELECT client_id, packet, payload, payload_is_text FROM ${s}.wills ORDER BY position`,
      );
      const journal = await client.query<PacketRow & { id: string }>(
        `SELECT id, packet, payload, payload_is_text FROM ${s}.publish_journal ORDER BY id`,
      );
      await client.query('COMMIT');
      return {
        subscriptions: subscriptions.rows.map((row) => ({
          clientId: row.client_id,
          topic: row.topic,
          record: {
            qos: row.qos,
            rh: row.rh ?? undefined,
            rap: row.rap ?? undefined,
            nl: row.nl ?? undefined,
            ...(row.subscription_identifier !== null && { subscriptionIdentifier: row.subscription_identifier }),
          },
        })),
        retained: retained.rows.map(decode),
        outgoing: outgoing.rows.map((row) => ({ id: Number(row.id), clientId: row.client_id, packet: decode(row) })),
        incoming: incoming.rows.map((row) => ({
          clientId: row.client_id,
          messageId: row.message_id,
          packet: decode(row),
        })),
        wills: wills.rows.map((row) => ({ clientId: row.client_id, packet: decode(row) })),
        journal: journal.rows.map((row) => ({ id: Number(row.id), packet: decode(row) })),
      };
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    } finally {
      client.release();
    }
  }

  /**
   * Writes a change set as ONE statement of data-modifying CTEs: atomic without a BEGIN/COMMIT
   * round trip, and one commit (one WAL flush) for however many changes the flush gathered.
   * The CTEs all see the same snapshot, which is safe because a key appears in one list only.
   */
  async write(changes: BrokerChanges): Promise<void> {
    const { s } = this;
    const parts: string[] = [];
    const params: unknown[] = [];
    const p = (value: unknown, type: string) => {
      params.push(value);
      return `$${params.length}::${type}`;
    };
    const packets = (list: readonly { packet: EncodedPacket }[]) =>
      [
        p(
          list.map((item) => item.packet.json),
          'text[]',
        ),
        p(
          list.map((item) => item.packet.payload),
          'bytea[]',
        ),
        p(
          list.map((item) => item.packet.payloadIsText),
          'boolean[]',
        ),
      ].join(', ');

    const {
      journalInserts,
      journalDeletes,
      outgoingInserts,
      outgoingUpdates,
      outgoingDeletes,
      subscriptionUpserts,
      subscriptionDeletes,
      retainedUpserts,
      retainedDeletes,
      incomingUpserts,
      incomingDeletes,
      willUpserts,
      willDeletes,
    } = changes;

    if (journalInserts.length > 0)
      parts.push(
        `INSERT INTO ${s}.publish_journal (id, packet, payload, payload_is_text)
         SELECT * FROM unnest(${p(
           journalInserts.map((j) => j.id),
           'bigint[]',
         )}, ${packets(journalInserts)})`,
      );
    if (journalDeletes.length > 0)
      parts.push(`DELETE FROM ${s}.publish_journal WHERE id = ANY(${p(journalDeletes, 'bigint[]')})`);
    if (outgoingInserts.length > 0)
      parts.push(
        `INSERT INTO ${s}.outgoing (id, client_id, packet, payload, payload_is_text)
         SELECT * FROM unnest(${p(
           outgoingInserts.map((o) => o.id),
           'bigint[]',
         )}, ${p(
           outgoingInserts.map((o) => o.clientId),
           'text[]',
         )}, ${packets(outgoingInserts)})`,
      );
    if (outgoingUpdates.length > 0)
      parts.push(
        `UPDATE ${s}.outgoing o SET packet = u.packet, payload = u.payload, payload_is_text = u.payload_is_text
         FROM unnest(${p(
           outgoingUpdates.map((o) => o.id),
           'bigint[]',
         )}, ${packets(outgoingUpdates)}) AS u(id, packet, payload, payload_is_text)
         WHERE o.id = u.id`,
      );
    if (outgoingDeletes.length > 0)
      parts.push(`DELETE FROM ${s}.outgoing WHERE id = ANY(${p(outgoingDeletes, 'bigint[]')})`);
    if (subscriptionUpserts.length > 0) {
      const records = subscriptionUpserts.map((u) => u.record);
      parts.push(
        `INSERT INTO ${s}.subscriptions (client_id, topic, qos, rh, rap, nl, subscription_identifier)
         SELECT * FROM unnest(${p(
           subscriptionUpserts.map((u) => u.clientId),
           'text[]',
         )}, ${p(
           subscriptionUpserts.map((u) => u.topic),
           'text[]',
         )}, ${p(
           records.map((r) => r.qos),
           'smallint[]',
         )}, ${p(
           records.map((r) => r.rh ?? null),
           'smallint[]',
         )}, ${p(
           records.map((r) => r.rap ?? null),
           'boolean[]',
         )}, ${p(
           records.map((r) => r.nl ?? null),
           'boolean[]',
         )}, ${p(
           records.map((r) => r.subscriptionIdentifier ?? null),
           'integer[]',
         )})
         ON CONFLICT (client_id, topic) DO UPDATE SET qos = excluded.qos, rh = excluded.rh, rap = excluded.rap,
           nl = excluded.nl, subscription_identifier = excluded.subscription_identifier`,
      );
    }
    if (subscriptionDeletes.length > 0)
      parts.push(
        `DELETE FROM ${s}.subscriptions WHERE (client_id, topic) IN (SELECT * FROM unnest(${p(
          subscriptionDeletes.map((d) => d.clientId),
          'text[]',
        )}, ${p(
          subscriptionDeletes.map((d) => d.topic),
          'text[]',
        )}))`,
      );
    if (retainedUpserts.length > 0)
      parts.push(
        `INSERT INTO ${s}.retained (topic, packet, payload, payload_is_text)
         SELECT * FROM unnest(${p(
           retainedUpserts.map((r) => r.topic),
           'text[]',
         )}, ${packets(retainedUpserts)})
         ON CONFLICT (topic) DO UPDATE SET packet = excluded.packet, payload = excluded.payload,
           payload_is_text = excluded.payload_is_text`,
      );
    if (retainedDeletes.length > 0)
      parts.push(`DELETE FROM ${s}.retained WHERE topic = ANY(${p(retainedDeletes, 'text[]')})`);
    if (incomingUpserts.length > 0)
      parts.push(
        `INSERT INTO ${s}.incoming (client_id, message_id, packet, payload, payload_is_text)
         SELECT * FROM unnest(${p(
           incomingUpserts.map((i) => i.clientId),
           'text[]',
         )}, ${p(
           incomingUpserts.map((i) => i.messageId),
           'integer[]',
         )}, ${packets(incomingUpserts)})
         ON CONFLICT (client_id, message_id) DO UPDATE SET packet = excluded.packet, payload = excluded.payload,
           payload_is_text = excluded.payload_is_text`,
      );
    if (incomingDeletes.length > 0)
      parts.push(
        `DELETE FROM ${s}.incoming WHERE (client_id, message_id) IN (SELECT * FROM unnest(${p(
          incomingDeletes.map((d) => d.clientId),
          'text[]',
        )}, ${p(
          incomingDeletes.map((d) => d.messageId),
          'integer[]',
        )}))`,
      );
    if (willUpserts.length > 0)
      parts.push(
        `INSERT INTO ${s}.wills (client_id, packet, payload, payload_is_text)
         SELECT * FROM unnest(${p(
           willUpserts.map((w) => w.clientId),
           'text[]',
         )}, ${packets(willUpserts)})
         ON CONFLICT (client_id) DO UPDATE SET packet = excluded.packet, payload = excluded.payload,
           payload_is_text = excluded.payload_is_text`,
      );
    if (willDeletes.length > 0) parts.push(`DELETE FROM ${s}.wills WHERE client_id = ANY(${p(willDeletes, 'text[]')})`);

    if (parts.length === 0) return;
    const sql =
      parts.length === 1
        ? parts[0]
        : `WITH ${parts
            .slice(0, -1)
            .map((part, i) => `w${i} AS (${part})`)
            .join(',\n')}\n${parts[parts.length - 1]}`;
    await this.pool.query(sql, params);
  }
}
