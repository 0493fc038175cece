import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import type {
  AlertConfirmation,
  AlertDeliveryResource,
  DeliveryChannel,
  EscalationPolicy,
  SharingScope,
} from '@lantern/domain';
import { inTransaction, managerOf } from '../transactions.js';
import { alertColumnsOf, toStoredAlert, type AlertRow, type StoredAlert } from './alert.repository.js';
import { returnedRows } from './sql-helpers.js';

type RecipientRole = AlertDeliveryResource['recipient']['role'];
type PersonRole = AlertConfirmation['by']['role'];

/** An open alert whose chain may have a tier due, with what the planner needs. */
export interface OpenChain {
  readonly alert: StoredAlert;
  /** The patient's own policy; undefined: the defaults. */
  readonly policy: EscalationPolicy | undefined;
  /** Index of the last tier fanned out; -1 before the first. */
  readonly tierDone: number;
  /**
   * When the last tier fanned out reached nobody at all (no delivery made, or every one failed):
   * epoch ms; null while one of its deliveries is pending or delivered, and before the first tier.
   */
  readonly unreachableSince: number | null;
}

/** A person a tier may notify. */
export interface ChainPerson {
  readonly id: string;
  readonly role: PersonRole;
  readonly name: string;
  readonly email: string;
  /** Live push subscriptions (ids). */
  readonly pushSubscriptions: readonly string[];
  /** A caregiver's scopes. */
  readonly scopes?: readonly SharingScope[];
}

export interface ChainRecipients {
  readonly patient: readonly ChainPerson[];
  readonly caregivers: readonly ChainPerson[];
  readonly careTeam: readonly ChainPerson[];
}

export interface NewDelivery {
  readonly recipientId: string | null;
  readonly recipientRole: RecipientRole;
  readonly recipientName: string | null;
  readonly channel: DeliveryChannel;
  readonly target: string | null;
}

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
          AND 'alerts' = ANY (s.scopes) AND u.disabled_at IS NULL)))`;

/** Whether delivery `d`'s alert is taken care of: acknowledged, resolved, or confirmed by a person. */
const ALERT_OVER = `EXISTS (SELECT 1 FROM alerts a LEFT JOIN alert_chains c ON c.alert_id = a.id
  WHERE a.id = d.alert_id AND (a.state <> 'open' OR c.confirmed_at IS NOT NULL))`;

/** `tier_done` of a chain that is over (every tier out, or alerts active when the chain was introduced). */
export const CHAIN_DONE = 1000;

/**
 * The escalation chain's storage (contract §4.3): policies, how far each alert's chain has gone,
 * who confirmed it, and its deliveries with their receipts. Every change that may race with another
 * api instance is a conditional statement (a tier is fanned out once; a receipt is recorded once;
 * a delivery is claimed by one dispatcher at a time).
 */
@Injectable()
export class EscalationRepository {
  constructor(private readonly db: DataSource) {}

  async policyOf(patientId: string): Promise<EscalationPolicy | undefined> {
    const rows: { policy: EscalationPolicy }[] = await managerOf(this.db).query(
      `SELECT policy FROM patient_escalation_policies WHERE patient_id = $1`,
      [patientId],
    );
    return rows[0]?.policy;
  }

  async putPolicy(patientId: string, policy: EscalationPolicy, by: string): Promise<void> {
    await managerOf(this.db).query(
      `INSERT INTO patient_escalation_policies (patient_id, policy, updated_by) VALUES ($1, $2, $3)
       ON CONFLICT (patient_id) DO UPDATE SET policy = EXCLUDED.policy, updated_by = EXCLUDED.updated_by, updated_at = now()`,
      [patientId, JSON.stringify(policy), by],
    );
  }

  async deletePolicy(patientId: string): Promise<boolean> {
    const result: unknown = await managerOf(this.db).query(
      `DELETE FROM patient_escalation_policies WHERE patient_id = $1 RETURNING patient_id`,
      [patientId],
    );
    return returnedRows(result).length > 0;
  }

  /**
   * Open alerts nobody has confirmed whose chain is not over, oldest first, with their policy and
   * whether the last tier fanned out reached anyone. Acknowledged and resolved alerts have no chain.
   */
  async openChains(limit = 1000): Promise<OpenChain[]> {
    const rows: (AlertRow & {
      tier_done: number;
      chain_at: Date | null;
      policy: EscalationPolicy | null;
      total: string | null;
      live: string | null;
      last_failed: Date | null;
    })[] = await managerOf(this.db).query(
      `SELECT ${alertColumnsOf('a')}, coalesce(c.tier_done, -1) AS tier_done, c.updated_at AS chain_at,
              p.policy, d.total, d.live, d.last_failed
         FROM alerts a
         LEFT JOIN alert_chains c ON c.alert_id = a.id
         LEFT JOIN patient_escalation_policies p ON p.patient_id = a.patient_id
         LEFT JOIN LATERAL (
           SELECT count(*) AS total, count(*) FILTER (WHERE failed_at IS NULL) AS live, max(failed_at) AS last_failed
             FROM alert_deliveries WHERE alert_id = a.id AND tier = c.tier_done) d ON c.alert_id IS NOT NULL
        WHERE a.state = 'open' AND c.confirmed_at IS NULL AND coalesce(c.tier_done, -1) < ${CHAIN_DONE}
        ORDER BY a.raised_at
        LIMIT $1`,
      [limit],
    );
    return rows.map((row) => {
      let unreachableSince: number | null = null;
      if (row.chain_at !== null && Number(row.live ?? 0) === 0)
        unreachableSince = Number(row.total ?? 0) === 0 ? row.chain_at.getTime() : (row.last_failed?.getTime() ?? null);
      return {
        alert: toStoredAlert(row),
        policy: row.policy ?? undefined,
        tierDone: row.tier_done,
        unreachableSince,
      };
    });
  }

  /** The people a tier of this patient's chain may notify, with their push subscriptions. */
  async recipients(patientId: string): Promise<ChainRecipients> {
    const rows: {
      kind: 'patient' | 'caregiver' | 'care_team';
      id: string;
      role: PersonRole;
      name: string;
      email: string;
      scopes: SharingScope[] | null;
      subs: string[] | null;
    }[] = await managerOf(this.db).query(
      `WITH people AS (
         SELECT 'patient' AS kind, u.id, NULL::text[] AS scopes FROM users u
          WHERE u.patient_id = $1 AND u.role = 'patient' AND u.disabled_at IS NULL
         UNION ALL
         SELECT 'caregiver', s.caregiver_id, s.scopes FROM caregiver_shares s JOIN users u ON u.id = s.caregiver_id
          WHERE s.patient_id = $1 AND s.revoked_at IS NULL AND s.accepted_at IS NOT NULL AND u.disabled_at IS NULL
         UNION ALL
         SELECT 'care_team', m.clinician_id, NULL FROM care_team_members m JOIN users u ON u.id = m.clinician_id
          WHERE m.patient_id = $1 AND u.disabled_at IS NULL)
       SELECT p.kind, p.id::text, u.role, u.display_name AS name, u.email, p.scopes,
              (SELECT array_agg(ps.id::text ORDER BY ps.created_at) FROM push_subscriptions ps
                WHERE ps.user_id = p.id AND ps.failed_at IS NULL) AS subs
         FROM people p JOIN users u ON u.id = p.id
        ORDER BY p.kind, u.display_name, p.id`,
      [patientId],
    );
    const of = (kind: string): ChainPerson[] =>
      rows
        .filter((r) => r.kind === kind)
        .map((r) => ({
          id: r.id,
          role: r.role,
          name: r.name,
          email: r.email,
          pushSubscriptions: r.subs ?? [],
          ...(r.scopes === null ? {} : { scopes: r.scopes }),
        }));
    return { patient: of('patient'), caregivers: of('caregiver'), careTeam: of('care_team') };
  }

  /**
   * Fans tier `tier` of an alert's chain out, once: moves `tier_done` from `previous` to `tier` and
   * stores the tier's deliveries in one transaction. False (nothing stored) when another instance
   * did it first, or someone confirmed the alert meanwhile.
   */
  async fanOut(
    alert: { readonly id: string; readonly patientId: string },
    previous: number,
    tier: number,
    deliveries: readonly NewDelivery[],
  ): Promise<boolean> {
    return inTransaction(this.db, async (tx) => {
      const claimed: unknown = await tx.query(
        `INSERT INTO alert_chains (alert_id, patient_id, tier_done, tier_times) VALUES ($1, $2, $3, jsonb_build_array(now()))
         ON CONFLICT (alert_id) DO UPDATE
           SET tier_done = EXCLUDED.tier_done, updated_at = now(), tier_times = alert_chains.tier_times || to_jsonb(now())
           WHERE alert_chains.tier_done = $4 AND alert_chains.confirmed_at IS NULL
         RETURNING alert_id`,
        [alert.id, alert.patientId, tier, previous],
      );
      // A first tier inserts; otherwise (or racing another instance's insert) the update must find `previous`.
      if (returnedRows(claimed).length === 0) return false;
      if (deliveries.length > 0)
        await tx.query(
          `INSERT INTO alert_deliveries (alert_id, patient_id, tier, recipient_id, recipient_role, recipient_name, channel, target)
           SELECT $1, $2, $3, d.recipient_id, d.recipient_role, d.recipient_name, d.channel, d.target
             FROM jsonb_to_recordset($4::jsonb) AS d(recipient_id uuid, recipient_role text, recipient_name text, channel text, target text)`,
          [
            alert.id,
            alert.patientId,
            tier,
            JSON.stringify(
              deliveries.map((d) => ({
                recipient_id: d.recipientId,
                recipient_role: d.recipientRole,
                recipient_name: d.recipientName,
                channel: d.channel,
                target: d.target,
              })),
            ),
          ],
        );
      return true;
    });
  }

  /** Marks a chain over (every tier out, or none): it is no longer read by {@link openChains}. */
  async finish(alert: { readonly id: string; readonly patientId: string }, tierDone: number): Promise<void> {
    await managerOf(this.db).query(
      `INSERT INTO alert_chains (alert_id, patient_id, tier_done) VALUES ($1, $2, ${CHAIN_DONE})
       ON CONFLICT (alert_id) DO UPDATE SET tier_done = ${CHAIN_DONE}, updated_at = now() WHERE alert_chains.tier_done = $3`,
      [alert.id, alert.patientId, tierDone],
    );
  }

  /**
   * A person confirmed the alert: stops its chain (the first confirmation is kept) and marks that
   * person's deliveries acknowledged. Returns the confirmation that stands.
   */
  async confirm(
    alert: { readonly id: string; readonly patientId: string },
    by: { readonly id: string; readonly role: PersonRole },
  ): Promise<AlertConfirmation> {
    return inTransaction(this.db, async (tx) => {
      await tx.query(
        `INSERT INTO alert_chains (alert_id, patient_id, tier_done, confirmed_at, confirmed_by, confirmed_role)
         VALUES ($1, $2, -1, now(), $3, $4)
         ON CONFLICT (alert_id) DO UPDATE SET confirmed_at = now(), confirmed_by = $3, confirmed_role = $4, updated_at = now()
           WHERE alert_chains.confirmed_at IS NULL`,
        [alert.id, alert.patientId, by.id, by.role],
      );
      await tx.query(
        `UPDATE alert_deliveries SET acknowledged_at = now() WHERE alert_id = $1 AND recipient_id = $2 AND acknowledged_at IS NULL`,
        [alert.id, by.id],
      );
      return (await this.confirmationOf(alert.id))!;
    });
  }

  async confirmationOf(alertId: string): Promise<AlertConfirmation | undefined> {
    const rows: { at: Date; id: string; role: PersonRole; name: string | null }[] = await managerOf(this.db).query(
      `SELECT c.confirmed_at AS at, c.confirmed_by::text AS id, c.confirmed_role AS role, u.display_name AS name
         FROM alert_chains c LEFT JOIN users u ON u.id = c.confirmed_by
        WHERE c.alert_id = $1 AND c.confirmed_at IS NOT NULL`,
      [alertId],
    );
    const row = rows[0];
    if (row === undefined) return undefined;
    return { at: row.at.toISOString(), by: { id: row.id, role: row.role, ...(row.name ? { name: row.name } : {}) } };
  }

  /** When each tier of the alert's chain went out (ISO times, by tier index). */
  async tierTimesOf(alertId: string): Promise<string[]> {
    const rows: { tier_times: string[] }[] = await managerOf(this.db).query(
      `SELECT tier_times FROM alert_chains WHERE alert_id = $1`,
      [alertId],
    );
    return (rows[0]?.tier_times ?? []).map((t) => new Date(t).toISOString());
  }

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
    })[] = await managerOf(this.db).query(
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
      [channels, limit, leaseMs],
    );
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
    const rows: (AlertRow & { delivery_id: string; recipient: string })[] = await managerOf(this.db).query(
      `WITH due AS (
         UPDATE alert_deliveries d SET attempts = attempts + 1, next_attempt_at = now() + make_interval(secs => $2 / 1000.0)
          WHERE d.channel = 'socket' AND d.delivered_at IS NULL AND d.failed_at IS NULL AND d.next_attempt_at <= now()
            AND d.recipient_id = ANY($1::uuid[]) AND ${STILL_ENTITLED}
         RETURNING d.id, d.recipient_id, d.alert_id)
       SELECT due.id::text AS delivery_id, due.recipient_id::text AS recipient, ${alertColumnsOf('a')}
         FROM due JOIN alerts a ON a.id = due.alert_id`,
      [recipientIds, retryMs],
    );
    return rows.map((row) => ({ id: row.delivery_id, recipientId: row.recipient, alert: toStoredAlert(row) }));
  }

  /**
   * Ends what can no longer be delivered: socket deliveries no client of the person acknowledged
   * within `socketMs`, push deliveries handed over whose receipt never came within `pushMs`, and
   * pending deliveries of alerts that are over (acknowledged, resolved, confirmed).
   */
  async expire(socketMs: number, pushMs: number): Promise<number> {
    const result: unknown = await managerOf(this.db).query(
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
      [socketMs, pushMs],
    );
    return returnedRows(result).length;
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
