import { randomBytes } from 'node:crypto';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { LANTERN_CONFIG, type LanternConfig } from '@lantern/config';
import { BadRequestError, NotFoundError, UnauthorizedError, type Role } from '@lantern/domain';
import { PatientRepository, UserRepository, type UserCredentials, type UserRecord } from '@lantern/storage';
import { AccessTokenService } from './access-token.service.js';
import { AuditService } from './audit.service.js';
import type { Actor } from './auth.decorators.js';
import { dummyPasswordHash, hashPassword, verifyPassword } from './password.js';
import type { Principal } from './principal.js';

export interface LoginResult {
  readonly accessToken: string;
  readonly expiresAt: Date;
  readonly user: UserRecord;
}

export interface CreateUserCommand {
  readonly email: string;
  readonly password: string;
  readonly role: Role;
  readonly displayName: string;
  /** Required for role patient (the one record this login is), refused for the others. */
  readonly patientId?: string;
}

/** The principal a user record signs in as. */
export function principalOf(user: UserRecord): Principal {
  return user.patientId === undefined
    ? { userId: user.id, role: user.role, email: user.email }
    : { userId: user.id, role: user.role, email: user.email, patientId: user.patientId };
}

function withoutPasswordHash(user: UserCredentials): UserRecord {
  const record: { -readonly [K in keyof UserCredentials]?: UserCredentials[K] } = { ...user };
  delete record.passwordHash;
  return record as UserRecord;
}

/** Sign-in and user management. Passwords are argon2id-hashed and never logged or returned. */
@Injectable()
export class UserService {
  private readonly logger = new Logger('Users');

  constructor(
    private readonly users: UserRepository,
    private readonly patients: PatientRepository,
    private readonly tokens: AccessTokenService,
    private readonly audit: AuditService,
    @Inject(LANTERN_CONFIG) private readonly config: LanternConfig,
  ) {}

  /** Checks the credentials and issues an access token; one message for every failure (no user enumeration). */
  async login(email: string, password: string, ip?: string): Promise<LoginResult> {
    const user = await this.users.findCredentialsByEmail(email);
    // Verify against a dummy hash for an unknown e-mail so both failures take the same time.
    const ok = await verifyPassword(password, user?.passwordHash ?? (await dummyPasswordHash()));
    if (user === undefined || !ok || user.disabledAt !== undefined) {
      await this.audit.record(undefined, { action: 'auth.login_failed', details: { email: email.toLowerCase(), ip } });
      throw new UnauthorizedError('Invalid e-mail or password');
    }
    const record: UserRecord = withoutPasswordHash(user);
    const principal = principalOf(record);
    await this.audit.record({ principal, ip }, { action: 'auth.login', resource: 'user', resourceId: user.id });
    return { ...this.tokens.issue(principal), user: record };
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
    if (command.role === 'patient') {
      if (command.patientId === undefined) throw new BadRequestError('patientId is required for role patient');
      if (!(await this.patients.exists(command.patientId)))
        throw new BadRequestError(`patientId ${command.patientId} is not a patient`);
    } else if (command.patientId !== undefined) {
      throw new BadRequestError(`patientId is only allowed for role patient`);
    }
    const user = await this.users.create({
      email: command.email.toLowerCase(),
      passwordHash: await hashPassword(command.password),
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
  }

  /**
   * First start: with no users at all, creates the admin from ADMIN_EMAIL / ADMIN_PASSWORD, or
   * with a generated password printed once (the only time a password is ever printed).
   */
  async ensureInitialAdmin(): Promise<void> {
    const generated = this.config.adminPassword === undefined;
    const password = this.config.adminPassword ?? randomBytes(18).toString('base64url');
    const admin = await this.users.createIfNoUsers({
      email: this.config.adminEmail,
      passwordHash: await hashPassword(password),
      role: 'admin',
      displayName: 'Administrator',
    });
    if (admin === undefined) return;
    if (generated) {
      this.logger.warn(
        `Created the first admin ${admin.email} with generated password ${password} — shown only now; change it or set ADMIN_PASSWORD.`,
      );
    } else {
      this.logger.log(`Created the first admin ${admin.email} (password from ADMIN_PASSWORD).`);
    }
    await this.audit.record(undefined, {
      action: 'user.create',
      resource: 'user',
      resourceId: admin.id,
      details: { role: 'admin', email: admin.email, firstStart: true },
    });
  }
}
