import type pg from 'pg';
import type { FuzzLedger } from './fuzz-ledger.js';
import { HOSTILE_CATEGORIES, type HostileCategory } from './hostile-payload.generator.js';

/** What became of the acknowledged hostile messages of one category. */
export interface CategoryOutcome {
  messages: number;
  /** Every reading stored, no dead letter. */
  stored: number;
  /** Some readings stored, the others dead-lettered with their index. */
  partlyStored: number;
  /** Refused as a whole, or every reading dead-lettered. */
  deadLettered: number;
  /** A status the codec accepts (applied to the device's status). */
  statusApplied: number;
  /** No ingest subscription matches the topic: the broker delivers it to nobody. */
  notRouted: number;
  /** Neither stored nor dead-lettered: an invariant failure. */
  unaccounted: number;
}

export interface HostileVerification {
  categories: Record<HostileCategory, CategoryOutcome>;
  /** Messages (or, per topic, dead-letter counts) that do not add up. */
  unaccounted: number;
  /** `device seq`, or `topic: expected … found …`, of the first unaccounted ones. */
  examples: { deviceId?: string; seq?: number; topic?: string; detail: string }[];
  /** Dead letters of hostile devices that no acknowledged message explains (a seq never sent, a per-reading one without seq). */
  strayDeadLetters: number;
}

export interface DeadLetterFigures {
  rows: number;
  payloads: number;
  payloadBytesKept: number;
  payloadsDropped: number;
  /** pg_total_relation_size of ingest_rejections + ingest_rejected_payloads (tables, indexes, TOAST). */
  totalBytes: number;
  /** Dead letters of readings or statuses the codec accepted and the database refused. */
  storageRefused: number;
  /** Dead letters the pipeline wrote for a failure of its own (a bug). */
  internalErrors: number;
}

const CHUNK = 50_000;
const STORAGE_REFUSED = 'the database refused%';
const INTERNAL_ERROR = 'internal error while processing the message';

const emptyOutcome = (): CategoryOutcome => ({
  messages: 0,
  stored: 0,
  partlyStored: 0,
  deadLettered: 0,
  statusApplied: 0,
  notRouted: 0,
  unaccounted: 0,
});

/**
 * Checks every acknowledged hostile message against the database (docs/reliability.md, "Fuzzing:
 * accounting"): per seq for telemetry whose seq is readable, per topic for the rest.
 */
export async function verifyHostile(
  pool: pg.Pool,
  ledger: FuzzLedger,
  hostileDeviceIds: readonly string[],
): Promise<HostileVerification> {
  const categories = Object.fromEntries(HOSTILE_CATEGORIES.map((c) => [c, emptyOutcome()])) as Record<
    HostileCategory,
    CategoryOutcome
  >;
  const examples: HostileVerification['examples'] = [];
  let unaccounted = 0;
  const client = await pool.connect();
  try {
    await client.query(`CREATE TEMP TABLE fz_msg (device_id text, seq bigint, whole boolean, category text)`);
    await client.query(`CREATE TEMP TABLE fz_rd (device_id text, seq bigint, idx int, metric text, t timestamptz)`);
    for (let from = 0; from < ledger.messageCount; from += CHUNK) {
      const m = ledger.messageRows(from, from + CHUNK);
      await client.query(
        `INSERT INTO fz_msg SELECT * FROM unnest($1::text[], $2::bigint[], $3::boolean[], $4::text[])`,
        [m.device, m.seq, m.whole, m.category],
      );
    }
    for (let from = 0; from < ledger.readingCount; from += CHUNK) {
      const r = ledger.readingRows(from, from + CHUNK);
      await client.query(
        `INSERT INTO fz_rd SELECT * FROM unnest($1::text[], $2::bigint[], $3::int[], $4::text[], $5::timestamptz[])`,
        [r.device, r.seq, r.index, r.metric, r.time],
      );
    }
    await client.query(
      `CREATE TEMP TABLE fz_rej AS
         SELECT DISTINCT device_id, seq, reading_index FROM ingest_rejections
          WHERE seq IS NOT NULL AND device_id = ANY($1::text[])`,
      [hostileDeviceIds],
    );
    await client.query(`CREATE INDEX ON fz_rej (device_id, seq, reading_index)`);
    await client.query(`CREATE INDEX ON fz_msg (device_id, seq)`);
    await client.query(`ANALYZE fz_msg; ANALYZE fz_rd; ANALYZE fz_rej`);

    // One outcome per message: a whole-message dead letter, or each reading dead-lettered by index or stored.
    await client.query(`
      CREATE TEMP TABLE fz_reading_outcome AS
        SELECT r.device_id, r.seq, r.idx, r.metric, r.t,
               (j.seq IS NOT NULL) AS refused,
               (s.device_id IS NOT NULL) AS stored
          FROM fz_rd r
          LEFT JOIN fz_rej j ON j.device_id = r.device_id AND j.seq = r.seq AND j.reading_index = r.idx
          LEFT JOIN readings s ON r.metric IS NOT NULL AND s.device_id = r.device_id::uuid
                              AND s.metric = r.metric AND s.time = r.t`);
    await client.query(`
      CREATE TEMP TABLE fz_outcome AS
        SELECT m.category, m.device_id, m.seq,
               CASE WHEN EXISTS (SELECT 1 FROM fz_rej w WHERE w.device_id = m.device_id AND w.seq = m.seq
                                                         AND w.reading_index IS NULL) THEN 'dead_lettered'
                    WHEN m.whole OR p.device_id IS NULL OR p.missing > 0 THEN 'unaccounted'
                    WHEN p.refused = 0 THEN 'stored'
                    WHEN p.stored = 0 THEN 'dead_lettered'
                    ELSE 'partly_stored' END AS outcome
          FROM fz_msg m
          LEFT JOIN (SELECT device_id, seq,
                            count(*) FILTER (WHERE refused) AS refused,
                            count(*) FILTER (WHERE stored AND NOT refused) AS stored,
                            count(*) FILTER (WHERE NOT refused AND NOT stored) AS missing
                       FROM fz_reading_outcome GROUP BY device_id, seq) p
                 ON p.device_id = m.device_id AND p.seq = m.seq`);
    const { rows: outcomes } = await client.query<{ category: HostileCategory; outcome: string; n: number }>(
      `SELECT category, outcome, count(*)::int AS n FROM fz_outcome GROUP BY 1, 2`,
    );
    for (const { category, outcome, n } of outcomes) {
      const c = categories[category];
      c.messages += n;
      if (outcome === 'stored') c.stored += n;
      else if (outcome === 'partly_stored') c.partlyStored += n;
      else if (outcome === 'dead_lettered') c.deadLettered += n;
      else {
        c.unaccounted += n;
        unaccounted += n;
      }
    }
    if (unaccounted > 0) {
      const { rows } = await client.query<{ device_id: string; seq: string; detail: string }>(
        `SELECT o.device_id, o.seq,
                coalesce((SELECT string_agg(format('reading %s (%s at %s) neither stored nor dead-lettered', r.idx,
                                                   coalesce(r.metric, 'refused by the codec'), r.t), '; ' ORDER BY r.idx)
                            FROM fz_reading_outcome r
                           WHERE r.device_id = o.device_id AND r.seq = o.seq AND NOT r.refused AND NOT r.stored),
                         'no dead letter for a message the codec refuses whole') AS detail
           FROM fz_outcome o WHERE o.outcome = 'unaccounted' ORDER BY o.device_id, o.seq LIMIT 10`,
      );
      for (const r of rows) examples.push({ deviceId: r.device_id, seq: Number(r.seq), detail: r.detail });
    }

    // Seq-less dead letters, per topic: exactly one per message due; at most one per accepted status.
    const topics = [...ledger.topics.keys()];
    const { rows: found } = await client.query<{ topic: string; refused: number; storage_refused: number }>(
      `SELECT topic, count(*) FILTER (WHERE reason NOT LIKE $2)::int AS refused,
              count(*) FILTER (WHERE reason LIKE $2)::int AS storage_refused
         FROM ingest_rejections WHERE seq IS NULL AND reading_index IS NULL AND topic = ANY($1::text[]) GROUP BY topic`,
      [topics, STORAGE_REFUSED],
    );
    const byTopic = new Map(found.map((f) => [f.topic, f]));
    for (const c of HOSTILE_CATEGORIES) {
      const k = ledger.byCategory.get(c)!;
      const o = categories[c];
      o.messages += k.single + k.status + k.unrouted;
      o.deadLettered += k.single;
      o.statusApplied += k.status;
      o.notRouted += k.unrouted;
    }
    let strayOnTopics = 0;
    for (const [topic, t] of ledger.topics) {
      const f = byTopic.get(topic) ?? { refused: 0, storage_refused: 0 };
      const extra = Math.max(0, f.refused - t.single) + Math.max(0, f.storage_refused - t.status);
      const missing = Math.max(0, t.single - f.refused);
      strayOnTopics += extra;
      if (missing === 0 && extra === 0) continue;
      // A topic's dead letters have no seq: a shortfall is charged to the category with most messages there.
      const [category] = [...t.categories.entries()].sort((a, b) => b[1] - a[1])[0];
      const o = categories[category];
      const moved = Math.min(missing, o.deadLettered);
      o.deadLettered -= moved;
      o.unaccounted += moved;
      unaccounted += missing;
      if (examples.length < 20)
        examples.push({
          topic,
          detail: `expected ${t.single} dead letters without seq (plus at most ${t.status} of refused statuses), found ${f.refused} (+${f.storage_refused})`,
        });
    }

    const { rows: stray } = await client.query<{ n: number }>(
      `SELECT (SELECT count(*) FROM fz_rej j WHERE NOT EXISTS (SELECT 1 FROM fz_msg m WHERE m.device_id = j.device_id AND m.seq = j.seq))::int
            + (SELECT count(*) FROM ingest_rejections WHERE seq IS NULL AND reading_index IS NOT NULL AND topic = ANY($1::text[]))::int AS n`,
      [topics],
    );
    return { categories, unaccounted, examples, strayDeadLetters: stray[0].n + strayOnTopics };
  } finally {
    await client.query('DISCARD TEMP').catch(() => undefined);
    client.release();
  }
}

/** Size and content of the dead-letter store. */
export async function deadLetterFigures(pool: pg.Pool): Promise<DeadLetterFigures> {
  const { rows } = await pool.query<DeadLetterFigures>(
    `SELECT (SELECT count(*) FROM ingest_rejections)::int AS rows,
            (SELECT count(*) FROM ingest_rejected_payloads)::int AS payloads,
            (SELECT coalesce(sum(octet_length(payload)), 0) FROM ingest_rejected_payloads)::float8 AS "payloadBytesKept",
            (SELECT count(*) FROM ingest_rejections WHERE payload_dropped)::int AS "payloadsDropped",
            (pg_total_relation_size('ingest_rejections') + pg_total_relation_size('ingest_rejected_payloads'))::float8 AS "totalBytes",
            (SELECT count(*) FROM ingest_rejections WHERE reason LIKE $1)::int AS "storageRefused",
            (SELECT count(*) FROM ingest_rejections WHERE reason = $2)::int AS "internalErrors"`,
    [STORAGE_REFUSED, INTERNAL_ERROR],
  );
  return rows[0];
}

/** Expected readings of one valid device and metric: `count` readings from `first` to `last`, 1 s apart. */
export interface ValidSeries {
  deviceId: string;
  metric: string;
  count: number;
  first: number;
  last: number;
}

export interface ValidVerification {
  readingsExpected: number;
  readingsStored: number;
  deadLetters: number;
  /** Series whose stored count or time range differ, and the reasons of dead letters. */
  problems: string[];
}

/**
 * Every valid reading stored: per (device, metric) the stored count and first and last time equal
 * what was acknowledged (times are distinct and 1 s apart, and the key is unique, so equal counts
 * and ends mean the same set), and no dead letter for these devices.
 */
export async function verifyValid(pool: pg.Pool, series: readonly ValidSeries[]): Promise<ValidVerification> {
  const ids = [...new Set(series.map((s) => s.deviceId))];
  const { rows } = await pool.query<{ device_id: string; metric: string; n: number; lo: Date; hi: Date }>(
    `SELECT device_id::text, metric, count(*)::int AS n, min(time) AS lo, max(time) AS hi
       FROM readings WHERE device_id = ANY($1::uuid[]) GROUP BY 1, 2`,
    [ids],
  );
  const stored = new Map(rows.map((r) => [`${r.device_id} ${r.metric}`, r]));
  const problems: string[] = [];
  let readingsStored = 0;
  for (const s of series) {
    const r = stored.get(`${s.deviceId} ${s.metric}`);
    stored.delete(`${s.deviceId} ${s.metric}`);
    readingsStored += Math.min(r?.n ?? 0, s.count);
    if (s.count === 0 && !r) continue;
    if (!r || r.n !== s.count || r.lo.getTime() !== s.first || r.hi.getTime() !== s.last)
      problems.push(
        `${s.deviceId} ${s.metric}: expected ${s.count} readings ${new Date(s.first).toISOString()} … ${new Date(s.last).toISOString()}, found ${r ? `${r.n} ${r.lo.toISOString()} … ${r.hi.toISOString()}` : 'none'}`,
      );
  }
  for (const r of stored.values()) problems.push(`${r.device_id} ${r.metric}: ${r.n} readings nobody sent`);
  const { rows: dead } = await pool.query<{ n: number; reasons: string[] | null }>(
    `SELECT count(*)::int AS n, (array_agg(DISTINCT reason))[1:5] AS reasons FROM ingest_rejections WHERE device_id = ANY($1::text[])`,
    [ids],
  );
  if (dead[0].n > 0)
    problems.push(`${dead[0].n} dead letters of valid devices: ${(dead[0].reasons ?? []).join(' | ')}`);
  return {
    readingsExpected: series.reduce((sum, s) => sum + s.count, 0),
    readingsStored,
    deadLetters: dead[0].n,
    problems,
  };
}
