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
  /**
   * The end of the patient's quiet window when the message was created inside it (quietHoursEnd),
   * else null: a low-priority message is then held until this time (see {@link insertNotificationsSql}).
   */
  readonly deliverAt?: number | null;
}

/** The first argument of the notification SQL's parameters: how many {@link notificationParams} returns. */
export const NOTIFICATION_PARAMS = 12;

/**
 * Rows a patient may see (alias `p`, or the bare table): not held, or held and due. A held message
 * is listed from its `deliver_at` even if no ingest has published it yet (its live event follows).
 */
export const VISIBLE_NOTIFICATION = (alias = ''): string => {
  const c = alias === '' ? '' : `${alias}.`;
  return `(${c}deliver_at IS NULL OR ${c}released_at IS NOT NULL OR ${c}deliver_at <= now())`;
};

/** One held message the ingest claimed to publish now that its quiet window is over. */
export interface ReleasedNotification extends Omit<StoredNotification, 'readAt'> {
  /** The patient thread it was filed in (its own id when it starts one). */
  readonly threadId: string;
  /**
   * A later message of its thread exists (stored after it: held with it and released now too, or
   * sent meanwhile because it was not low-priority): the patient's thread already shows, or is about
   * to show, something newer, so this one is listed in the thread's history but not published.
   */
  readonly superseded: boolean;
}

/**
 * The INSERT of new notifications (ids chosen by the caller, by cause: one already stored is not
 * stored again) from the twelve array parameters of {@link notificationParams}, numbered from
 * `$first`, returning the ids it stored, their thread and whether each was held: a statement of
 * its own, or one CTE of a larger one. `insertedAlerts` names a set of alert ids inserted by the
 * same statement (`SELECT id FROM …`) for the notifications' `dependsOn`; without it a
 * notification with one is never stored.
 *
 * Quiet hours (docs/alerting.md): a message is held — stored with `deliver_at`, not published —
 * when it is low-priority and either was created in the patient's quiet window (`deliverAt` given)
 * or joins a thread that is still held (it waits with it). Low-priority: severity `info`, its
 * alert (if any) of priority `low`, and no `warning` or `urgent` message in the thread it joins.
 * An alert inserted by this same statement is invisible here, but then its opening message's
 * severity is its priority's (`info` only for `low`). Deciding it in the statement that stores
 * the message means a crash can neither lose a held message nor publish it twice.
 */
export function insertNotificationsSql(first: number, insertedAlerts = 'SELECT NULL::uuid WHERE false'): string {
  const [id, patient, kind, severity, title, body, alert, device, created, dependsOn, thread, deliverAt] = Array.from(
    { length: NOTIFICATION_PARAMS },
    (_, i) => `$${first + i}`,
  );
  // The thread: that of the message named (a message may name one that itself joined a thread, or
  // one stored in this same statement, invisible to it: then the id as named), else that of its
  // alert's first message (an acknowledgement), else its own.
  return `INSERT INTO patient_notifications (id, patient_id, kind, severity, title, body, alert_id, device_id, created_at, thread_id,
                                            deliver_at)
       SELECT n.id, n.patient_id, n.kind, n.severity, n.title, n.body, n.alert_id, n.device_id, n.created_at, t.thread,
              CASE WHEN n.severity = 'info'
                    AND NOT EXISTS (SELECT 1 FROM alerts a WHERE a.id = n.alert_id AND a.priority <> 'low')
                    AND NOT EXISTS (SELECT 1 FROM patient_notifications p
                                     WHERE p.patient_id = n.patient_id AND coalesce(p.thread_id, p.id) = t.thread
                                       AND p.severity <> 'info')
                   THEN coalesce(n.deliver_at,
                                 (SELECT max(p.deliver_at) FROM patient_notifications p
                                   WHERE p.patient_id = n.patient_id AND coalesce(p.thread_id, p.id) = t.thread
                                     AND p.released_at IS NULL))
              END
         FROM unnest(${id}::uuid[], ${patient}::uuid[], ${kind}::text[], ${severity}::text[], ${title}::text[],
                     ${body}::text[], ${alert}::uuid[], ${device}::uuid[], ${created}::timestamptz[], ${dependsOn}::uuid[],
                     ${thread}::uuid[], ${deliverAt}::timestamptz[])
              WITH ORDINALITY AS n(id, patient_id, kind, severity, title, body, alert_id, device_id, created_at, depends_on,
                                   thread_id, deliver_at, o)
        CROSS JOIN LATERAL (
              SELECT COALESCE((SELECT coalesce(p.thread_id, p.id) FROM patient_notifications p
                                WHERE p.id = n.thread_id AND p.patient_id = n.patient_id),
                              n.thread_id,
                              (SELECT coalesce(p.thread_id, p.id) FROM patient_notifications p
                                WHERE p.alert_id = n.alert_id AND p.patient_id = n.patient_id ORDER BY p.seq LIMIT 1),
                              n.id) AS thread) t
        WHERE n.depends_on IS NULL OR n.depends_on IN (${insertedAlerts})
        ORDER BY n.o
       ON CONFLICT (id) DO NOTHING
       RETURNING id::text, thread_id::text AS thread, deliver_at IS NOT NULL AS held`;
}

/** The twelve column arrays {@link insertNotificationsSql} reads. */
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
    notifications.map((n) => (n.deliverAt == null ? null : new Date(n.deliverAt))),
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
      `SELECT count(DISTINCT coalesce(thread_id, id))::int AS total FROM patient_notifications
        WHERE patient_id = $1 AND ${VISIBLE_NOTIFICATION()}${unread}`,
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
   * Claims up to `limit` held messages whose quiet window is over, for the caller to publish: one
   * statement that marks them released and returns them, oldest first. A row is claimed once
   * whichever ingest asks (locked rows are skipped, a released row no longer matches), so two
   * ingests never publish the same message; a crash after the claim loses its live event (it is
   * still listed), never doubles it.
   */
  async releaseDue(limit: number): Promise<ReleasedNotification[]> {
    const rows: (NotificationRow & { seq: string; thread: string; superseded: boolean })[] = returnedRows(
      await managerOf(this.db).query(
        `UPDATE patient_notifications r SET released_at = now()
          WHERE r.id IN (SELECT id FROM patient_notifications
                          WHERE deliver_at <= now() AND released_at IS NULL
                          ORDER BY deliver_at, seq LIMIT $1 FOR UPDATE SKIP LOCKED)
            AND r.released_at IS NULL
         RETURNING r.id::text, r.patient_id::text, r.kind, r.severity, r.title, r.body, r.alert_id::text,
                   r.device_id::text, r.created_at, r.read_at, r.seq, coalesce(r.thread_id, r.id)::text AS thread,
                   EXISTS (SELECT 1 FROM patient_notifications q
                            WHERE q.patient_id = r.patient_id AND coalesce(q.thread_id, q.id) = coalesce(r.thread_id, r.id)
                              AND q.seq > r.seq) AS superseded`,
        [limit],
      ),
    );
    // RETURNING keeps no order; seq (bigint, a string from pg) is the order they were stored in.
    return rows
      .sort((a, b) => Number(a.seq) - Number(b.seq))
      .map((r) => ({
        id: r.id,
        patientId: r.patient_id,
        kind: r.kind,
        severity: r.severity,
        title: r.title,
        body: r.body,
        alertId: r.alert_id,
        deviceId: r.device_id,
        createdAt: r.created_at.getTime(),
        threadId: r.thread,
        superseded: r.superseded,
      }));
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
        WHERE patient_id = $2 AND coalesce(thread_id, id) = (SELECT thread FROM t) AND ${VISIBLE_NOTIFICATION()}
       RETURNING coalesce(thread_id, id)::text AS thread`,
        [id, patientId, new Date(at)],
      ),
    );
    if (rows.length === 0) return undefined;
    return (await this.threads(patientId, 'true', rows[0].thread, 1, 0))[0];
  }

  /** The first message an alert opened for its patient (kind `alert_opened`, `signal_lost`, …), if any. */
  async firstForAlert(patientId: string, alertId: string): Promise<StoredNotification | undefined> {
    const rows: NotificationRow[] = await managerOf(this.db).query(
      `SELECT id::text, patient_id::text, kind, severity, title, body, alert_id::text, device_id::text, created_at, read_at
         FROM patient_notifications WHERE patient_id = $1 AND alert_id = $2 ORDER BY seq LIMIT 1`,
      [patientId, alertId],
    );
    return rows[0] && toStored(rows[0]);
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
                WHERE patient_id = $1 AND ($2::uuid IS NULL OR coalesce(thread_id, id) = $2) AND ${VISIBLE_NOTIFICATION()}
                GROUP BY 1
               HAVING ${having}) t
        CROSS JOIN LATERAL (
              SELECT * FROM patient_notifications p
               WHERE p.patient_id = $1 AND coalesce(p.thread_id, p.id) = t.thread AND ${VISIBLE_NOTIFICATION('p')}
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
