import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { managerOf } from '../transactions.js';
import { returnedRows } from './sql-helpers.js';

export interface CareTeamMember {
  readonly clinicianId: string;
  readonly email: string;
  readonly displayName: string;
  readonly addedAt: Date;
}

interface MemberRow {
  clinician_id: string;
  email: string;
  display_name: string;
  added_at: Date;
}

/** Which clinicians care for which patients: the table the visibility rule reads. */
@Injectable()
export class CareTeamRepository {
  constructor(private readonly db: DataSource) {}

  async isMember(patientId: string, clinicianId: string): Promise<boolean> {
    const rows: unknown[] = await managerOf(this.db).query(
      `SELECT 1 FROM care_team_members WHERE patient_id = $1 AND clinician_id = $2`,
      [patientId, clinicianId],
    );
    return rows.length > 0;
  }

  /** Of these patient ids (UUIDs), those on the clinician's care team, lower-case. */
  async patientsAmong(clinicianId: string, patientIds: readonly string[]): Promise<string[]> {
    if (patientIds.length === 0) return [];
    const rows: { patient_id: string }[] = await managerOf(this.db).query(
      `SELECT patient_id::text FROM care_team_members WHERE clinician_id = $1 AND patient_id = ANY($2::uuid[])`,
      [clinicianId, patientIds],
    );
    return rows.map((r) => r.patient_id);
  }

  async members(patientId: string): Promise<CareTeamMember[]> {
    const rows: MemberRow[] = await managerOf(this.db).query(
      `SELECT m.clinician_id, u.email, u.display_name, m.added_at
         FROM care_team_members m JOIN users u ON u.id = m.clinician_id
        WHERE m.patient_id = $1
        ORDER BY m.added_at, u.email`,
      [patientId],
    );
    return rows.map((r) => ({
      clinicianId: r.clinician_id,
      email: r.email,
      displayName: r.display_name,
      addedAt: r.added_at,
    }));
  }

  /** Adds a member; false when already on the team (idempotent). */
  async add(patientId: string, clinicianId: string, addedBy: string): Promise<boolean> {
    const rows: unknown[] = await managerOf(this.db).query(
      `INSERT INTO care_team_members (patient_id, clinician_id, added_by) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING RETURNING 1`,
      [patientId, clinicianId, addedBy],
    );
    return rows.length > 0;
  }

  /** Removes a member; false when they were not on the team. */
  async remove(patientId: string, clinicianId: string): Promise<boolean> {
    const result: unknown = await managerOf(this.db).query(
      `DELETE FROM care_team_members WHERE patient_id = $1 AND clinician_id = $2 RETURNING 1`,
      [patientId, clinicianId],
    );
    return returnedRows(result).length > 0;
  }
}
