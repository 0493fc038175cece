import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import type { QuietHours } from '@lantern/domain';
import { managerOf } from '../transactions.js';

/** A patient's own settings as stored (times 'HH:MM'). */
export interface PatientSettings {
  readonly patientId: string;
  /** Null: no quiet hours. */
  readonly quietHours: QuietHours | null;
  /** Epoch ms; null when the patient never saved settings. */
  readonly updatedAt: number | null;
}

interface SettingsRow {
  patient_id: string;
  quiet_start: string | null;
  quiet_end: string | null;
  time_zone: string | null;
  updated_at: Date;
}

/** PostgreSQL returns a `time` as 'HH:MM:SS'; what patients enter and see is 'HH:MM' (seconds kept when set). */
const hhmm = (time: string): string => (time.endsWith(':00') && time.length === 8 ? time.slice(0, 5) : time);

function quietHoursOf(row: SettingsRow): QuietHours | null {
  if (row.quiet_start === null || row.quiet_end === null || row.time_zone === null) return null;
  return { start: hhmm(row.quiet_start), end: hhmm(row.quiet_end), timeZone: row.time_zone };
}

/** The `patient_settings` table: one row per patient who saved settings (absent: the defaults, no quiet hours). */
@Injectable()
export class PatientSettingsRepository {
  constructor(private readonly db: DataSource) {}

  /** The patient's settings, the defaults when they never saved any. */
  async find(patientId: string): Promise<PatientSettings> {
    const rows: SettingsRow[] = await managerOf(this.db).query(
      `SELECT patient_id::text, quiet_start::text, quiet_end::text, time_zone, updated_at
         FROM patient_settings WHERE patient_id = $1`,
      [patientId],
    );
    const row = rows[0];
    return row === undefined
      ? { patientId, quietHours: null, updatedAt: null }
      : { patientId, quietHours: quietHoursOf(row), updatedAt: row.updated_at.getTime() };
  }

  /** Sets (or clears, with null) the patient's quiet hours; validated by the caller. */
  async saveQuietHours(patientId: string, quietHours: QuietHours | null): Promise<PatientSettings> {
    const rows: SettingsRow[] = await managerOf(this.db).query(
      `INSERT INTO patient_settings (patient_id, quiet_start, quiet_end, time_zone, updated_at)
       VALUES ($1, $2::time, $3::time, $4, now())
       ON CONFLICT (patient_id) DO UPDATE
         SET quiet_start = EXCLUDED.quiet_start, quiet_end = EXCLUDED.quiet_end, time_zone = EXCLUDED.time_zone,
             updated_at = EXCLUDED.updated_at
       RETURNING patient_id::text, quiet_start::text, quiet_end::text, time_zone, updated_at`,
      [patientId, quietHours?.start ?? null, quietHours?.end ?? null, quietHours?.timeZone ?? null],
    );
    return { patientId, quietHours: quietHoursOf(rows[0]), updatedAt: rows[0].updated_at.getTime() };
  }

  /** The quiet hours of those of `patientIds` who have any, in one query (the ingest, before storing messages). */
  async quietHoursOf(patientIds: Iterable<string>): Promise<Map<string, QuietHours>> {
    const ids = [...new Set(patientIds)];
    if (ids.length === 0) return new Map();
    const rows: SettingsRow[] = await managerOf(this.db).query(
      `SELECT patient_id::text, quiet_start::text, quiet_end::text, time_zone, updated_at
         FROM patient_settings WHERE patient_id = ANY ($1::uuid[]) AND quiet_start IS NOT NULL`,
      [ids],
    );
    const found = new Map<string, QuietHours>();
    for (const row of rows) {
      const quiet = quietHoursOf(row);
      if (quiet !== null) found.set(row.patient_id, quiet);
    }
    return found;
  }
}
