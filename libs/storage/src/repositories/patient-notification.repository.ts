import { Injectable } from '@nestjs/common';
import { DataSource, type EntityManager } from 'typeorm';
import type { NotificationKind, NotificationSeverity } from '@lantern/domain';
import { returnedRows } from './sql-helpers.js';

/** One row of `patient_notifications`, times in epoch milliseconds. */
export interface StoredNotification {
  readonly id: string;
  readonly patientId: string;
  readonly kind: NotificationKind;
  readonly severity: NotificationSeverity;
  readonly title: string;
  readonly body: string;
  readonly alertId: string | null;
  readonly deviceId: string | null;
  readonly createdAt: number;
  readonly readAt: number | null;
}

interface NotificationRow {
  id: string;
  patient_id: string;
  kind: NotificationKind;
  severity: NotificationSeverity;
  title: string;
  body: string;
  alert_id: string | null;
  device_id: string | null;
  created_at: Date;
  read_at: Date | null;
}

const COLUMNS =
  'id::text, patient_id::text, kind, severity, title, body, alert_id::text, device_id::text, created_at, read_at';

function toStored(row: NotificationRow): StoredNotification {
  return {
    id: row.id,
    patientId: row.patient_id,
    kind: row.kind,
    severity: row.severity,
    title: row.title,
    body: row.body,
    alertId: row.alert_id,
    deviceId: row.device_id,
    createdAt: row.created_at.getTime(),
    readAt: row.read_at === null ? null : row.read_at.getTime(),
  };
}

/**
 * The INSERT of new notifications (ids chosen by the caller) from the nine array parameters of
 * {@link notificationParams}, numbered from `$first`: a statement of its own, or one CTE of a larger one.
 */
export function insertNotificationsSql(first: number): string {
  const [id, patient, kind, severity, title, body, alert, device, created] = Array.from(
    { length: 9 },
    (_, i) => `$${first + i}`,
  );
  return `INSERT INTO patient_notifications (id, patient_id, kind, severity, title, body, alert_id, device_id, created_at)
       SELECT * FROM unnest(${id}::uuid[], ${patient}::uuid[], ${kind}::text[], ${severity}::text[], ${title}::text[],
                            ${body}::text[], ${alert}::uuid[], ${device}::uuid[], ${created}::timestamptz[])
       ON CONFLICT (id) DO NOTHING`;
}

/** The nine column arrays {@link insertNotificationsSql} reads. */
export function notificationParams(notifications: readonly Omit<StoredNotification, 'readAt'>[]): unknown[] {
  return [
    notifications.map((n) => n.id),
    notifications.map((n) => n.patientId),
    notifications.map((n) => n.kind),
    notifications.map((n) => n.severity),
    notifications.map((n) => n.title),
    notifications.map((n) => n.body),
    notifications.map((n) => n.alertId),
    notifications.map((n) => n.deviceId),
    notifications.map((n) => new Date(n.createdAt)),
  ];
}

/** The `patient_notifications` table: plain-language messages for patients (spec §6). */
@Injectable()
export class PatientNotificationRepository {
  constructor(private readonly db: DataSource) {}

  /** Stores new notifications (ids chosen by the caller), in one statement. */
  async insertMany(
    notifications: readonly Omit<StoredNotification, 'readAt'>[],
    manager: EntityManager = this.db.manager,
  ): Promise<void> {
    if (notifications.length === 0) return;
    await manager.query(insertNotificationsSql(1), notificationParams(notifications));
  }

  /** A patient's notifications, newest first. */
  async listForPatient(
    patientId: string,
    options: { limit: number; offset: number; unreadOnly?: boolean },
  ): Promise<{ items: StoredNotification[]; total: number }> {
    const unread = options.unreadOnly ? ' AND read_at IS NULL' : '';
    const [count] = await this.db.query<{ total: number }[]>(
      `SELECT count(*)::int AS total FROM patient_notifications WHERE patient_id = $1${unread}`,
      [patientId],
    );
    const rows: NotificationRow[] = await this.db.query(
      `SELECT ${COLUMNS} FROM patient_notifications WHERE patient_id = $1${unread} ORDER BY created_at DESC, id LIMIT $2 OFFSET $3`,
      [patientId, options.limit, options.offset],
    );
    return { items: rows.map(toStored), total: count?.total ?? 0 };
  }

  /** Marks one of the patient's notifications read (idempotent: the first read time stays); undefined when not theirs. */
  async markRead(patientId: string, id: string, at: number): Promise<StoredNotification | undefined> {
    const rows = returnedRows<NotificationRow>(
      await this.db.query(
        `UPDATE patient_notifications SET read_at = COALESCE(read_at, $3) WHERE id = $1 AND patient_id = $2 RETURNING ${COLUMNS}`,
        [id, patientId, new Date(at)],
      ),
    );
    return rows[0] && toStored(rows[0]);
  }
}
