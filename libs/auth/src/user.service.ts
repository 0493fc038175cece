import { randomBytes } from 'node:crypto';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { LANTERN_CONFIG, type LanternConfig } from '@lantern/config';
import { BadRequestError, ForbiddenError, NotFoundError, UnauthorizedError, type Role } from '@lantern/domain';
import { PatientRepository, Transactions, UserRepository, type AccountChange, type UserRecord } from '@lantern/storage';
import { AuditService } from './audit.service.js';
import type { Actor } from './auth.decorators.js';
import { dummyPasswordHash, hashPassword, verifyPassword } from './password.js';
import { principalOf, SessionService, type ClientInfo, type IssuedSession } from './session.service.js';

export interface CreateUserCommand {
  readonly email: string;
  readonly password: string;
  readonly role: Role;
  readonly displayName: string;
  /** Required for role patient (the one record this login is), refused for the others. */
  readonly patientId?: string;
}

/** Random temporary passwords of an admin reset: 144 bits, 24 URL-safe characters. */
function temporaryPassword(): string {
  return randomBytes(18).toString('base64url');
}

/**
 * Sign-in and user management. Passwords are argon2id-hashed and never logged or returned. Every
 * change that must end logins (password, role, disabling) ends them in the same transaction and
 * announces them, so the user's tokens answer 401 on their next request and their sockets close.
 * Each change is one transaction with its audit entry; announcements follow the commit.
 */
@Injectable()
export class UserService {
  private readonly logger = new Logger('Users');

  constructor(
    private readonly users: UserRepository,
    private readonly patients: PatientRepository,
    private readonly sessions: SessionService,
    private readonly audit: AuditService,
    private readonly transactions: Transactions,
    @Inject(LANTERN_CONFIG) private readonly config: LanternConfig,
  ) {}

  /**
   * Checks the credentials and starts a login (a session with its first refresh token); one
   * message for every failure (no user enumeration).
   */
  async login(email: string, password: string, client: ClientInfo = {}): Promise<IssuedSession> {
    const user = await this.users.findCredentialsByEmail(email);
    // Verify against a dummy hash for an unknown e-mail so both failures take the same time.
    const ok = await verifyPassword(password, user?.passwordHash ?? (await dummyPasswordHash()));
    if (user === undefined || !ok || user.disabledAt !== undefined) {
      await this.audit.record(undefined, {
        action: 'auth.login_failed',
        details: { email: email.toLowerCase(), ip: client.ip },
      });
      throw new UnauthorizedError('Invalid e-mail or password');
    }
    return this.transactions.run(async () => {
      const session = await this.sessions.start(user, client);
      await this.audit.record(
        { principal: principalOf(session.user, session.sessionId), ip: client.ip },
        { action: 'auth.login', resource: 'user', resourceId: user.id, details: { session: session.sessionId } },
      );
      return session;
    });
  }

  /**
   * The caller changes their own password: the current one must be right (400 otherwise, never
   * 401, which would sign a dashboard out). Every other login of the user ends; this one stays.
   */
  async changeOwnPassword(actor: Actor, currentPassword: string, newPassword: string): Promise<void> {
    const { userId, sessionId } = actor.principal;
    const user = await this.users.findCredentialsById(userId);
    if (user === undefined) throw new UnauthorizedError('Session ended; sign in again');
    if (!(await verifyPassword(currentPassword, user.passwordHash))) {
      await this.audit.record(actor, { action: 'auth.password_change_failed', resource: 'user', resourceId: userId });
      throw new BadRequestError('currentPassword is not the current password');
    }
    const passwordHash = await hashPassword(newPassword);
    const ended = await this.transactions.run(async () => {
      const revoked = await this.users.changePassword(userId, passwordHash, 'password_change', sessionId);
      await this.audit.record(actor, {
        action: 'auth.password_change',
        resource: 'user',
        resourceId: userId,
        details: { endedSessions: revoked?.length ?? 0 },
      });
      return revoked;
    });
    this.sessions.announceRevoked(ended ?? []);
  }

  /**
   * An admin resets a user's password to a random temporary one, returned once and never stored in
   * clear; every login of that user ends (the admin's own too when resetting themselves).
   */
  async resetPassword(actor: Actor, userId: string): Promise<string> {
    const password = temporaryPassword();
    const passwordHash = await hashPassword(password);
    const ended = await this.transactions.run(async () => {
      const revoked = await this.users.changePassword(userId, passwordHash, 'password_reset');
      if (revoked === undefined) throw new NotFoundError('User', userId);
      const user = await this.get(userId);
      await this.audit.record(actor, {
        action: 'user.password_reset',
        resource: 'user',
        resourceId: userId,
        ...(user.patientId !== undefined && { patientId: user.patientId }),
        details: { endedSessions: revoked.length },
      });
      return revoked;
    });
    this.sessions.announceRevoked(ended);
    return password;
  }

  /**
   * An admin changes a user's role or disables / re-enables them. A role change or a disable ends
   * every login of the user at once. An admin may not do either to themselves (there would be no
   * admin left to undo it); a patient login stays a patient and staff never become one (a patient
   * login is bound to its patient record).
   */
  async changeAccount(actor: Actor, userId: string, change: AccountChange): Promise<UserRecord> {
    if (change.role === undefined && change.disabled === undefined)
      throw new BadRequestError('Give role and/or disabled');
    if (userId.toLowerCase() === actor.principal.userId.toLowerCase())
      throw new ForbiddenError('An admin cannot change their own role or disable themselves');
    const current = await this.get(userId);
    if (
      change.role !== undefined &&
      change.role !== current.role &&
      (change.role === 'patient' || current.role === 'patient')
    )
      throw new BadRequestError('A patient login cannot change role, and staff cannot become patients');
    // A caregiver login is what patients shared with; staff who became one would see nothing, and a
    // caregiver who became staff would keep an address patients invited for sharing only.
    if (
      change.role !== undefined &&
      change.role !== current.role &&
      (change.role === 'caregiver' || current.role === 'caregiver')
    )
      throw new BadRequestError('A caregiver login cannot change role, and staff cannot become caregivers');
    const result = await this.transactions.run(async () => {
      const changed = await this.users.changeAccount(userId, change);
      if (changed === undefined) throw new NotFoundError('User', userId);
      const { before, after } = changed;
      const audited = {
        resource: 'user',
        resourceId: userId,
        ...(after.patientId !== undefined && { patientId: after.patientId }),
      };
      const ended = { endedSessions: changed.revokedSessionIds.length };
      if (before.role !== after.role)
        await this.audit.record(actor, {
          action: 'user.role_change',
          ...audited,
          details: { from: before.role, to: after.role, ...ended },
        });
      if (before.disabledAt === undefined && after.disabledAt !== undefined)
        await this.audit.record(actor, { action: 'user.disable', ...audited, details: ended });
      if (before.disabledAt !== undefined && after.disabledAt === undefined)
        await this.audit.record(actor, { action: 'user.enable', ...audited });
      return changed;
    });
    this.sessions.announceRevoked(result.revokedSessionIds);
    return result.after;
  }

  async get(userId: string): Promise<UserRecord> {
    const user = await this.users.findById(userId);
    if (user === undefined) throw new NotFoundError('User', userId);
    return user;
  }

  list(role?: Role): Promise<UserRecord[]> {
    return this.users.list(role);
  }

  async create(actor: Actor, command: CreateUserCommand): Promise<UserRecord> {
    if (command.role === 'caregiver')
      throw new BadRequestError("Caregiver accounts are made by accepting a patient's invitation");
    if (command.role === 'patient') {
      if (command.patientId === undefined) throw new BadRequestError('patientId is required for role patient');
      if (!(await this.patients.exists(command.patientId)))
        throw new BadRequestError(`patientId ${command.patientId} is not a patient`);
    } else if (command.patientId !== undefined) {
      throw new BadRequestError(`patientId is only allowed for role patient`);
    }
    const passwordHash = await hashPassword(command.password);
    return this.transactions.run(async () => {
      const user = await this.users.create({
        email: command.email.toLowerCase(),
        passwordHash,
        role: command.role,
        displayName: command.displayName,
        ...(command.patientId !== undefined && { patientId: command.patientId }),
      });
      await this.audit.record(actor, {
        action: 'user.create',
        resource: 'user',
        resourceId: user.id,
        ...(user.patientId !== undefined && { patientId: user.patientId }),
        details: { role: user.role, email: user.email },
      });
      return user;
    });
  }

  /**
   * First start: with no users at all, creates the admin from ADMIN_EMAIL / ADMIN_PASSWORD, or
   * with a generated password printed once (the only time a password is ever printed).
   */
  async ensureInitialAdmin(): Promise<void> {
    const generated = this.config.adminPassword === undefined;
    const password = this.config.adminPassword ?? randomBytes(18).toString('base64url');
    const passwordHash = await hashPassword(password);
    const admin = await this.transactions.run(async () => {
      const created = await this.users.createIfNoUsers({
        email: this.config.adminEmail,
        passwordHash,
        role: 'admin',
        displayName: 'Administrator',
      });
      if (created !== undefined)
        await this.audit.record(undefined, {
          action: 'user.create',
          resource: 'user',
          resourceId: created.id,
          details: { role: 'admin', email: created.email, firstStart: true },
        });
      return created;
    });
    if (admin === undefined) return;
    if (generated) {
      this.logger.warn(
        `Created the first admin ${admin.email} with generated password ${password} — shown only now; change it or set ADMIN_PASSWORD.`,
      );
    } else {
      this.logger.log(`Created the first admin ${admin.email} (password from ADMIN_PASSWORD).`);
    }
  }
}
