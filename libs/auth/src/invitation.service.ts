import { Injectable, Logger } from '@nestjs/common';
import { ConflictError, UnauthorizedError } from '@lantern/domain';
import { CareCircleRepository, Transactions, UserRepository, type UserCredentials } from '@lantern/storage';
import { AuditService } from './audit.service.js';
import { hashPassword, verifyPassword } from './password.js';
import { generateRefreshToken, hashRefreshToken } from './refresh-token.js';
import { principalOf, SessionService, type ClientInfo, type IssuedSession } from './session.service.js';

/** One answer for an unknown, used, expired or revoked invitation, and for a wrong password. */
const REFUSED = 'This invitation is not valid: it may have expired or been used. Ask for a new one.';

/**
 * Invitation tokens: 256 random bits, stored only as their SHA-256 (like refresh tokens: with that
 * much entropy a fast hash is as safe as a slow one).
 */
export const generateInvitationToken = generateRefreshToken;
export const hashInvitationToken = hashRefreshToken;

export interface AcceptInvitationCommand {
  readonly token: string;
  readonly password: string;
  readonly name?: string;
}

/**
 * A caregiver accepts a patient's invitation (contract §4.2 `POST /auth/accept-invitation`) and is
 * signed in. The account is the invited address's: created as a caregiver with `password`, or —
 * when a caregiver account with that address exists (invited by another patient) — linked, which
 * requires that account's current password, so holding a token never takes over an account. An
 * address that belongs to staff or a patient cannot become a caregiver's (409). The token is spent,
 * the share linked, the account created, the login started and the acceptance audited in one
 * transaction: all or nothing.
 */
@Injectable()
export class InvitationService {
  private readonly logger = new Logger('Invitations');

  constructor(
    private readonly careCircle: CareCircleRepository,
    private readonly users: UserRepository,
    private readonly sessions: SessionService,
    private readonly audit: AuditService,
    private readonly transactions: Transactions,
  ) {}

  async accept(command: AcceptInvitationCommand, client: ClientInfo): Promise<IssuedSession> {
    const tokenHash = hashInvitationToken(command.token);
    const share = await this.careCircle.findByInvitation(tokenHash);
    if (share === undefined) return this.refuse('unknown, used or expired token', client);
    const existing = await this.users.findCredentialsByEmail(share.email);
    if (existing !== undefined) {
      if (existing.role !== 'caregiver')
        throw new ConflictError(
          'This e-mail address belongs to an account that cannot be a caregiver. Ask the patient to invite another address.',
        );
      if (existing.disabledAt !== undefined || !(await verifyPassword(command.password, existing.passwordHash)))
        return this.refuse('wrong password for the existing caregiver account', client, share.patientId);
    }
    const passwordHash = existing?.passwordHash ?? (await hashPassword(command.password));
    const issued = await this.transactions.run(async () => {
      const account: UserCredentials =
        existing ??
        ({
          ...(await this.users.create({
            email: share.email,
            passwordHash,
            role: 'caregiver',
            displayName: command.name ?? share.displayName ?? share.email,
          })),
          passwordHash,
        } satisfies UserCredentials);
      const accepted = await this.careCircle.accept(tokenHash, account.id);
      // Spent by a concurrent acceptance between the check and here: nothing of this one is kept.
      if (accepted === undefined) throw new UnauthorizedError(REFUSED);
      const session = await this.sessions.start(account, client);
      const actor = { principal: principalOf(session.user, session.sessionId), ip: client.ip };
      await this.audit.record(actor, {
        action: 'caregiver.accept',
        patientId: accepted.patientId,
        resource: 'caregiver_share',
        resourceId: accepted.id,
        details: { scopes: accepted.scopes, newAccount: existing === undefined },
      });
      await this.audit.record(actor, {
        action: 'auth.login',
        resource: 'user',
        resourceId: account.id,
        details: { session: session.sessionId, via: 'invitation' },
      });
      return session;
    });
    this.logger.debug(`invitation accepted by user ${issued.user.id}`);
    return issued;
  }

  private async refuse(reason: string, client: ClientInfo, patientId?: string): Promise<never> {
    await this.audit.record(undefined, {
      action: 'caregiver.accept_failed',
      ...(patientId !== undefined && { patientId }),
      details: { reason, ip: client.ip },
    });
    throw new UnauthorizedError(REFUSED);
  }
}
