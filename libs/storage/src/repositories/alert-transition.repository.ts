import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { managerOf } from '../transactions.js';
import { prepared, queryPrepared } from '../prepared-statements.js';
import { alertColumnsOf, toStoredAlert, type AlertRow, type StoredAlert } from './alert-row.js';
import {
  insertNotificationsSql,
  NOTIFICATION_PARAMS,
  notificationParams,
  type NewNotification,
} from './patient-notification.repository.js';

/** A webhook outbox row for one alert transition, stored only if that alert's write applies. */
export interface AlertWebhookDelivery {
  readonly id: string;
  readonly event: string;
  readonly body: string;
  readonly alertId: string;
}

const iso = (n: number | null): string | null => (n === null ? null : new Date(n).toISOString());

/** One alert the streaming core decided about, as {@link AlertTransitionRepository.saveTransitions} writes it. */
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

const ALERT_INPUT_COLUMNS = `id, patient_id, device_id, rule, metric, priority, state, message, value, peak_value, opened_at,
  last_triggered_at, cleared_at, acknowledged_at, acknowledged_by, acknowledge_note, resolved_at, resolved_by,
  resolve_note, escalation_level, escalated_at, late, raised_at, measured_at, received_at, evaluated_at`;

/**
 * The streaming core's alert write (saveTransitions), prepared: it is on the alert path, and
 * planning this statement cost more than running it (prepared-statements.ts).
 */
const SAVE_TRANSITIONS = prepared(
  'save_alert_transitions',
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
);

/**
 * The streaming core's writes to `alerts` (the ingest): its transitions as libs/alerting decided
 * them, stored idempotently with their notifications and webhook outbox rows, and the rows read
 * back when a write did not apply, for the core to reconcile with. The partial unique index keeps
 * at most one active alert per (patient, rule, device).
 */
@Injectable()
export class AlertTransitionRepository {
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
    const rows: Saved[] = await queryPrepared(this.db, SAVE_TRANSITIONS, [
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
    ]);
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
}
