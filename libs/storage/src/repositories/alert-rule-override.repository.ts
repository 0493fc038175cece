import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { managerOf } from '../transactions.js';
import { returnedRows } from './sql-helpers.js';

/** One patient's override of one catalog rule (only the overridden parameters are stored). */
export interface StoredRuleOverride {
  readonly patientId: string;
  readonly ruleKey: string;
  readonly enabled: boolean;
  readonly params: Record<string, unknown>;
  readonly updatedAt: number;
  readonly updatedBy: string | null;
}

interface OverrideRow {
  patient_id: string;
  rule_key: string;
  enabled: boolean;
  params: Record<string, unknown>;
  updated_at: Date;
  updated_by: string | null;
}

const COLUMNS = 'patient_id::text, rule_key, enabled, params, updated_at, updated_by::text';

function toStored(row: OverrideRow): StoredRuleOverride {
  return {
    patientId: row.patient_id,
    ruleKey: row.rule_key,
    enabled: row.enabled,
    params: row.params,
    updatedAt: row.updated_at.getTime(),
    updatedBy: row.updated_by,
  };
}

/** The `alert_rule_overrides` table: personalised alert rules. */
@Injectable()
export class AlertRuleOverrideRepository {
  constructor(private readonly db: DataSource) {}

  async listForPatient(patientId: string): Promise<StoredRuleOverride[]> {
    const rows: OverrideRow[] = await managerOf(this.db).query(
      `SELECT ${COLUMNS} FROM alert_rule_overrides WHERE patient_id = $1 ORDER BY rule_key`,
      [patientId],
    );
    return rows.map(toStored);
  }

  /** Every override of every patient (the ingest's state at start). */
  async listAll(): Promise<StoredRuleOverride[]> {
    const rows: OverrideRow[] = await managerOf(this.db).query(
      `SELECT ${COLUMNS} FROM alert_rule_overrides ORDER BY patient_id, rule_key`,
    );
    return rows.map(toStored);
  }

  /** Creates or replaces one override. */
  async upsert(
    patientId: string,
    ruleKey: string,
    enabled: boolean,
    params: Record<string, unknown>,
    updatedBy: string | null,
  ): Promise<StoredRuleOverride> {
    const rows: OverrideRow[] = await managerOf(this.db).query(
      `INSERT INTO alert_rule_overrides (patient_id, rule_key, enabled, params, updated_by) VALUES ($1, $2, $3, $4::jsonb, $5)
       ON CONFLICT (patient_id, rule_key) DO UPDATE SET enabled = EXCLUDED.enabled, params = EXCLUDED.params,
         updated_by = EXCLUDED.updated_by, updated_at = now()
       RETURNING ${COLUMNS}`,
      [patientId, ruleKey, enabled, JSON.stringify(params), updatedBy],
    );
    return toStored(rows[0]);
  }

  /** Removes one override (back to the default); false when there was none. */
  async remove(patientId: string, ruleKey: string): Promise<boolean> {
    const rows = returnedRows<unknown>(
      await managerOf(this.db).query(
        `DELETE FROM alert_rule_overrides WHERE patient_id = $1 AND rule_key = $2 RETURNING 1`,
        [patientId, ruleKey],
      ),
    );
    return rows.length > 0;
  }
}
