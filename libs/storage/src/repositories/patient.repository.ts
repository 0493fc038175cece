import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { ConflictError, type SharingScope } from '@lantern/domain';
import { inTransaction, managerOf } from '../transactions.js';
import { isUniqueViolation } from './sql-helpers.js';

export interface PatientRecord {
  readonly id: string;
  readonly displayName: string;
  /** ISO date (YYYY-MM-DD). */
  readonly dateOfBirth?: string;
  /** Medical record number, unique when given. */
  readonly mrn?: string;
  readonly createdAt: Date;
}

export interface NewPatient {
  readonly displayName: string;
  readonly dateOfBirth?: string;
  readonly mrn?: string;
  readonly createdBy: string;
}

/**
 * Which patients a query may return, as decided by the one visibility rule (PatientAccessService):
 * every patient, a clinician's care team, one patient's own record, or the patients who share with
 * a caregiver (those whose live share includes `requires`, when given).
 */
export type PatientScope =
  | { readonly kind: 'all' }
  | { readonly kind: 'care-team'; readonly clinicianId: string }
  | { readonly kind: 'self'; readonly patientId: string }
  | { readonly kind: 'shared'; readonly caregiverId: string; readonly requires?: SharingScope };

interface PatientRow {
  id: string;
  display_name: string;
  date_of_birth: string | null;
  mrn: string | null;
  created_at: Date;
}

const COLUMNS = `p.id, p.display_name, to_char(p.date_of_birth, 'YYYY-MM-DD') AS date_of_birth, p.mrn, p.created_at`;

function toRecord(row: PatientRow): PatientRecord {
  return {
    id: row.id,
    displayName: row.display_name,
    ...(row.date_of_birth !== null && { dateOfBirth: row.date_of_birth }),
    ...(row.mrn !== null && { mrn: row.mrn }),
    createdAt: row.created_at,
  };
}

/**
 * SQL condition restricting `alias.patient_id`-like column `column` to `scope`, with its parameter
 * numbered `$n`. Other repositories (readings, alerts) use it to filter by visibility in SQL.
 */
export function patientScopeCondition(
  scope: PatientScope,
  column: string,
  n: number,
): { sql: string; params: unknown[] } {
  switch (scope.kind) {
    case 'all':
      return { sql: 'TRUE', params: [] };
    case 'care-team':
      return {
        sql: `${column} IN (SELECT patient_id FROM care_team_members WHERE clinician_id = $${n})`,
        params: [scope.clinicianId],
      };
    case 'self':
      return { sql: `${column} = $${n}`, params: [scope.patientId] };
    case 'shared':
      return {
        sql: `${column} IN (SELECT patient_id FROM caregiver_shares WHERE caregiver_id = $${n} AND revoked_at IS NULL
                              AND ($${n + 1}::text IS NULL OR $${n + 1} = ANY (scopes)))`,
        params: [scope.caregiverId, scope.requires ?? null],
      };
  }
}

/**
 * A patient with this MRN exists already. The message names neither that patient nor its id: the
 * caller may not be allowed to see it. `existingPatientId` is for the service to decide what the
 * caller may be told and to audit the attempt.
 */
export class DuplicateMrnError extends ConflictError {
  constructor(readonly existingPatientId: string | undefined) {
    super('A patient with this MRN already exists');
    this.name = 'DuplicateMrnError';
  }
}

@Injectable()
export class PatientRepository {
  constructor(private readonly db: DataSource) {}

  async findById(id: string): Promise<PatientRecord | undefined> {
    const rows: PatientRow[] = await managerOf(this.db).query(`SELECT ${COLUMNS} FROM patients p WHERE p.id = $1`, [
      id,
    ]);
    return rows[0] && toRecord(rows[0]);
  }

  async exists(id: string): Promise<boolean> {
    const rows: unknown[] = await managerOf(this.db).query(`SELECT 1 FROM patients WHERE id = $1`, [id]);
    return rows.length > 0;
  }

  /** Of these ids (UUIDs), those of existing patients, lower-case. */
  async existingAmong(ids: readonly string[]): Promise<string[]> {
    if (ids.length === 0) return [];
    const rows: { id: string }[] = await managerOf(this.db).query(
      `SELECT id::text FROM patients WHERE id = ANY($1::uuid[])`,
      [ids],
    );
    return rows.map((r) => r.id);
  }

  /** Patients within `scope`, by name. */
  async list(scope: PatientScope): Promise<PatientRecord[]> {
    const where = patientScopeCondition(scope, 'p.id', 1);
    const rows: PatientRow[] = await managerOf(this.db).query(
      `SELECT ${COLUMNS} FROM patients p WHERE ${where.sql} ORDER BY p.display_name, p.id`,
      where.params,
    );
    return rows.map(toRecord);
  }

  /**
   * Inserts a patient and, when `careTeamClinicianId` is given, puts that clinician on its care
   * team in the same transaction (a clinician who creates a patient must be able to see it).
   */
  async create(patient: NewPatient, careTeamClinicianId?: string): Promise<PatientRecord> {
    try {
      return await inTransaction(this.db, async (tx) => {
        const rows: PatientRow[] = await tx.query(
          `INSERT INTO patients AS p (display_name, date_of_birth, mrn, created_by) VALUES ($1, $2, $3, $4) RETURNING ${COLUMNS}`,
          [patient.displayName, patient.dateOfBirth ?? null, patient.mrn ?? null, patient.createdBy],
        );
        const created = toRecord(rows[0]);
        if (careTeamClinicianId !== undefined) {
          await tx.query(`INSERT INTO care_team_members (patient_id, clinician_id, added_by) VALUES ($1, $2, $2)`, [
            created.id,
            careTeamClinicianId,
          ]);
        }
        return created;
      });
    } catch (error) {
      if (isUniqueViolation(error, 'patients_mrn_key') && patient.mrn !== undefined) {
        const rows: { id: string }[] = await managerOf(this.db).query(
          `SELECT id::text AS id FROM patients WHERE mrn = $1`,
          [patient.mrn],
        );
        // Gone again (deleted between the two statements) reads as the same conflict: the caller may retry.
        throw new DuplicateMrnError(rows[0]?.id);
      }
      throw error;
    }
  }
}
