import { Injectable } from '@nestjs/common';
import { DataSource, type EntityManager } from 'typeorm';
import { signalGroupPairs, type AlertPriority, type AlertState, type MetricKey } from '@lantern/domain';
import { inTransaction, managerOf } from '../transactions.js';
import { ALERT_COLUMNS as COLUMNS, toStoredAlert, type AlertRow, type StoredAlert } from './alert-row.js';
import { patientScopeCondition, type PatientScope } from './patient.repository.js';
import { insertNotificationsSql, notificationParams, type NewNotification } from './patient-notification.repository.js';
import { returnedRows } from './sql-helpers.js';

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

const ts = (n: number | null): Date | null => (n === null ? null : new Date(n));

/** One device and metric whose recent readings the streaming core reads back on start. */
export interface RecentReadingsQuery {
  /** The device's patient: PostgreSQL's index on readings leads with it (migration 1766000002300). */
  readonly patientId: string;
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

/**
 * The `alerts` table as clinicians and the streaming core's start read it, and a clinician's command
 * on it. Its rows follow what libs/alerting decides and nothing else: a command is decided on the
 * locked row through {@link decideLocked}; the streaming core's own transitions are written by
 * AlertTransitionRepository; no rule of the lifecycle is written here. Also reads what the streaming
 * core rebuilds on start: active and recently resolved alerts, recent readings.
 */
@Injectable()
export class AlertRepository {
  constructor(private readonly db: DataSource) {}

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
   * newest). Two index probes per stream and daily partition, on the unique key (with the patient on PostgreSQL).
   */
  async recentReadings(
    streams: readonly RecentReadingsQuery[],
    horizon: number,
    maxPerStream: number,
  ): Promise<RecentReadings[]> {
    if (streams.length === 0) return [];
    const rows: { n: string; t: number; value: number }[] = await managerOf(this.db).query(
      `SELECT q.n::int4 AS n, (extract(epoch FROM r.time) * 1000)::float8 AS t, r.value
         FROM unnest($1::uuid[], $2::text[], $3::float8[], $6::uuid[]) WITH ORDINALITY AS q(device_id, metric, span_ms, patient_id, n)
        CROSS JOIN LATERAL (
              SELECT time AS newest FROM readings
               WHERE patient_id = q.patient_id AND metric = q.metric AND device_id = q.device_id
                 AND time >= $4::timestamptz - make_interval(secs => q.span_ms / 1000)
               ORDER BY time DESC LIMIT 1) l
        CROSS JOIN LATERAL (
              SELECT time, value FROM readings
               WHERE patient_id = q.patient_id AND metric = q.metric AND device_id = q.device_id
                 AND time >= l.newest - make_interval(secs => q.span_ms / 1000) AND time <= l.newest
               ORDER BY time DESC LIMIT $5) r`,
      [
        streams.map((s) => s.deviceId),
        streams.map((s) => s.metric),
        streams.map((s) => s.spanMs),
        new Date(horizon),
        maxPerStream,
        streams.map((s) => s.patientId),
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
