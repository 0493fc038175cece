import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { ConflictError, type Role } from '@lantern/domain';
import { isUniqueViolation } from './sql-helpers.js';

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

interface UserRow {
  id: string;
  email: string;
  role: Role;
  display_name: string;
  patient_id: string | null;
  created_at: Date;
  disabled_at: Date | null;
  password_hash: string;
}

const COLUMNS = 'id, email, role, display_name, patient_id, created_at, disabled_at';

function toRecord(row: UserRow): UserRecord {
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
    const rows: UserRow[] = await this.db.query(
      `SELECT ${COLUMNS}, password_hash FROM users WHERE lower(email) = lower($1)`,
      [email],
    );
    const row = rows[0];
    return row && { ...toRecord(row), passwordHash: row.password_hash };
  }

  async findById(id: string): Promise<UserRecord | undefined> {
    const rows: UserRow[] = await this.db.query(`SELECT ${COLUMNS} FROM users WHERE id = $1`, [id]);
    return rows[0] && toRecord(rows[0]);
  }

  async list(role?: Role): Promise<UserRecord[]> {
    const rows: UserRow[] = await this.db.query(
      `SELECT ${COLUMNS} FROM users WHERE ($1::text IS NULL OR role = $1) ORDER BY role, lower(email)`,
      [role ?? null],
    );
    return rows.map(toRecord);
  }

  /** Inserts a user; ConflictError when the e-mail (or the patient's login) already exists. */
  async create(user: NewUser): Promise<UserRecord> {
    try {
      const rows: UserRow[] = await this.db.query(
        `INSERT INTO users (email, password_hash, role, display_name, patient_id) VALUES ($1, $2, $3, $4, $5) RETURNING ${COLUMNS}`,
        [user.email, user.passwordHash, user.role, user.displayName, user.patientId ?? null],
      );
      return toRecord(rows[0]);
    } catch (error) {
      if (isUniqueViolation(error, 'users_email_key'))
        throw new ConflictError(`A user with e-mail ${user.email} already exists`);
      if (isUniqueViolation(error, 'users_patient_id_key')) throw new ConflictError('This patient already has a login');
      throw error;
    }
  }

  /**
   * Creates `user` only while the users table is empty (first start). Safe when several processes
   * start at once: the advisory lock serialises them, so exactly one admin is created.
   */
  async createIfNoUsers(user: NewUser): Promise<UserRecord | undefined> {
    return this.db.transaction(async (tx) => {
      await tx.query(`SELECT pg_advisory_xact_lock(hashtext('lantern:first-admin'))`);
      const rows: UserRow[] = await tx.query(
        `INSERT INTO users (email, password_hash, role, display_name, patient_id)
         SELECT $1, $2, $3, $4, $5 WHERE NOT EXISTS (SELECT 1 FROM users)
         RETURNING ${COLUMNS}`,
        [user.email, user.passwordHash, user.role, user.displayName, user.patientId ?? null],
      );
      return rows[0] && toRecord(rows[0]);
    });
  }
}
