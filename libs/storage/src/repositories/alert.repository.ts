import { createHash } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { DataSource, type EntityManager } from 'typeorm';
import {
  signalGroupPairs,
  type AlertPriority,
  type AlertRecord,
  type AlertState,
  type MetricKey,
} from '@lantern/domain';
import { inTransaction, managerOf } from '../transactions.js';
import { patientScopeCondition, type PatientScope } from './patient.repository.js';
import {
  insertNotificationsSql,
  NOTIFICATION_PARAMS,
  notificationParams,
  type NewNotification,
} from './patient-notification.repository.js';
import { returnedRows } from './sql-helpers.js';

// Any fixed UUID works; it only has to stay the same, or the ids of causes already stored change.
const CAUSE_NAMESPACE = Buffer.from('5f0c6a2e8d3b4b7a9e1f2c3d4e5f6a7b', 'hex');

/**
 * The id of an alert or notification from its cause (AlertEngineOptions.newId): a name-based UUID
 * (RFC 9562 version 5, SHA-1), so the same cause always gets the same id and storage takes it once.
 */
export function idFromCause(cause: string): string {
  const hash = createHash('sha1').update(CAUSE_NAMESPACE).update(cause, 'utf8').digest();
  hash[6] = (hash[6] & 0x0f) | 0x50;
  hash[8] = (hash[8] & 0x3f) | 0x80;
  const hex = hash.subarray(0, 16).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** One row of `alerts`: the alert record of libs/domain, as the streaming core keeps it. */
export type StoredAlert = AlertRecord;

/** A webhook outbox row for one alert transition, stored only if that alert's write applies. */
export interface AlertWebhookDelivery {
  readonly id: string;
  readonly event: string;
  readonly body: string;
  readonly alertId: string;
}

export interface AlertListFilter {
  readonly scope: PatientScope;
  readonly patientId?: string;
  readonly state?: AlertState;
  readonly priority?: AlertPriority;
  /** openedAt bounds, epoch ms, inclusive from / exclusive to. */
  readonly from?: number;
  readonly to?: number;
  readonly limit: number;
  readonly offset: number;
}

export interface AlertRow {
  id: string;
  patient_id: string;
  device_id: string | null;
  rule: string;
  metric: string | null;
  priority: AlertPriority;
  state: AlertState;
  message: string;
  value: number | null;
  peak_value: number | null;
  opened_at: Date;
  last_triggered_at: Date;
  cleared_at: Date | null;
  acknowledged_at: Date | null;
  acknowledged_by: string | null;
  acknowledge_note: string | null;
  resolved_at: Date | null;
  resolved_by: string | null;
  resolve_note: string | null;
  escalation_level: number;
  escalated_at: Date | null;
  raised_at: Date;
  measured_at: Date | null;
  received_at: Date | null;
  evaluated_at: Date | null;
  late: boolean;
}

const COLUMN_LIST = [
  'id::text',
  'patient_id::text',
  'device_id::text',
  'rule',
  'metric',
  'priority',
  'state',
  'message',
  'value',
  'peak_value',
  'opened_at',
  'last_triggered_at',
  'cleared_at',
  'acknowledged_at',
  'acknowledged_by::text',
  'acknowledge_note',
  'resolved_at',
  'resolved_by::text',
  'resolve_note',
  'escalation_level',
  'escalated_at',
  'raised_at',
  'measured_at',
  'received_at',
  'evaluated_at',
  'late',
];
const COLUMNS = COLUMN_LIST.join(', ');
/** The same columns of the table aliased `alias`. */
export const alertColumnsOf = (alias: string): string => COLUMN_LIST.map((c) => `${alias}.${c}`).join(', ');

const ms = (d: Date | null): number | null => (d === null ? null : d.getTime());
const ts = (n: number | null): Date | null => (n === null ? null : new Date(n));
const iso = (n: number | null): string | null => (n === null ? null : new Date(n).toISOString());

/** One alert the streaming core decided about, as {@link AlertRepository.saveTransitions} writes it. */
export interface AlertWrite {
  /** The alert after its last transition in the batch. */
  readonly alert: StoredAlert;
  /** Opened in this batch: inserted, unless its id (its cause) or another active alert of its (patient, rule, device) is stored. */
  readonly opened: boolean;
  /**
   * `acknowledged_at` the row must still have for the update to apply (the core's view before its
   * transitions): a row a clinician acknowledged or resolved meanwhile is left alone and reported.
   */
  readonly expectedAcknowledgedAt: number | null;
}

/** What to look for when a write did not apply: the row by id, else the active one of its (patient, rule[, device]). */
export interface AlertIdentity {
  readonly id: string;
  readonly patientId: string;
  readonly rule: string;
  /** For device rules (part of the identity); null for metric rules, whose alert is one per patient whichever device. */
  readonly deviceId: string | null;
}

/** One device and metric whose recent readings the streaming core reads back on start. */
export interface RecentReadingsQuery {
  readonly deviceId: string;
  readonly metric: MetricKey;
  /** Event time read back behind the stream's newest reading, ms. */
  readonly spanMs: number;
}

/** The readings read back for one {@link RecentReadingsQuery}, oldest first. */
export interface RecentReadings {
  readonly deviceId: string;
  readonly metric: MetricKey;
  readonly times: number[];
  readonly values: number[];
}

const ALERT_INPUT_COLUMNS = `id, patient_id, device_id, rule, metric, priority, state, message, value, peak_value, opened_at,
  last_triggered_at, cleared_at, acknowledged_at, acknowledged_by, acknowledge_note, resolved_at, resolved_by,
  resolve_note, escalation_level, escalated_at, late, raised_at, measured_at, received_at, evaluated_at`;

export function toStoredAlert(row: AlertRow): StoredAlert {
  return {
    id: row.id,
    patientId: row.patient_id,
    deviceId: row.device_id,
    rule: row.rule,
    metric: row.metric as MetricKey | null,
    priority: row.priority,
    state: row.state,
    message: row.message,
    value: row.value,
    peakValue: row.peak_value,
    openedAt: row.opened_at.getTime(),
    lastTriggeredAt: row.last_triggered_at.getTime(),
    clearedAt: ms(row.cleared_at),
    acknowledgedAt: ms(row.acknowledged_at),
    acknowledgedBy: row.acknowledged_by,
    acknowledgeNote: row.acknowledge_note,
    resolvedAt: ms(row.resolved_at),
    resolvedBy: row.resolved_by,
    resolveNote: row.resolve_note,
    escalationLevel: row.escalation_level,
    escalatedAt: ms(row.escalated_at),
    raisedAt: row.raised_at.getTime(),
    measuredAt: ms(row.measured_at),
    receivedAt: ms(row.received_at),
    evaluatedAt: ms(row.evaluated_at),
    late: row.late,
  };
}

/**
 * The `alerts` table. Its rows follow what libs/alerting decides and nothing else: the streaming core
 * (ingest) writes its transitions through {@link saveTransitions}, a clinician's command is decided
 * on the locked row through {@link decideLocked}; no rule of the lifecycle is written here. The
 * partial unique index keeps at most one active alert per (patient, rule, device). Also reads what
 * the streaming core rebuilds on start: active and recently resolved alerts, recent readings.
 */
@Injectable()
export class AlertRepository {
  constructor(private readonly db: DataSource) {}

  /**
   * Stores the streaming core's transitions and notifications in one statement (one round trip,
   * atomic without a transaction), idempotently: an opened alert is inserted unless its id — its
   * cause — or another active alert of its (patient, rule, device) is already stored; an update
   * applies only while the row is active and not acknowledged meanwhile (see AlertWrite); a
   * notification is stored once (its id is its cause), and one that waits for its alert's insert
   * only with it. Returns the alert ids written and the notification ids stored now (with the
   * patient thread each was filed in): only those are emitted; the caller reconciles the others with the rows as stored (findForReconcile).
   * A notification held for the patient's quiet hours (insertNotificationsSql) is stored but
   * reported in `held`, not `notified`: the ingest publishes it when its window is over.
   */
  async saveTransitions(
    alerts: readonly AlertWrite[],
    notifications: readonly NewNotification[] = [],
    deliveries: readonly AlertWebhookDelivery[] = [],
  ): Promise<{ applied: Set<string>; notified: Set<string>; held: Set<string>; threads: Map<string, string> }> {
    if (alerts.length === 0 && notifications.length === 0)
      return { applied: new Set(), notified: new Set(), held: new Set(), threads: new Map() };
    const col = <T>(pick: (a: StoredAlert) => T): T[] => alerts.map((w) => pick(w.alert));
    type Saved = { kind: 'alert' | 'notification'; id: string; thread: string | null; held: boolean };
    const rows: Saved[] = await managerOf(this.db).query(
      `WITH input AS (
         SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[],
                $9::float8[], $10::float8[], $11::timestamptz[], $12::timestamptz[], $13::timestamptz[], $14::timestamptz[],
                $15::uuid[], $16::text[], $17::timestamptz[], $18::uuid[], $19::text[], $20::int[], $21::timestamptz[], $22::bool[],
                $23::timestamptz[], $24::timestamptz[], $25::timestamptz[], $26::timestamptz[], $27::bool[], $28::timestamptz[])
           AS i(${ALERT_INPUT_COLUMNS}, opened, expected_ack)
       ),
       inserted AS (
         INSERT INTO alerts (${ALERT_INPUT_COLUMNS})
         SELECT ${ALERT_INPUT_COLUMNS} FROM input WHERE opened
         ON CONFLICT DO NOTHING
         RETURNING id
       ),
       updated AS (
         UPDATE alerts a SET peak_value = i.peak_value, last_triggered_at = i.last_triggered_at, cleared_at = i.cleared_at,
                state = i.state, acknowledged_at = i.acknowledged_at, acknowledged_by = i.acknowledged_by,
                acknowledge_note = i.acknowledge_note, resolved_at = i.resolved_at, resolved_by = i.resolved_by,
                resolve_note = i.resolve_note, escalation_level = i.escalation_level, escalated_at = i.escalated_at,
                updated_at = now()
           FROM input i
          WHERE a.id = i.id AND NOT i.opened AND a.state <> 'resolved' AND a.acknowledged_at IS NOT DISTINCT FROM i.expected_ack
         RETURNING a.id
       ),
       notified AS (${insertNotificationsSql(29, 'SELECT id FROM inserted')}),
       -- The webhook outbox rows of the transitions, in the same statement: stored exactly when the
       -- alert write applies, so a crash can lose neither one without the other.
       delivered AS (
         INSERT INTO webhook_deliveries (id, event, body)
         SELECT d.id, d.event, d.body
           FROM unnest($${29 + NOTIFICATION_PARAMS}::uuid[], $${30 + NOTIFICATION_PARAMS}::text[], $${31 + NOTIFICATION_PARAMS}::text[],
                       $${32 + NOTIFICATION_PARAMS}::uuid[]) WITH ORDINALITY AS d(id, event, body, alert_id, o)
          WHERE d.alert_id IN (SELECT id FROM inserted UNION ALL SELECT id FROM updated)
          ORDER BY d.o
         ON CONFLICT (id) DO NOTHING
         RETURNING id
       )
       SELECT 'alert' AS kind, id::text, NULL::text AS thread, false AS held FROM inserted
       UNION ALL SELECT 'alert', id::text, NULL, false FROM updated
       UNION ALL SELECT 'notification', id, thread, held FROM notified`,
      [
        col((a) => a.id),
        col((a) => a.patientId),
        col((a) => a.deviceId),
        col((a) => a.rule),
        col((a) => a.metric),
        col((a) => a.priority),
        col((a) => a.state),
        col((a) => a.message),
        col((a) => a.value),
        col((a) => a.peakValue),
        col((a) => iso(a.openedAt)),
        col((a) => iso(a.lastTriggeredAt)),
        col((a) => iso(a.clearedAt)),
        col((a) => iso(a.acknowledgedAt)),
        col((a) => a.acknowledgedBy),
        col((a) => a.acknowledgeNote),
        col((a) => iso(a.resolvedAt)),
        col((a) => a.resolvedBy),
        col((a) => a.resolveNote),
        col((a) => a.escalationLevel),
        col((a) => iso(a.escalatedAt)),
        col((a) => a.late),
        col((a) => iso(a.raisedAt)),
        col((a) => iso(a.measuredAt)),
        col((a) => iso(a.receivedAt)),
        col((a) => iso(a.evaluatedAt)),
        alerts.map((w) => w.opened),
        alerts.map((w) => iso(w.expectedAcknowledgedAt)),
        ...notificationParams(notifications),
        deliveries.map((d) => d.id),
        deliveries.map((d) => d.event),
        deliveries.map((d) => d.body),
        deliveries.map((d) => d.alertId),
      ],
    );
    const applied = new Set<string>();
    const notified = new Set<string>();
    const held = new Set<string>();
    // The patient thread each stored notification was filed in (spec §5), for its live event.
    const threads = new Map<string, string>();
    for (const row of rows) {
      (row.kind === 'alert' ? applied : row.held ? held : notified).add(row.id);
      if (row.kind === 'notification' && row.thread !== null) threads.set(row.id, row.thread);
    }
    return { applied, notified, held, threads };
  }

  /** For writes that did not apply: each identity's row by id, else the active row of its (patient, rule[, device]). */
  async findForReconcile(wanted: readonly AlertIdentity[]): Promise<Map<string, StoredAlert>> {
    if (wanted.length === 0) return new Map();
    const rows: (AlertRow & { wanted: string })[] = await managerOf(this.db).query(
      `SELECT DISTINCT ON (q.id) q.id::text AS wanted, ${alertColumnsOf('a')}
         FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::uuid[]) AS q(id, patient_id, rule, device_id)
         JOIN alerts a ON a.id = q.id
           OR (a.patient_id = q.patient_id AND a.rule = q.rule AND a.state <> 'resolved'
               AND (q.device_id IS NULL OR a.device_id = q.device_id))
        ORDER BY q.id, (a.id = q.id) DESC`,
      [
        wanted.map((w) => w.id),
        wanted.map((w) => w.patientId),
        wanted.map((w) => w.rule),
        wanted.map((w) => w.deviceId),
      ],
    );
    return new Map(rows.map((row) => [row.wanted, toStoredAlert(row)]));
  }

  /** Every active (open or acknowledged) alert: the streaming core's state after a restart. */
  async findActive(): Promise<StoredAlert[]> {
    const rows: AlertRow[] = await managerOf(this.db).query(
      `SELECT ${COLUMNS} FROM alerts WHERE state <> 'resolved' ORDER BY opened_at`,
    );
    return rows.map(toStoredAlert);
  }

  /** The latest resolved alert of each (patient, metric rule) resolved at or after `since` (epoch ms). */
  async findRecentlyResolved(since: number): Promise<StoredAlert[]> {
    const rows: AlertRow[] = await managerOf(this.db).query(
      `SELECT DISTINCT ON (patient_id, rule) ${COLUMNS} FROM alerts
        WHERE state = 'resolved' AND resolved_at >= $1 AND metric IS NOT NULL
        ORDER BY patient_id, rule, resolved_at DESC`,
      [new Date(since)],
    );
    return rows.map(toStoredAlert);
  }

  /**
   * The recent readings of many streams in one statement: per stream, its newest reading at or
   * after `horizon` − span, and the readings up to `spanMs` behind it (at most `maxPerStream`, the
   * newest). Two index probes per stream and daily partition, on the primary key (device_id, metric, time).
   */
  async recentReadings(
    streams: readonly RecentReadingsQuery[],
    horizon: number,
    maxPerStream: number,
  ): Promise<RecentReadings[]> {
    if (streams.length === 0) return [];
    const rows: { n: string; t: number; value: number }[] = await managerOf(this.db).query(
      `SELECT q.n::int4 AS n, (extract(epoch FROM r.time) * 1000)::float8 AS t, r.value
         FROM unnest($1::uuid[], $2::text[], $3::float8[]) WITH ORDINALITY AS q(device_id, metric, span_ms, n)
        CROSS JOIN LATERAL (
              SELECT time AS newest FROM readings
               WHERE device_id = q.device_id AND metric = q.metric
                 AND time >= $4::timestamptz - make_interval(secs => q.span_ms / 1000)
               ORDER BY time DESC LIMIT 1) l
        CROSS JOIN LATERAL (
              SELECT time, value FROM readings
               WHERE device_id = q.device_id AND metric = q.metric
                 AND time >= l.newest - make_interval(secs => q.span_ms / 1000) AND time <= l.newest
               ORDER BY time DESC LIMIT $5) r`,
      [
        streams.map((s) => s.deviceId),
        streams.map((s) => s.metric),
        streams.map((s) => s.spanMs),
        new Date(horizon),
        maxPerStream,
      ],
    );
    const found: RecentReadings[] = streams.map((s) => ({
      deviceId: s.deviceId,
      metric: s.metric,
      times: [],
      values: [],
    }));
    // Rows come newest first per stream (no ORDER BY over the whole set: sorting a million rows costs more).
    for (const row of rows) {
      const stream = found[Number(row.n) - 1];
      stream.times.push(row.t);
      stream.values.push(row.value);
    }
    for (const stream of found) sortByTime(stream);
    return found.filter((s) => s.times.length > 0);
  }

  async findById(id: string, manager: EntityManager = managerOf(this.db)): Promise<StoredAlert | undefined> {
    const rows: AlertRow[] = await manager.query(`SELECT ${COLUMNS} FROM alerts WHERE id = $1`, [id]);
    return rows[0] && toStoredAlert(rows[0]);
  }

  /**
   * A clinician's command: locks the alert, lets `decide` (libs/alerting's decideAlertCommand) give
   * its next state and notifications, or throw; stores both in the same transaction. Undefined when
   * there is no such alert. Returns the row as stored and the notification ids stored now.
   */
  async decideLocked(
    id: string,
    decide: (alert: StoredAlert) => { alert: StoredAlert; notifications: readonly NewNotification[] },
  ): Promise<{ alert: StoredAlert; notified: Set<string>; threads: Map<string, string> } | undefined> {
    return inTransaction(this.db, async (manager) => {
      const rows: AlertRow[] = await manager.query(`SELECT ${COLUMNS} FROM alerts WHERE id = $1 FOR UPDATE`, [id]);
      if (!rows[0]) return undefined;
      const next = decide(toStoredAlert(rows[0]));
      const updated = returnedRows<AlertRow>(
        await manager.query(
          `UPDATE alerts SET state = $2, cleared_at = $3, acknowledged_at = $4, acknowledged_by = $5, acknowledge_note = $6,
                  resolved_at = $7, resolved_by = $8, resolve_note = $9, updated_at = now()
            WHERE id = $1 RETURNING ${COLUMNS}`,
          [
            id,
            next.alert.state,
            ts(next.alert.clearedAt),
            ts(next.alert.acknowledgedAt),
            next.alert.acknowledgedBy,
            next.alert.acknowledgeNote,
            ts(next.alert.resolvedAt),
            next.alert.resolvedBy,
            next.alert.resolveNote,
          ],
        ),
      );
      let notified = new Set<string>();
      const threads = new Map<string, string>();
      if (next.notifications.length > 0) {
        const stored: { id: string; thread: string; held: boolean }[] = await manager.query(
          insertNotificationsSql(1),
          notificationParams(next.notifications),
        );
        // A held one (its thread is waiting for the end of quiet hours) is published by the ingest later.
        notified = new Set(stored.filter((r) => !r.held).map((r) => r.id));
        for (const r of stored) threads.set(r.id, r.thread);
      }
      return { alert: toStoredAlert(updated[0]), notified, threads };
    });
  }

  /** Alerts visible in `scope`, newest first, with the total for paging. */
  async list(filter: AlertListFilter): Promise<{ items: StoredAlert[]; total: number }> {
    const scope = patientScopeCondition(filter.scope, 'patient_id', 1);
    const params: unknown[] = [...scope.params];
    const where = [scope.sql];
    const add = (sql: string, value: unknown): void => {
      params.push(value);
      where.push(sql.replace('?', `$${params.length}`));
    };
    if (filter.patientId !== undefined) add('patient_id = ?', filter.patientId);
    if (filter.state !== undefined) add('state = ?', filter.state);
    if (filter.priority !== undefined) add('priority = ?', filter.priority);
    if (filter.from !== undefined) add('opened_at >= ?', new Date(filter.from));
    if (filter.to !== undefined) add('opened_at < ?', new Date(filter.to));
    if (filter.scope.kind === 'shared') {
      // A caregiver sees an alert about a metric only when its signal group is shared too (sharesAlert).
      const groups = signalGroupPairs();
      params.push(filter.scope.caregiverId, groups.scopes, groups.metrics);
      const [caregiver, scopes, metrics] = [params.length - 2, params.length - 1, params.length].map((i) => `$${i}`);
      where.push(`(metric IS NULL OR EXISTS (
        SELECT 1 FROM caregiver_shares s, unnest(${scopes}::text[], ${metrics}::text[]) AS g(scope, metric)
         WHERE s.caregiver_id = ${caregiver} AND s.patient_id = alerts.patient_id AND s.revoked_at IS NULL
           AND g.metric = alerts.metric AND g.scope = ANY (s.scopes)))`);
    }
    const condition = where.join(' AND ');
    const [count] = await managerOf(this.db).query<{ total: number }[]>(
      `SELECT count(*)::int AS total FROM alerts WHERE ${condition}`,
      params,
    );
    const rows: AlertRow[] = await managerOf(this.db).query(
      `SELECT ${COLUMNS} FROM alerts WHERE ${condition} ORDER BY opened_at DESC, id LIMIT $${params.length + 1} OFFSET $${params.length + 2}`,
      [...params, filter.limit, filter.offset],
    );
    return { items: rows.map(toStoredAlert), total: count?.total ?? 0 };
  }
}

function sortByTime(stream: RecentReadings): void {
  const { times, values } = stream;
  let ascending = true;
  let descending = true;
  for (let i = 1; i < times.length; i++) {
    if (times[i] < times[i - 1]) ascending = false;
    if (times[i] > times[i - 1]) descending = false;
  }
  if (ascending) return;
  if (descending) {
    times.reverse();
    values.reverse();
    return;
  }
  const order = times.map((_, i) => i).sort((a, b) => times[a] - times[b]);
  const t = order.map((i) => times[i]);
  const v = order.map((i) => values[i]);
  times.splice(0, times.length, ...t);
  values.splice(0, values.length, ...v);
}
