import { Injectable } from '@nestjs/common';
import { DataSource, type EntityManager } from 'typeorm';
import { ConflictError, type Role } from '@lantern/domain';
import { inTransaction, managerOf } from '../transactions.js';
import { isUniqueViolation, returnedRows } from './sql-helpers.js';

export interface UserRecord {
  readonly id: string;
  readonly email: string;
  readonly role: Role;
  readonly displayName: string;
  /** The patient record a patient user is; undefined for staff. */
  readonly patientId?: string;
  readonly createdAt: Date;
  readonly disabledAt?: Date;
}

/** A user with the hash needed to check a login; never leaves the auth service. */
export interface UserCredentials extends UserRecord {
  readonly passwordHash: string;
}

export interface NewUser {
  readonly email: string;
  readonly passwordHash: string;
  readonly role: Role;
  readonly displayName: string;
  readonly patientId?: string;
}

/** Why a login (session) ended before its time; stored in `sessions.revoked_reason`. */
export type SessionEndReason =
  'logout' | 'password_change' | 'password_reset' | 'disabled' | 'role_change' | 'refresh_token_reuse';

/** What an admin may change on an account (contract §4.1 `PATCH /users/:id`). */
export interface AccountChange {
  readonly role?: Role;
  readonly disabled?: boolean;
}

/** An account change as stored: the user before and after, and the logins it ended. */
export interface AccountChangeResult {
  readonly before: UserRecord;
  readonly after: UserRecord;
  readonly revokedSessionIds: string[];
}

/** @internal Row of `users` as selected with {@link USER_COLUMNS}; shared with the session repository. */
export interface UserRow {
  id: string;
  email: string;
  role: Role;
  display_name: string;
  patient_id: string | null;
  created_at: Date;
  disabled_at: Date | null;
  password_hash: string;
}

/** @internal The columns {@link userRecordOf} reads, for queries in other repositories. */
export const USER_COLUMNS = 'id, email, role, display_name, patient_id, created_at, disabled_at';
const COLUMNS = USER_COLUMNS;

/** @internal A `users` row as the record the rest of Lantern sees. */
export function userRecordOf(row: UserRow): UserRecord {
  return {
    id: row.id,
    email: row.email,
    role: row.role,
    displayName: row.display_name,
    ...(row.patient_id !== null && { patientId: row.patient_id }),
    createdAt: row.created_at,
    ...(row.disabled_at !== null && { disabledAt: row.disabled_at }),
  };
}

/** Users (admins, clinicians, patient logins). E-mails are unique case-insensitively. */
@Injectable()
export class UserRepository {
  constructor(private readonly db: DataSource) {}

  async findCredentialsByEmail(email: string): Promise<UserCredentials | undefined> {
    const rows: UserRow[] = await managerOf(this.db).query(
      `SELECT ${COLUMNS}, password_hash FROM users WHERE lower(email) = lower($1)`,
      [email],
    );
    const row = rows[0];
    return row && { ...userRecordOf(row), passwordHash: row.password_hash };
  }

  async findById(id: string): Promise<UserRecord | undefined> {
    const rows: UserRow[] = await managerOf(this.db).query(`SELECT ${COLUMNS} FROM users WHERE id = $1`, [id]);
    return rows[0] && userRecordOf(rows[0]);
  }

  async list(role?: Role): Promise<UserRecord[]> {
    const rows: UserRow[] = await managerOf(this.db).query(
      `SELECT ${COLUMNS} FROM users WHERE ($1::text IS NULL OR role = $1) ORDER BY role, lower(email)`,
      [role ?? null],
    );
    return rows.map(userRecordOf);
  }

  /** Inserts a user; ConflictError when the e-mail (or the patient's login) already exists. */
  async create(user: NewUser): Promise<UserRecord> {
    try {
      const rows: UserRow[] = await managerOf(this.db).query(
        `INSERT INTO users (email, password_hash, role, display_name, patient_id) VALUES ($1, $2, $3, $4, $5) RETURNING ${COLUMNS}`,
        [user.email, user.passwordHash, user.role, user.displayName, user.patientId ?? null],
      );
      return userRecordOf(rows[0]);
    } catch (error) {
      if (isUniqueViolation(error, 'users_email_key'))
        throw new ConflictError(`A user with e-mail ${user.email} already exists`);
      if (isUniqueViolation(error, 'users_patient_id_key')) throw new ConflictError('This patient already has a login');
      throw error;
    }
  }

  /** The user with the hash needed to check a password (the password change checks the current one). */
  async findCredentialsById(id: string): Promise<UserCredentials | undefined> {
    const rows: UserRow[] = await managerOf(this.db).query(
      `SELECT ${COLUMNS}, password_hash FROM users WHERE id = $1`,
      [id],
    );
    const row = rows[0];
    return row && { ...userRecordOf(row), passwordHash: row.password_hash };
  }

  /**
   * Changes role and/or the disabled state, and in the same transaction ends every login of the
   * user when the role changed or the account was disabled (their tokens carry the old role, or
   * belong to someone who may no longer sign in). Undefined for an unknown user. Re-enabling ends
   * nothing; a change to the current value is no change.
   */
  async changeAccount(id: string, change: AccountChange): Promise<AccountChangeResult | undefined> {
    return inTransaction(this.db, async (tx) => {
      // The row lock orders this change against logins and refreshes, which read the user FOR SHARE.
      const rows: UserRow[] = await tx.query(`SELECT ${COLUMNS}, password_hash FROM users WHERE id = $1 FOR UPDATE`, [
        id,
      ]);
      if (rows[0] === undefined) return undefined;
      const before = userRecordOf(rows[0]);
      const role = change.role ?? before.role;
      const disabling = change.disabled === true && before.disabledAt === undefined;
      const enabling = change.disabled === false && before.disabledAt !== undefined;
      const updated: UserRow[] = returnedRows(
        await tx.query(
          `UPDATE users SET role = $2,
             disabled_at = CASE WHEN $3 THEN now() WHEN $4 THEN NULL ELSE disabled_at END
           WHERE id = $1 RETURNING ${COLUMNS}`,
          [id, role, disabling, enabling],
        ),
      );
      const after = userRecordOf(updated[0]);
      const reason: SessionEndReason | undefined = disabling
        ? 'disabled'
        : role !== before.role
          ? 'role_change'
          : undefined;
      const revokedSessionIds = reason === undefined ? [] : await revokeSessions(tx, id, reason);
      return { before, after, revokedSessionIds };
    });
  }

  /**
   * Replaces the password hash and, in the same transaction, ends every login of the user but
   * `keepSessionId` (the one that changed its own password stays signed in). Returns the ended
   * logins; undefined for an unknown user.
   */
  async changePassword(
    id: string,
    passwordHash: string,
    reason: Extract<SessionEndReason, 'password_change' | 'password_reset'>,
    keepSessionId?: string,
  ): Promise<string[] | undefined> {
    return inTransaction(this.db, async (tx) => {
      const updated: { id: string }[] = returnedRows(
        await tx.query(`UPDATE users SET password_hash = $2 WHERE id = $1 RETURNING id`, [id, passwordHash]),
      );
      if (updated.length === 0) return undefined;
      return revokeSessions(tx, id, reason, keepSessionId);
    });
  }

  /**
   * Creates `user` only while the users table is empty (first start). Safe when several processes
   * start at once: the advisory lock serialises them, so exactly one admin is created.
   */
  async createIfNoUsers(user: NewUser): Promise<UserRecord | undefined> {
    return inTransaction(this.db, async (tx) => {
      await tx.query(`SELECT pg_advisory_xact_lock(hashtext('lantern:first-admin'))`);
      const rows: UserRow[] = await tx.query(
        `INSERT INTO users (email, password_hash, role, display_name, patient_id)
         SELECT $1, $2, $3, $4, $5 WHERE NOT EXISTS (SELECT 1 FROM users)
         RETURNING ${COLUMNS}`,
        [user.email, user.passwordHash, user.role, user.displayName, user.patientId ?? null],
      );
      return rows[0] && userRecordOf(rows[0]);
    });
  }
}

/** Ends the live logins of a user (all but `keep`) inside `tx`; returns their ids. */
async function revokeSessions(
  tx: EntityManager,
  userId: string,
  reason: SessionEndReason,
  keep?: string,
): Promise<string[]> {
  const rows: { id: string }[] = returnedRows(
    await tx.query(
      `UPDATE sessions SET revoked_at = now(), revoked_reason = $2
       WHERE user_id = $1 AND revoked_at IS NULL AND ($3::uuid IS NULL OR id <> $3::uuid)
       RETURNING id`,
      [userId, reason, keep ?? null],
    ),
  );
  return rows.map((row) => row.id);
}
