import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { ConflictError, isSharingScope, type SharingScope } from '@lantern/domain';
import { inTransaction, managerOf } from '../transactions.js';
import { isUniqueViolation, returnedRows } from './sql-helpers.js';

/** One share of a patient's data with a caregiver (contract §4.2), pending until accepted. */
export interface CaregiverShare {
  readonly id: string;
  readonly patientId: string;
  /** The address the patient invited, lower case. */
  readonly email: string;
  /** The name the patient gave, else the caregiver account's name once accepted. */
  readonly displayName?: string;
  readonly scopes: SharingScope[];
  /** The caregiver account, once the invitation was accepted. */
  readonly caregiverId?: string;
  readonly createdAt: Date;
  readonly acceptedAt?: Date;
  /** When the newest invitation expires; for a pending share only. */
  readonly invitationExpiresAt?: Date;
}

export interface NewInvitation {
  readonly patientId: string;
  readonly email: string;
  readonly displayName?: string;
  readonly scopes: readonly SharingScope[];
  readonly invitedBy: string;
  readonly tokenHash: string;
  readonly expiresAt: Date;
}

/** A share and the caregiver it named, as it was when revoked or changed. */
export interface ShareChange {
  readonly share: CaregiverShare;
  readonly before: readonly SharingScope[];
}

interface ShareRow {
  id: string;
  patient_id: string;
  email: string;
  display_name: string | null;
  scopes: string[];
  caregiver_id: string | null;
  created_at: Date;
  accepted_at: Date | null;
  invitation_expires_at?: Date | null;
}

const COLUMNS = `s.id, s.patient_id, s.email, COALESCE(s.display_name, u.display_name) AS display_name, s.scopes,
  s.caregiver_id, s.created_at, s.accepted_at`;
const FROM = `caregiver_shares s LEFT JOIN users u ON u.id = s.caregiver_id`;

function toShare(row: ShareRow): CaregiverShare {
  return {
    id: row.id,
    patientId: row.patient_id,
    email: row.email,
    ...(row.display_name !== null && { displayName: row.display_name }),
    scopes: row.scopes.filter(isSharingScope),
    ...(row.caregiver_id !== null && { caregiverId: row.caregiver_id }),
    createdAt: row.created_at,
    ...(row.accepted_at !== null && { acceptedAt: row.accepted_at }),
    ...(row.accepted_at === null &&
      row.invitation_expires_at != null && { invitationExpiresAt: row.invitation_expires_at }),
  };
}

/**
 * The care circle's shares and invitations. Only live (unrevoked) shares grant anything; every
 * question a request asks ("what may this caregiver see of this patient?") is one indexed query.
 */
@Injectable()
export class CareCircleRepository {
  constructor(private readonly db: DataSource) {}

  /**
   * Invites `email` to see the patient's `scopes`: a new pending share, or — when the address has a
   * pending share already — that share with the new scopes and name, its earlier invitation replaced
   * (the token is shown once; a patient who lost it invites again). ConflictError when the address
   * already accepted: its scopes are changed with {@link updateScopes}.
   */
  async invite(invitation: NewInvitation): Promise<CaregiverShare> {
    try {
      return await inTransaction(this.db, async (tx) => {
        const live: { id: string; accepted_at: Date | null }[] = await tx.query(
          `SELECT id, accepted_at FROM caregiver_shares
            WHERE patient_id = $1 AND lower(email) = lower($2) AND revoked_at IS NULL FOR UPDATE`,
          [invitation.patientId, invitation.email],
        );
        const existing = live[0];
        if (existing?.accepted_at != null)
          throw new ConflictError('This person can already see your data: change what they see instead');
        let shareId: string;
        if (existing === undefined) {
          const rows: { id: string }[] = await tx.query(
            `INSERT INTO caregiver_shares (patient_id, email, display_name, scopes, invited_by)
             VALUES ($1, lower($2), $3, $4, $5) RETURNING id`,
            [
              invitation.patientId,
              invitation.email,
              invitation.displayName ?? null,
              [...invitation.scopes],
              invitation.invitedBy,
            ],
          );
          shareId = rows[0].id;
        } else {
          shareId = existing.id;
          await tx.query(
            `UPDATE caregiver_shares SET scopes = $2, display_name = COALESCE($3, display_name), updated_at = now() WHERE id = $1`,
            [shareId, [...invitation.scopes], invitation.displayName ?? null],
          );
          await tx.query(`DELETE FROM caregiver_invitations WHERE share_id = $1`, [shareId]);
        }
        await tx.query(`INSERT INTO caregiver_invitations (token_hash, share_id, expires_at) VALUES ($1, $2, $3)`, [
          invitation.tokenHash,
          shareId,
          invitation.expiresAt,
        ]);
        return (await this.find(invitation.patientId, shareId))!;
      });
    } catch (error) {
      // Two invitations of one address at once: the second sees the first's share.
      if (isUniqueViolation(error, 'caregiver_shares_live_email_key'))
        throw new ConflictError('This person was invited meanwhile; try again');
      throw error;
    }
  }

  /** A live share of the patient, with its invitation's expiry while pending. */
  async find(patientId: string, shareId: string): Promise<CaregiverShare | undefined> {
    return (await this.listForPatient(patientId, shareId))[0];
  }

  /** The patient's live shares, oldest first. */
  async listForPatient(patientId: string, shareId?: string): Promise<CaregiverShare[]> {
    const rows: ShareRow[] = await managerOf(this.db).query(
      `SELECT ${COLUMNS},
              (SELECT max(i.expires_at) FROM caregiver_invitations i WHERE i.share_id = s.id AND i.used_at IS NULL)
                AS invitation_expires_at
         FROM ${FROM}
        WHERE s.patient_id = $1 AND s.revoked_at IS NULL AND ($2::uuid IS NULL OR s.id = $2)
        ORDER BY s.created_at, s.id`,
      [patientId, shareId ?? null],
    );
    return rows.map(toShare);
  }

  /** Replaces a live share's scopes; undefined when the patient has no such live share. */
  async updateScopes(
    patientId: string,
    shareId: string,
    scopes: readonly SharingScope[],
  ): Promise<ShareChange | undefined> {
    return inTransaction(this.db, async (tx) => {
      const before: { scopes: string[] }[] = await tx.query(
        `SELECT scopes FROM caregiver_shares WHERE id = $1 AND patient_id = $2 AND revoked_at IS NULL FOR UPDATE`,
        [shareId, patientId],
      );
      if (before.length === 0) return undefined;
      await tx.query(`UPDATE caregiver_shares SET scopes = $2, updated_at = now() WHERE id = $1`, [
        shareId,
        [...scopes],
      ]);
      const share = (await this.find(patientId, shareId))!;
      return { share, before: before[0].scopes.filter(isSharingScope) };
    });
  }

  /** Revokes a live share (and its pending invitation); undefined when there is none. */
  async revoke(patientId: string, shareId: string): Promise<ShareChange | undefined> {
    return inTransaction(this.db, async (tx) => {
      const share = await this.find(patientId, shareId);
      if (share === undefined) return undefined;
      const result: unknown = await tx.query(
        `UPDATE caregiver_shares SET revoked_at = now(), updated_at = now()
          WHERE id = $1 AND revoked_at IS NULL RETURNING id`,
        [shareId],
      );
      if (returnedRows(result).length === 0) return undefined;
      await tx.query(`DELETE FROM caregiver_invitations WHERE share_id = $1 AND used_at IS NULL`, [shareId]);
      return { share, before: share.scopes };
    });
  }

  /** The pending share an unused, unexpired invitation token (by hash) opens, if any. */
  async findByInvitation(tokenHash: string): Promise<CaregiverShare | undefined> {
    const rows: ShareRow[] = await managerOf(this.db).query(
      `SELECT ${COLUMNS}, i.expires_at AS invitation_expires_at
         FROM caregiver_invitations i JOIN ${FROM} ON s.id = i.share_id
        WHERE i.token_hash = $1 AND i.used_at IS NULL AND i.expires_at > now()
          AND s.revoked_at IS NULL AND s.accepted_at IS NULL`,
      [tokenHash],
    );
    return rows[0] && toShare(rows[0]);
  }

  /**
   * Spends the invitation and links its share to `caregiverId`, atomically: of two acceptances of
   * one token, one wins. Undefined when the token is unknown, used, expired or its share revoked.
   * ConflictError when that account already has a live share of this patient (another address).
   */
  async accept(tokenHash: string, caregiverId: string): Promise<CaregiverShare | undefined> {
    return inTransaction(this.db, async (tx) => {
      const spent: unknown = await tx.query(
        `UPDATE caregiver_invitations SET used_at = now()
          WHERE token_hash = $1 AND used_at IS NULL AND expires_at > now() RETURNING share_id`,
        [tokenHash],
      );
      const shareId = returnedRows<{ share_id: string }>(spent)[0]?.share_id;
      if (shareId === undefined) return undefined;
      const linked: unknown = await tx.query(
        `UPDATE caregiver_shares s SET caregiver_id = $2, accepted_at = now(), updated_at = now()
          WHERE s.id = $1 AND s.revoked_at IS NULL AND s.accepted_at IS NULL
            AND NOT EXISTS (SELECT 1 FROM caregiver_shares o WHERE o.caregiver_id = $2
                              AND o.patient_id = s.patient_id AND o.revoked_at IS NULL)
          RETURNING s.patient_id`,
        [shareId, caregiverId],
      );
      const patientId = returnedRows<{ patient_id: string }>(linked)[0]?.patient_id;
      if (patientId === undefined) {
        const rows: { revoked: boolean; accepted: boolean }[] = await tx.query(
          `SELECT revoked_at IS NOT NULL AS revoked, accepted_at IS NOT NULL AS accepted FROM caregiver_shares WHERE id = $1`,
          [shareId],
        );
        if (rows[0] && !rows[0].revoked && !rows[0].accepted)
          throw new ConflictError('This account can already see this patient');
        return undefined;
      }
      return this.find(patientId, shareId);
    });
  }

  /** The scopes of the caregiver's live, accepted share of the patient; undefined when there is none. */
  async scopesOf(caregiverId: string, patientId: string): Promise<SharingScope[] | undefined> {
    const rows: { scopes: string[] }[] = await managerOf(this.db).query(
      `SELECT scopes FROM caregiver_shares WHERE caregiver_id = $1 AND patient_id = $2 AND revoked_at IS NULL`,
      [caregiverId, patientId],
    );
    return rows[0]?.scopes.filter(isSharingScope);
  }

  /**
   * The live scopes of many (caregiver, patient) pairs in one query, keyed `caregiverId:patientId`;
   * a pair without a live share is absent.
   */
  async scopesOfMany(
    pairs: readonly { readonly caregiverId: string; readonly patientId: string }[],
  ): Promise<Map<string, SharingScope[]>> {
    if (pairs.length === 0) return new Map();
    const rows: { caregiver_id: string; patient_id: string; scopes: string[] }[] = await managerOf(this.db).query(
      `SELECT s.caregiver_id, s.patient_id, s.scopes
         FROM unnest($1::uuid[], $2::uuid[]) AS p(caregiver_id, patient_id)
         JOIN caregiver_shares s ON s.caregiver_id = p.caregiver_id AND s.patient_id = p.patient_id
        WHERE s.revoked_at IS NULL`,
      [pairs.map((p) => p.caregiverId), pairs.map((p) => p.patientId)],
    );
    return new Map(rows.map((r) => [`${r.caregiver_id}:${r.patient_id}`, r.scopes.filter(isSharingScope)]));
  }
}
