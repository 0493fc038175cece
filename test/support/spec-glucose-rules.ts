import { SPEC_GLUCOSE_OVERRIDES } from '@lantern/alerting';
import type { DataSource } from 'typeorm';

/**
 * Gives a patient spec/alerting.md §4's glucose rule parameters (stored overrides, merged into any
 * the patient has): for end-to-end tests of the pipeline written against those parameters, before
 * the catalog's glucose defaults changed on the alert-quality harness's evidence (docs/alerting.md).
 */
export async function useSpecGlucoseRules(dataSource: DataSource, patientId: string): Promise<void> {
  for (const o of SPEC_GLUCOSE_OVERRIDES) {
    await dataSource.query(
      `INSERT INTO alert_rule_overrides (patient_id, rule_key, enabled, params) VALUES ($1, $2, $3, $4::jsonb)
       ON CONFLICT (patient_id, rule_key) DO UPDATE SET params = alert_rule_overrides.params || EXCLUDED.params`,
      [patientId, o.ruleKey, o.enabled, JSON.stringify(o.params)],
    );
  }
}

/** SQL that sets a patient's override of one rule, merged into what the patient already has ($1 patient, $2 rule, $3 params). */
export const UPSERT_OVERRIDE = `INSERT INTO alert_rule_overrides (patient_id, rule_key, enabled, params) VALUES ($1, $2, true, $3::jsonb)
  ON CONFLICT (patient_id, rule_key) DO UPDATE SET params = alert_rule_overrides.params || EXCLUDED.params, enabled = true, updated_at = now()`;
