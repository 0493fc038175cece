import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { signalGroupPairs, type AlertDeliveryResource, type DeliveryChannel } from '@lantern/domain';
import { managerOf } from '../transactions.js';
import { prepared, queryPrepared } from '../prepared-statements.js';
import { alertColumnsOf, toStoredAlert, type AlertRow, type StoredAlert } from './alert-row.js';
import { returnedRows } from './sql-helpers.js';

type RecipientRole = AlertDeliveryResource['recipient']['role'];

/** A pending outbound delivery, claimed by one dispatcher. */
export interface ClaimedDelivery {
  readonly id: string;
  readonly alert: StoredAlert;
  readonly patientName: string;
  readonly tier: number;
  readonly recipientId: string | null;
  readonly recipientRole: RecipientRole;
  readonly recipientName: string | null;
  readonly channel: DeliveryChannel;
  readonly target: string | null;
  readonly attempts: number;
}

interface DeliveryRow {
  id: string;
  alert_id: string;
  tier: number;
  recipient_id: string | null;
  recipient_role: RecipientRole;
  recipient_name: string | null;
  channel: DeliveryChannel;
  attempts: number;
  sent_at: Date;
  delivered_at: Date | null;
  read_at: Date | null;
  acknowledged_at: Date | null;
  failed_at: Date | null;
  error: string | null;
}

const iso = (d: Date | null): string | undefined => (d === null ? undefined : d.toISOString());

function toDeliveryResource(row: DeliveryRow): AlertDeliveryResource {
  const resource: AlertDeliveryResource = {
    id: row.id,
    alertId: row.alert_id,
    recipient: {
      ...(row.recipient_id === null ? {} : { id: row.recipient_id }),
      role: row.recipient_role,
      ...(row.recipient_name === null ? {} : { name: row.recipient_name }),
    },
    channel: row.channel,
    tier: row.tier,
    attempts: row.attempts,
    sentAt: row.sent_at.toISOString(),
  };
  const optional = {
    deliveredAt: iso(row.delivered_at),
    readAt: iso(row.read_at),
    acknowledgedAt: iso(row.acknowledged_at),
    failedAt: iso(row.failed_at),
    error: row.error ?? undefined,
  };
  for (const [key, value] of Object.entries(optional))
    if (value !== undefined) Object.assign(resource, { [key]: value });
  return resource;
}

/**
 * The signal groups' (scope, metric) pairs as SQL rows, for {@link STILL_ENTITLED}: a constant of the
 * domain's catalog (checked to be plain identifiers), so the three statements that use it need no
 * extra parameters.
 */
const SIGNAL_GROUP_ROWS = (() => {
  const { scopes, metrics } = signalGroupPairs();
  const names = [...scopes, ...metrics];
  if (!names.every((n) => /^[a-z_0-9]+$/.test(n))) throw new Error('signal group names must be plain identifiers');
  return scopes.map((scope, i) => `('${scope}', '${metrics[i]}')`).join(', ');
})();

/**
 * Whether delivery `d` still goes to someone who may see the alert: a share revoked, a clinician
 * taken off the care team or an account disabled after the tier went out stops it before it is sent.
 */
const STILL_ENTITLED = `(
  d.recipient_role IN ('webhook', 'admin')
  OR (d.recipient_role = 'patient' AND EXISTS (SELECT 1 FROM users u
        WHERE u.id = d.recipient_id AND u.patient_id = d.patient_id AND u.disabled_at IS NULL))
  OR (d.recipient_role = 'clinician' AND EXISTS (SELECT 1 FROM care_team_members m JOIN users u ON u.id = m.clinician_id
        WHERE m.patient_id = d.patient_id AND m.clinician_id = d.recipient_id AND u.disabled_at IS NULL))
  OR (d.recipient_role = 'caregiver' AND EXISTS (SELECT 1 FROM caregiver_shares s JOIN users u ON u.id = s.caregiver_id
        WHERE s.patient_id = d.patient_id AND s.caregiver_id = d.recipient_id AND s.revoked_at IS NULL
          AND 'alerts' = ANY (s.scopes) AND u.disabled_at IS NULL
          AND EXISTS (SELECT 1 FROM alerts a WHERE a.id = d.alert_id AND (a.metric IS NULL OR EXISTS (
                SELECT 1 FROM (VALUES ${SIGNAL_GROUP_ROWS}) AS g(scope, metric)
                 WHERE g.metric = a.metric AND g.scope = ANY (s.scopes)))))))`;

/** Whether delivery `d`'s alert is taken care of: acknowledged, resolved, or confirmed by a person. */
const ALERT_OVER = `EXISTS (SELECT 1 FROM alerts a LEFT JOIN alert_chains c ON c.alert_id = a.id
  WHERE a.id = d.alert_id AND (a.state <> 'open' OR c.confirmed_at IS NOT NULL))`;

// The statements the escalation chain runs every pass (each second and on every alert event), prepared:
// their planning cost several times their execution (prepared-statements.ts).
const CLAIM_OUTBOUND = prepared(
  'claim_outbound_deliveries',
  `WITH due AS (
         SELECT d.id FROM alert_deliveries d
          WHERE d.channel = ANY($1) AND d.delivered_at IS NULL AND d.failed_at IS NULL AND d.next_attempt_at <= now()
            AND (d.claimed_until IS NULL OR d.claimed_until < now()) AND ${STILL_ENTITLED}
          ORDER BY d.next_attempt_at LIMIT $2 FOR UPDATE OF d SKIP LOCKED),
       claimed AS (
         UPDATE alert_deliveries d SET claimed_until = now() + make_interval(secs => $3 / 1000.0)
           FROM due WHERE d.id = due.id
         RETURNING d.*)
       SELECT c.id::text AS delivery_id, p.display_name AS patient_name, c.tier, c.recipient_id::text, c.recipient_role,
              c.recipient_name, c.channel, c.target, c.attempts, ${alertColumnsOf('a')}
         FROM claimed c JOIN alerts a ON a.id = c.alert_id JOIN patients p ON p.id = c.patient_id`,
);

const CLAIM_SOCKET = prepared(
  'claim_socket_deliveries',
  `WITH due AS (
         UPDATE alert_deliveries d SET attempts = attempts + 1, next_attempt_at = now() + make_interval(secs => $2 / 1000.0)
          WHERE d.channel = 'socket' AND d.delivered_at IS NULL AND d.failed_at IS NULL AND d.next_attempt_at <= now()
            AND d.recipient_id = ANY($1::uuid[]) AND ${STILL_ENTITLED}
         RETURNING d.id, d.recipient_id, d.alert_id)
       SELECT due.id::text AS delivery_id, due.recipient_id::text AS recipient, ${alertColumnsOf('a')}
         FROM due JOIN alerts a ON a.id = due.alert_id`,
);

const EXPIRE = prepared(
  'expire_deliveries',
  `UPDATE alert_deliveries d SET failed_at = now(), claimed_until = NULL,
              error = CASE
                WHEN NOT ${STILL_ENTITLED} THEN 'cancelled: the recipient no longer has access to this patient'
                WHEN ${ALERT_OVER} THEN 'cancelled: the alert was taken care of before this was delivered'
                WHEN d.channel = 'socket' THEN 'no client of this person acknowledged it in time'
                ELSE 'handed to the push service; no receipt from the device in time' END
        WHERE d.delivered_at IS NULL AND d.failed_at IS NULL AND (
              (d.channel = 'socket' AND d.sent_at < now() - make_interval(secs => $1 / 1000.0))
           OR (d.channel = 'push' AND d.next_attempt_at = 'infinity' AND d.sent_at < now() - make_interval(secs => $2 / 1000.0))
           OR NOT ${STILL_ENTITLED}
           OR ${ALERT_OVER})
        RETURNING d.id`,
);

/**
 * The deliveries of alerts' escalation chains (contract §4.3), once a tier has stored them: sent by
 * the dispatcher (claimed one dispatcher at a time), recorded with receipts from the recipient's
 * side (each once), ended when they cannot or need no longer be delivered.
 */
@Injectable()
export class AlertDeliveryRepository {
  constructor(private readonly db: DataSource) {}

  async deliveriesOf(alertId: string): Promise<AlertDeliveryResource[]> {
    const rows: DeliveryRow[] = await managerOf(this.db).query(
      `SELECT id::text, alert_id::text, tier, recipient_id::text, recipient_role, recipient_name, channel, attempts,
              sent_at, delivered_at, read_at, acknowledged_at, failed_at, error
         FROM alert_deliveries WHERE alert_id = $1 ORDER BY tier, sent_at, recipient_role, recipient_name, channel, id`,
      [alertId],
    );
    return rows.map(toDeliveryResource);
  }

  /**
   * Claims up to `limit` due outbound deliveries of these channels for `leaseMs` (another dispatcher
   * skips them until then: a dispatcher that dies mid-send leaves them to be claimed again).
   */
  async claimOutbound(
    channels: readonly DeliveryChannel[],
    limit: number,
    leaseMs: number,
  ): Promise<ClaimedDelivery[]> {
    if (channels.length === 0) return [];
    const rows: (AlertRow & {
      delivery_id: string;
      patient_name: string;
      tier: number;
      recipient_id: string | null;
      recipient_role: RecipientRole;
      recipient_name: string | null;
      channel: DeliveryChannel;
      target: string | null;
      attempts: number;
    })[] = await queryPrepared(this.db, CLAIM_OUTBOUND, [channels, limit, leaseMs]);
    return rows.map((row) => ({
      id: row.delivery_id,
      alert: toStoredAlert(row),
      patientName: row.patient_name,
      tier: row.tier,
      recipientId: row.recipient_id,
      recipientRole: row.recipient_role,
      recipientName: row.recipient_name,
      channel: row.channel,
      target: row.target,
      attempts: row.attempts,
    }));
  }

  /** One attempt's outcome: delivered (a receipt came with the send), handed over (receipt to come), retry at, or failed. */
  async recordAttempt(
    id: string,
    outcome:
      | { readonly kind: 'delivered' }
      | { readonly kind: 'handed-over' }
      | { readonly kind: 'retry'; readonly at: number; readonly error: string }
      | { readonly kind: 'failed'; readonly error: string },
  ): Promise<void> {
    const [set, params]: [string, unknown[]] =
      outcome.kind === 'delivered'
        ? ['delivered_at = coalesce(delivered_at, now()), error = NULL', []]
        : outcome.kind === 'handed-over'
          ? // Handed to the push service: no further attempt; the receipt or the expiry sweep ends it.
            [`next_attempt_at = 'infinity', error = NULL`, []]
          : outcome.kind === 'retry'
            ? ['next_attempt_at = to_timestamp($2 / 1000.0), error = $3', [outcome.at, outcome.error.slice(0, 500)]]
            : ['failed_at = now(), error = $2', [outcome.error.slice(0, 500)]];
    await managerOf(this.db).query(
      `UPDATE alert_deliveries SET attempts = attempts + 1, claimed_until = NULL, ${set} WHERE id = $1`,
      [id, ...params],
    );
  }

  /**
   * A receipt from the recipient's side (socket acknowledgement, service worker). Recorded once;
   * `read` implies delivered. False when there is no such delivery.
   */
  async receipt(id: string, event: 'delivered' | 'read'): Promise<boolean> {
    const result: unknown = await managerOf(this.db).query(
      `UPDATE alert_deliveries
          SET delivered_at = coalesce(delivered_at, now()),
              read_at = CASE WHEN $2 = 'read' THEN coalesce(read_at, now()) ELSE read_at END
        WHERE id = $1 RETURNING id`,
      [id, event],
    );
    return returnedRows(result).length > 0;
  }

  /**
   * Socket deliveries due for these connected people: claimed for `retryMs` (the next emit, if no
   * acknowledgement came meanwhile) and returned with their alerts.
   */
  async claimSocket(
    recipientIds: readonly string[],
    retryMs: number,
  ): Promise<{ id: string; recipientId: string; alert: StoredAlert }[]> {
    if (recipientIds.length === 0) return [];
    const rows: (AlertRow & { delivery_id: string; recipient: string })[] = await queryPrepared(this.db, CLAIM_SOCKET, [
      recipientIds,
      retryMs,
    ]);
    return rows.map((row) => ({ id: row.delivery_id, recipientId: row.recipient, alert: toStoredAlert(row) }));
  }

  /**
   * Ends what can no longer be delivered: socket deliveries no client of the person acknowledged
   * within `socketMs`, push deliveries handed over whose receipt never came within `pushMs`, and
   * pending deliveries of alerts that are over (acknowledged, resolved, confirmed).
   */
  async expire(socketMs: number, pushMs: number): Promise<number> {
    return (await queryPrepared(this.db, EXPIRE, [socketMs, pushMs])).length;
  }

  /**
   * Outbound deliveries (push, e-mail, webhook) that ended failed since `since` (epoch ms), by
   * channel, with the latest error: what health and the dashboard report. Socket deliveries that
   * expired (nobody connected) and deliveries cancelled because someone confirmed are not failures
   * of Lantern.
   */
  async failuresSince(since: number): Promise<{ channel: DeliveryChannel; count: number; lastError: string }[]> {
    const rows: { channel: DeliveryChannel; n: string; last_error: string }[] = await managerOf(this.db).query(
      `SELECT channel, count(*) AS n, (array_agg(error ORDER BY failed_at DESC))[1] AS last_error
         FROM alert_deliveries
        WHERE failed_at >= to_timestamp($1 / 1000.0) AND channel <> 'socket' AND error NOT LIKE 'cancelled:%'
        GROUP BY channel ORDER BY channel`,
      [since],
    );
    return rows.map((r) => ({ channel: r.channel, count: Number(r.n), lastError: r.last_error }));
  }
}
