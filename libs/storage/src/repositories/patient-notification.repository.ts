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

/** One message in the patient's history of a thread. */
export interface ThreadMessage {
  readonly id: string;
  readonly kind: NotificationKind;
  readonly severity: NotificationSeverity;
  readonly title: string;
  readonly createdAt: number;
}

/**
 * What the patient sees of one thread (spec/alerting.md §5): the thread's id (its first message's),
 * the latest message's words, `createdAt` of the first and `updatedAt` of the latest, how many
 * updates followed the first, every message in order, and `readAt` only while none is unread.
 */
export interface NotificationThread extends StoredNotification {
  readonly updatedAt: number;
  readonly updates: number;
  readonly history: readonly ThreadMessage[];
}

/** A notification to store, and the alert whose insertion it waits for (see {@link insertNotificationsSql}). */
export interface NewNotification extends Omit<StoredNotification, 'readAt'> {
  /** A message of the thread it updates (its own id when it starts one); null: its alert's thread, else its own. */
  readonly threadId?: string | null;
  /**
   * Stored only if the statement inserted this alert: the notification that an alert opened is
   * not stored when the alert itself was not (already stored, or another active one was adopted).
   */
  readonly dependsOn?: string | null;
}

/**
 * The INSERT of new notifications (ids chosen by the caller, by cause: one already stored is not
 * stored again) from the eleven array parameters of {@link notificationParams}, numbered from
 * `$first`, returning the ids it stored: a statement of its own, or one CTE of a larger one.
 * `insertedAlerts` names a set of alert ids inserted by the same statement (`SELECT id FROM …`)
 * for the notifications' `dependsOn`; without it a notification with one is never stored.
 */
export function insertNotificationsSql(first: number, insertedAlerts = 'SELECT NULL::uuid WHERE false'): string {
  const [id, patient, kind, severity, title, body, alert, device, created, dependsOn, thread] = Array.from(
    { length: 11 },
    (_, i) => `$${first + i}`,
  );
  // The thread: that of the message named (a message may name one that itself joined a thread, or
  // one stored in this same statement, invisible to it: then the id as named), else that of its
  // alert's first message (an acknowledgement), else its own.
  return `INSERT INTO patient_notifications (id, patient_id, kind, severity, title, body, alert_id, device_id, created_at, thread_id)
       SELECT n.id, n.patient_id, n.kind, n.severity, n.title, n.body, n.alert_id, n.device_id, n.created_at,
              COALESCE((SELECT coalesce(p.thread_id, p.id) FROM patient_notifications p
                         WHERE p.id = n.thread_id AND p.patient_id = n.patient_id),
                       n.thread_id,
                       (SELECT coalesce(p.thread_id, p.id) FROM patient_notifications p
                         WHERE p.alert_id = n.alert_id AND p.patient_id = n.patient_id ORDER BY p.seq LIMIT 1),
                       n.id)
         FROM unnest(${id}::uuid[], ${patient}::uuid[], ${kind}::text[], ${severity}::text[], ${title}::text[],
                     ${body}::text[], ${alert}::uuid[], ${device}::uuid[], ${created}::timestamptz[], ${dependsOn}::uuid[],
                     ${thread}::uuid[])
              WITH ORDINALITY AS n(id, patient_id, kind, severity, title, body, alert_id, device_id, created_at, depends_on,
                                   thread_id, o)
        WHERE n.depends_on IS NULL OR n.depends_on IN (${insertedAlerts})
        ORDER BY n.o
       ON CONFLICT (id) DO NOTHING
       RETURNING id::text, thread_id::text AS thread`;
}

/** The eleven column arrays {@link insertNotificationsSql} reads. */
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
    notifications.map((n) => n.threadId ?? null),
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

  /**
   * A patient's threads (spec/alerting.md §5), the latest updated first: one item per thread, with
   * its latest message's words (see NotificationThread). `unreadOnly`: threads with an unread message.
   */
  async listForPatient(
    patientId: string,
    options: { limit: number; offset: number; unreadOnly?: boolean },
  ): Promise<{ items: NotificationThread[]; total: number }> {
    const unread = options.unreadOnly ? ' AND read_at IS NULL' : '';
    const [count] = await managerOf(this.db).query<{ total: number }[]>(
      `SELECT count(DISTINCT coalesce(thread_id, id))::int AS total FROM patient_notifications WHERE patient_id = $1${unread}`,
      [patientId],
    );
    const items = await this.threads(
      patientId,
      options.unreadOnly ? 'bool_or(read_at IS NULL)' : 'true',
      'NULL::uuid',
      options.limit,
      options.offset,
    );
    return { items, total: count?.total ?? 0 };
  }

  /**
   * Marks one of the patient's threads read — every message in it; `id` is the thread's or any of
   * its messages' (idempotent: the first read times stay). Undefined when not theirs.
   */
  async markRead(patientId: string, id: string, at: number): Promise<NotificationThread | undefined> {
    const rows = returnedRows<{ thread: string }>(
      await managerOf(this.db).query(
        `WITH t AS (SELECT coalesce(thread_id, id) AS thread FROM patient_notifications WHERE id = $1 AND patient_id = $2)
       UPDATE patient_notifications SET read_at = COALESCE(read_at, $3)
        WHERE patient_id = $2 AND coalesce(thread_id, id) = (SELECT thread FROM t)
       RETURNING coalesce(thread_id, id)::text AS thread`,
        [id, patientId, new Date(at)],
      ),
    );
    if (rows.length === 0) return undefined;
    return (await this.threads(patientId, 'true', rows[0].thread, 1, 0))[0];
  }

  /** Threads of a patient (`only`: that thread alone), as NotificationThread; `having` filters groups. */
  private async threads(
    patientId: string,
    having: string,
    only: string,
    limit: number,
    offset: number,
  ): Promise<NotificationThread[]> {
    const rows: (NotificationRow & {
      thread: string;
      started_at: Date;
      updated_at: Date;
      updates: number;
      unread: boolean;
      last_read: Date | null;
      history: {
        id: string;
        kind: NotificationKind;
        severity: NotificationSeverity;
        title: string;
        createdAt: string;
      }[];
    })[] = await managerOf(this.db).query(
      `SELECT t.thread::text, t.started_at, t.updated_at, t.updates, t.unread, t.last_read, t.history,
              l.id::text, l.patient_id::text, l.kind, l.severity, l.title, l.body, l.alert_id::text, l.device_id::text,
              l.created_at, l.read_at
         FROM (SELECT coalesce(thread_id, id) AS thread, min(created_at) AS started_at, max(created_at) AS updated_at,
                      count(*)::int - 1 AS updates, bool_or(read_at IS NULL) AS unread, max(read_at) AS last_read,
                      json_agg(json_build_object('id', id, 'kind', kind, 'severity', severity, 'title', title,
                                                 'createdAt', created_at) ORDER BY seq) AS history
                 FROM patient_notifications
                WHERE patient_id = $1 AND ($2::uuid IS NULL OR coalesce(thread_id, id) = $2)
                GROUP BY 1
               HAVING ${having}) t
        CROSS JOIN LATERAL (
              SELECT * FROM patient_notifications p
               WHERE p.patient_id = $1 AND coalesce(p.thread_id, p.id) = t.thread
               ORDER BY p.seq DESC LIMIT 1) l
        ORDER BY t.updated_at DESC, t.thread
        LIMIT $3 OFFSET $4`,
      [patientId, only === 'NULL::uuid' ? null : only, limit, offset],
    );
    return rows.map((r) => ({
      ...toStored(r),
      id: r.thread,
      createdAt: r.started_at.getTime(),
      updatedAt: r.updated_at.getTime(),
      updates: r.updates,
      readAt: r.unread || r.last_read === null ? null : r.last_read.getTime(),
      history: r.history.map((m) => ({ ...m, createdAt: Date.parse(m.createdAt) })),
    }));
  }
}
