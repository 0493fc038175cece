import { Injectable } from '@nestjs/common';
import { DataSource, type EntityManager } from 'typeorm';
import type { AlertPriority, AlertState, MetricKey } from '@lantern/domain';
import { patientScopeCondition, type PatientScope } from './patient.repository.js';
import {
  insertNotificationsSql,
  notificationParams,
  type StoredNotification,
} from './patient-notification.repository.js';
import { returnedRows } from './sql-helpers.js';

/** One row of `alerts`, times in epoch milliseconds (the streaming core's AlertRecord without its in-memory fields). */
export interface StoredAlert {
  readonly id: string;
  readonly patientId: string;
  readonly deviceId: string | null;
  readonly rule: string;
  readonly metric: MetricKey | null;
  readonly priority: AlertPriority;
  readonly state: AlertState;
  readonly message: string;
  readonly value: number | null;
  readonly peakValue: number | null;
  readonly openedAt: number;
  readonly lastTriggeredAt: number;
  readonly clearedAt: number | null;
  readonly acknowledgedAt: number | null;
  readonly acknowledgedBy: string | null;
  readonly acknowledgeNote: string | null;
  readonly resolvedAt: number | null;
  readonly resolvedBy: string | null;
  readonly resolveNote: string | null;
  readonly escalationLevel: number;
  readonly escalatedAt: number | null;
  /** Wall-clock time the streaming core raised it (escalation counts from here). */
  readonly raisedAt: number;
  readonly late: boolean;
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

interface AlertRow {
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
  late: boolean;
}

const COLUMNS = `id::text, patient_id::text, device_id::text, rule, metric, priority, state, message, value, peak_value, opened_at,
  last_triggered_at, cleared_at, acknowledged_at, acknowledged_by::text, acknowledge_note, resolved_at, resolved_by::text,
  resolve_note, escalation_level, escalated_at, raised_at, late`;

const ms = (d: Date | null): number | null => (d === null ? null : d.getTime());
const ts = (n: number | null): Date | null => (n === null ? null : new Date(n));
const iso = (n: number | null): string | null => (n === null ? null : new Date(n).toISOString());

/** What happens to a stored alert when the streaming core reports it again (spec §5 latching); see saveObserved. */
const OBSERVED_CONFLICT = `ON CONFLICT (id) DO UPDATE SET
             peak_value = EXCLUDED.peak_value,
             last_triggered_at = GREATEST(a.last_triggered_at, EXCLUDED.last_triggered_at),
             cleared_at = EXCLUDED.cleared_at,
             escalation_level = CASE WHEN a.state = 'open' THEN GREATEST(a.escalation_level, EXCLUDED.escalation_level) ELSE a.escalation_level END,
             escalated_at = CASE WHEN a.state = 'open' THEN COALESCE(EXCLUDED.escalated_at, a.escalated_at) ELSE a.escalated_at END,
             state = CASE
               WHEN EXCLUDED.state = 'resolved' THEN 'resolved'
               WHEN a.state = 'acknowledged' AND EXCLUDED.cleared_at IS NOT NULL THEN 'resolved'
               WHEN a.state = 'open' AND EXCLUDED.state = 'acknowledged' THEN 'acknowledged'
               ELSE a.state END,
             resolved_at = CASE
               WHEN EXCLUDED.state = 'resolved' THEN EXCLUDED.resolved_at
               WHEN a.state = 'acknowledged' AND EXCLUDED.cleared_at IS NOT NULL THEN EXCLUDED.cleared_at
               ELSE a.resolved_at END,
             resolve_note = CASE WHEN EXCLUDED.state = 'resolved' THEN EXCLUDED.resolve_note ELSE a.resolve_note END,
             updated_at = now()
           WHERE a.state <> 'resolved'`;

function toStored(row: AlertRow): StoredAlert {
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
    late: row.late,
  };
}

/**
 * The `alerts` table. The streaming core (ingest) writes what it observes through {@link saveObserved};
 * clinicians' acknowledgements and resolutions go through {@link updateLocked}. The partial unique
 * index keeps at most one active alert per (patient, rule, device).
 */
@Injectable()
export class AlertRepository {
  constructor(private readonly db: DataSource) {}

  /**
   * Inserts or updates alerts as the streaming core sees them, merged with what clinicians did
   * meanwhile: a resolved row stays resolved; an acknowledged row stays acknowledged (the core may
   * not know yet) and resolves when the core reports its condition cleared (the latching rule of
   * spec §5). The notifications the alerts produced are written by the same statement: atomic
   * without a transaction, and one round trip (the ingest's event loop is busy, and every extra
   * round trip of the alert path waits for it). Returns the rows as stored, which the caller
   * publishes, including those a clinician resolved meanwhile (not updated, reported as they stand).
   */
  async saveObserved(
    alerts: readonly StoredAlert[],
    notifications: readonly Omit<StoredNotification, 'readAt'>[] = [],
  ): Promise<StoredAlert[]> {
    if (alerts.length === 0 && notifications.length === 0) return [];
    const col = <T>(pick: (a: StoredAlert) => T): T[] => alerts.map(pick);
    const rows: AlertRow[] = await this.db.query(
      `WITH saved AS (
         INSERT INTO alerts AS a (id, patient_id, device_id, rule, metric, priority, state, message, value, peak_value, opened_at,
                last_triggered_at, cleared_at, acknowledged_at, acknowledged_by, acknowledge_note, resolved_at, resolved_by,
                resolve_note, escalation_level, escalated_at, late, raised_at)
         SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[],
                $9::float8[], $10::float8[], $11::timestamptz[], $12::timestamptz[], $13::timestamptz[], $14::timestamptz[],
                $15::uuid[], $16::text[], $17::timestamptz[], $18::uuid[], $19::text[], $20::int[], $21::timestamptz[], $22::bool[],
                $32::timestamptz[])
         ${OBSERVED_CONFLICT}
         RETURNING ${COLUMNS}
       ),
       notified AS (${insertNotificationsSql(23)})
       SELECT * FROM saved
       UNION ALL
       SELECT ${COLUMNS} FROM alerts WHERE id = ANY($1::uuid[]) AND id NOT IN (SELECT id::uuid FROM saved)`,
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
        ...notificationParams(notifications),
        col((a) => iso(a.raisedAt)),
      ],
    );
    return rows.map(toStored);
  }

  /** Every active (open or acknowledged) alert: the streaming core's state after a restart. */
  async findActive(): Promise<StoredAlert[]> {
    const rows: AlertRow[] = await this.db.query(
      `SELECT ${COLUMNS} FROM alerts WHERE state <> 'resolved' ORDER BY opened_at`,
    );
    return rows.map(toStored);
  }

  async findById(id: string, manager: EntityManager = this.db.manager): Promise<StoredAlert | undefined> {
    const rows: AlertRow[] = await manager.query(`SELECT ${COLUMNS} FROM alerts WHERE id = $1`, [id]);
    return rows[0] && toStored(rows[0]);
  }

  /**
   * Locks one alert, lets `change` compute its next state (or throw), stores it, in one
   * transaction. Undefined when there is no such alert.
   */
  async updateLocked(id: string, change: (alert: StoredAlert) => StoredAlert): Promise<StoredAlert | undefined> {
    return this.db.transaction(async (manager) => {
      const rows: AlertRow[] = await manager.query(`SELECT ${COLUMNS} FROM alerts WHERE id = $1 FOR UPDATE`, [id]);
      if (!rows[0]) return undefined;
      const next = change(toStored(rows[0]));
      const updated = returnedRows<AlertRow>(
        await manager.query(
          `UPDATE alerts SET state = $2, acknowledged_at = $3, acknowledged_by = $4, acknowledge_note = $5,
                  resolved_at = $6, resolved_by = $7, resolve_note = $8, updated_at = now()
            WHERE id = $1 RETURNING ${COLUMNS}`,
          [
            id,
            next.state,
            ts(next.acknowledgedAt),
            next.acknowledgedBy,
            next.acknowledgeNote,
            ts(next.resolvedAt),
            next.resolvedBy,
            next.resolveNote,
          ],
        ),
      );
      return toStored(updated[0]);
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
    const condition = where.join(' AND ');
    const [count] = await this.db.query<{ total: number }[]>(
      `SELECT count(*)::int AS total FROM alerts WHERE ${condition}`,
      params,
    );
    const rows: AlertRow[] = await this.db.query(
      `SELECT ${COLUMNS} FROM alerts WHERE ${condition} ORDER BY opened_at DESC, id LIMIT $${params.length + 1} OFFSET $${params.length + 2}`,
      [...params, filter.limit, filter.offset],
    );
    return { items: rows.map(toStored), total: count?.total ?? 0 };
  }
}
