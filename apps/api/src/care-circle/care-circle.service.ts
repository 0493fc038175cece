import { Injectable } from '@nestjs/common';
import { AuditService, generateInvitationToken, hashInvitationToken, ShareChanges, type Actor } from '@lantern/auth';
import { ForbiddenError, NotFoundError, type SharingScope } from '@lantern/domain';
import {
  AuditRepository,
  CareCircleRepository,
  Transactions,
  type AccessLogEntry,
  type CaregiverShare,
} from '@lantern/storage';

/** How long an invitation token stays valid; a patient invites again for a new one. */
export const INVITATION_TTL_MS = 7 * 86_400_000;

export interface InviteCommand {
  readonly email: string;
  readonly name?: string;
  readonly scopes: readonly SharingScope[];
}

/**
 * The patient's side of the care circle (contract §4.2): inviting, changing what a caregiver sees,
 * revoking, and reading who looked at their data. Each change is one transaction with its audit
 * entry; a change that narrows a caregiver's view is announced after the commit so their open
 * sockets stop receiving at once (ShareChanges; other api instances find it within 2 s).
 */
@Injectable()
export class CareCircleService {
  constructor(
    private readonly careCircle: CareCircleRepository,
    private readonly auditLog: AuditRepository,
    private readonly audit: AuditService,
    private readonly transactions: Transactions,
    private readonly changes: ShareChanges,
  ) {}

  /** A pending share and its invitation token, which exists only in this answer (stored as a hash). */
  async invite(
    actor: Actor,
    command: InviteCommand,
  ): Promise<{ share: CaregiverShare; token: string; expiresAt: Date }> {
    const patientId = ownPatient(actor);
    const token = generateInvitationToken();
    const expiresAt = new Date(Date.now() + INVITATION_TTL_MS);
    const share = await this.transactions.run(async () => {
      const invited = await this.careCircle.invite({
        patientId,
        email: command.email,
        ...(command.name !== undefined && { displayName: command.name }),
        scopes: command.scopes,
        invitedBy: actor.principal.userId,
        tokenHash: hashInvitationToken(token),
        expiresAt,
      });
      await this.audit.record(actor, {
        action: 'caregiver.invite',
        patientId,
        resource: 'caregiver_share',
        resourceId: invited.id,
        details: { email: invited.email, scopes: invited.scopes },
      });
      return invited;
    });
    return { share, token, expiresAt };
  }

  list(actor: Actor): Promise<CaregiverShare[]> {
    return this.careCircle.listForPatient(ownPatient(actor));
  }

  async changeScopes(actor: Actor, shareId: string, scopes: readonly SharingScope[]): Promise<CaregiverShare> {
    const patientId = ownPatient(actor);
    const changed = await this.transactions.run(async () => {
      const change = await this.careCircle.updateScopes(patientId, shareId, scopes);
      if (change === undefined) throw new NotFoundError('Caregiver', shareId);
      await this.audit.record(actor, {
        action: 'caregiver.scopes_change',
        patientId,
        resource: 'caregiver_share',
        resourceId: shareId,
        details: { from: change.before, to: change.share.scopes },
      });
      return change.share;
    });
    this.announce(changed);
    return changed;
  }

  async revoke(actor: Actor, shareId: string): Promise<void> {
    const patientId = ownPatient(actor);
    const revoked = await this.transactions.run(async () => {
      const change = await this.careCircle.revoke(patientId, shareId);
      if (change === undefined) throw new NotFoundError('Caregiver', shareId);
      await this.audit.record(actor, {
        action: 'caregiver.revoke',
        patientId,
        resource: 'caregiver_share',
        resourceId: shareId,
        details: { email: change.share.email, scopes: change.before },
      });
      return change.share;
    });
    this.announce(revoked);
  }

  /** Who else read, watched or changed the patient's data, newest first (the patient's own actions left out). */
  accessLog(actor: Actor, page: { before?: string; limit: number }): Promise<AccessLogEntry[]> {
    return this.auditLog.accessLog({
      patientId: ownPatient(actor),
      ownUserId: actor.principal.userId,
      ...(page.before !== undefined && { beforeId: page.before }),
      limit: page.limit,
    });
  }

  private announce(share: CaregiverShare): void {
    if (share.caregiverId !== undefined)
      this.changes.announce([{ caregiverId: share.caregiverId, patientId: share.patientId }]);
  }
}

/** The caller's own patient record: the routes are for patient logins only. */
function ownPatient(actor: Actor): string {
  if (actor.principal.role !== 'patient' || actor.principal.patientId === undefined)
    throw new ForbiddenError('Only patients share their data');
  return actor.principal.patientId;
}
