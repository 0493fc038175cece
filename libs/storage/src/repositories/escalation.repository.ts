import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import type {
  AlertConfirmation,
  AlertDeliveryResource,
  DeliveryChannel,
  EscalationPolicy,
  SharingScope,
} from '@lantern/domain';
import { prepared, queryPrepared } from '../prepared-statements.js';
import { inTransaction, managerOf } from '../transactions.js';
import { alertColumnsOf, toStoredAlert, type AlertRow, type StoredAlert } from './alert-row.js';
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

/** `tier_done` of a chain that is over (every tier out, or alerts active when the chain was introduced). */
export const CHAIN_DONE = 1000;

// What every escalation pass runs (each second and on every alert event), prepared: planning these
// cost more than running them (prepared-statements.ts).
const OPEN_CHAINS = prepared(
  'open_chains',
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
);

const RECIPIENTS = prepared(
  'chain_recipients',
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
);

const CLAIM_TIER = prepared(
  'claim_chain_tier',
  `INSERT INTO alert_chains (alert_id, patient_id, tier_done, tier_times) VALUES ($1, $2, $3, jsonb_build_array(now()))
       ON CONFLICT (alert_id) DO UPDATE
         SET tier_done = EXCLUDED.tier_done, updated_at = now(), tier_times = alert_chains.tier_times || to_jsonb(now())
         WHERE alert_chains.tier_done = $4 AND alert_chains.confirmed_at IS NULL
       RETURNING alert_id`,
);

const FINISH_CHAIN = prepared(
  'finish_chain',
  `INSERT INTO alert_chains (alert_id, patient_id, tier_done) VALUES ($1, $2, ${CHAIN_DONE})
       ON CONFLICT (alert_id) DO UPDATE SET tier_done = ${CHAIN_DONE}, updated_at = now() WHERE alert_chains.tier_done = $3`,
);

/**
 * The escalation chain's storage (contract §4.3): policies, how far each alert's chain has gone and
 * who confirmed it; a tier's deliveries are stored with it ({@link fanOut}) and then sent and
 * recorded through AlertDeliveryRepository. A tier is fanned out once across api instances: the
 * move of `tier_done` is a conditional statement.
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
    })[] = await queryPrepared(this.db, OPEN_CHAINS, [limit]);
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
    }[] = await queryPrepared(this.db, RECIPIENTS, [patientId]);
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
      const claimed = await queryPrepared(this.db, CLAIM_TIER, [alert.id, alert.patientId, tier, previous]);
      // A first tier inserts; otherwise (or racing another instance's insert) the update must find `previous`.
      if (claimed.length === 0) return false;
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
    await queryPrepared(this.db, FINISH_CHAIN, [alert.id, alert.patientId, tierDone]);
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
}
