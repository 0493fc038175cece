import { Injectable } from '@nestjs/common';
import { DataSource, type EntityManager } from 'typeorm';
import type { NotificationKind, NotificationSeverity } from '@lantern/domain';
import { managerOf } from '../transactions.js';
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

/** A notification to store, and the alert whose insertion it waits for (see {@link insertNotificationsSql}). */
export interface NewNotification extends Omit<StoredNotification, 'readAt'> {
  /**
   * Stored only if the statement inserted this alert: the notification that an alert opened is
   * not stored when the alert itself was not (already stored, or another active one was adopted).
   */
  readonly dependsOn?: string | null;
}

/**
 * The INSERT of new notifications (ids chosen by the caller, by cause: one already stored is not
 * stored again) from the ten array parameters of {@link notificationParams}, numbered from
 * `$first`, returning the ids it stored: a statement of its own, or one CTE of a larger one.
 * `insertedAlerts` names a set of alert ids inserted by the same statement (`SELECT id FROM …`)
 * for the notifications' `dependsOn`; without it a notification with one is never stored.
 */
export function insertNotificationsSql(first: number, insertedAlerts = 'SELECT NULL::uuid WHERE false'): string {
  const [id, patient, kind, severity, title, body, alert, device, created, dependsOn] = Array.from(
    { length: 10 },
    (_, i) => `$${first + i}`,
  );
  return `INSERT INTO patient_notifications (id, patient_id, kind, severity, title, body, alert_id, device_id, created_at)
       SELECT n.id, n.patient_id, n.kind, n.severity, n.title, n.body, n.alert_id, n.device_id, n.created_at
         FROM unnest(${id}::uuid[], ${patient}::uuid[], ${kind}::text[], ${severity}::text[], ${title}::text[],
                     ${body}::text[], ${alert}::uuid[], ${device}::uuid[], ${created}::timestamptz[], ${dependsOn}::uuid[])
              WITH ORDINALITY AS n(id, patient_id, kind, severity, title, body, alert_id, device_id, created_at, depends_on, o)
        WHERE n.depends_on IS NULL OR n.depends_on IN (${insertedAlerts})
        ORDER BY n.o
       ON CONFLICT (id) DO NOTHING
       RETURNING id::text`;
}

/** The ten column arrays {@link insertNotificationsSql} reads. */
export function notificationParams(notifications: readonly NewNotification[]): unknown[] {
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
    notifications.map((n) => n.dependsOn ?? null),
  ];
}

/** The `patient_notifications` table: plain-language messages for patients (spec §6). */
@Injectable()
export class PatientNotificationRepository {
  constructor(private readonly db: DataSource) {}

  /** Stores new notifications (ids chosen by the caller), in one statement; returns the ids stored now (not before). */
  async insertMany(
    notifications: readonly NewNotification[],
    manager: EntityManager = managerOf(this.db),
  ): Promise<Set<string>> {
    if (notifications.length === 0) return new Set();
    const rows: { id: string }[] = await manager.query(insertNotificationsSql(1), notificationParams(notifications));
    return new Set(rows.map((r) => r.id));
  }

  /** A patient's notifications, newest first. */
  async listForPatient(
    patientId: string,
    options: { limit: number; offset: number; unreadOnly?: boolean },
  ): Promise<{ items: StoredNotification[]; total: number }> {
    const unread = options.unreadOnly ? ' AND read_at IS NULL' : '';
    const [count] = await managerOf(this.db).query<{ total: number }[]>(
      `SELECT count(*)::int AS total FROM patient_notifications WHERE patient_id = $1${unread}`,
      [patientId],
    );
    const rows: NotificationRow[] = await managerOf(this.db).query(
      `SELECT ${COLUMNS} FROM patient_notifications WHERE patient_id = $1${unread} ORDER BY created_at DESC, id LIMIT $2 OFFSET $3`,
      [patientId, options.limit, options.offset],
    );
    return { items: rows.map(toStored), total: count?.total ?? 0 };
  }

  /** Marks one of the patient's notifications read (idempotent: the first read time stays); undefined when not theirs. */
  async markRead(patientId: string, id: string, at: number): Promise<StoredNotification | undefined> {
    const rows = returnedRows<NotificationRow>(
      await managerOf(this.db).query(
        `UPDATE patient_notifications SET read_at = COALESCE(read_at, $3) WHERE id = $1 AND patient_id = $2 RETURNING ${COLUMNS}`,
        [id, patientId, new Date(at)],
      ),
    );
    return rows[0] && toStored(rows[0]);
  }
}
