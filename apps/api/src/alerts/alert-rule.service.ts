import { Injectable } from '@nestjs/common';
import { BadRequestError, ForbiddenError, NotFoundError } from '@lantern/domain';
import { applyOverride, effectiveRules, findRule, validateRuleOverride, type EffectiveRule } from '@lantern/alerting';
import { AuditService, grantShowsAlert, PatientAccessService, type Actor } from '@lantern/auth';
import { AlertRuleOverrideRepository, Transactions } from '@lantern/storage';
import { ApiEventPublisher } from '../broker/api-event.publisher.js';

/**
 * A patient's alert rules (contract §3.4): the catalog merged with the patient's overrides, read by
 * whoever sees the patient's alerts, changed by the care team. A change is stored with its audit
 * entry, then announced (`{root}/internal/rules-changed`) so the ingest re-reads that patient's rules.
 */
@Injectable()
export class AlertRuleService {
  constructor(
    private readonly announcements: ApiEventPublisher,
    private readonly access: PatientAccessService,
    private readonly overrides: AlertRuleOverrideRepository,
    private readonly audit: AuditService,
    private readonly transactions: Transactions,
  ) {}

  async rules(actor: Actor, patientId: string): Promise<EffectiveRule[]> {
    // A caregiver with `alerts` sees the rules of the alerts they may see.
    const grant = await this.access.assertGrant(actor.principal, patientId, 'alerts');
    const id = patientId.toLowerCase();
    await this.audit.record(actor, { action: 'alert_rule.list', patientId: id, resource: 'alert_rule' });
    return effectiveRules(await this.overrides.listForPatient(id)).filter((rule) =>
      grantShowsAlert(grant, { metric: 'metric' in rule ? rule.metric : null }),
    );
  }

  /** Merges `body` into the patient's override of `ruleKey` (validated against the rule's schema). */
  async putRule(actor: Actor, patientId: string, ruleKey: string, body: unknown): Promise<EffectiveRule> {
    this.assertClinical(actor);
    await this.access.assertCanSeePatient(actor.principal, patientId);
    const rule = findRule(ruleKey);
    if (!rule) throw new NotFoundError('Alert rule', ruleKey);
    const checked = validateRuleOverride(ruleKey, body);
    if (!checked.ok) throw new BadRequestError(checked.problems.join('; '));
    const id = patientId.toLowerCase();
    const existing = (await this.overrides.listForPatient(id)).find((o) => o.ruleKey === ruleKey);
    const params = { ...(existing?.params ?? {}), ...checked.params };
    const enabled = checked.enabled ?? existing?.enabled ?? true;
    const stored = await this.transactions.run(async () => {
      const upserted = await this.overrides.upsert(id, ruleKey, enabled, params, actor.principal.userId);
      await this.audit.record(actor, {
        action: 'alert_rule.update',
        patientId: id,
        resource: 'alert_rule',
        resourceId: ruleKey,
        details: { ...(checked.enabled === undefined ? {} : { enabled: checked.enabled }), params: checked.params },
      });
      return upserted;
    });
    await this.announcements.announce('rulesChanged', { patientId: id });
    return applyOverride(rule, stored);
  }

  /** Reverts a rule to the catalog default for this patient. */
  async deleteRule(actor: Actor, patientId: string, ruleKey: string): Promise<EffectiveRule> {
    this.assertClinical(actor);
    await this.access.assertCanSeePatient(actor.principal, patientId);
    const rule = findRule(ruleKey);
    if (!rule) throw new NotFoundError('Alert rule', ruleKey);
    const id = patientId.toLowerCase();
    const removed = await this.transactions.run(async () => {
      const gone = await this.overrides.remove(id, ruleKey);
      await this.audit.record(actor, {
        action: 'alert_rule.revert',
        patientId: id,
        resource: 'alert_rule',
        resourceId: ruleKey,
        details: { removed: gone },
      });
      return gone;
    });
    if (removed) await this.announcements.announce('rulesChanged', { patientId: id });
    return applyOverride(rule, undefined);
  }

  private assertClinical(actor: Actor): void {
    if (actor.principal.role !== 'admin' && actor.principal.role !== 'clinician')
      throw new ForbiddenError('Only clinicians and admins change alert rules');
  }
}
