import { Injectable } from '@nestjs/common';
import {
  BadRequestError,
  DEFAULT_ESCALATION,
  ForbiddenError,
  parseEscalationPolicy,
  type EscalationPolicy,
} from '@lantern/domain';
import { AuditService, PatientAccessService, type Actor } from '@lantern/auth';
import { EscalationRepository, Transactions } from '@lantern/storage';

/**
 * A patient's escalation order (contract §4.3): read by the care team and the patient, changed or
 * reverted to the standard order by the care team, each change stored with its audit entry in one
 * transaction.
 */
@Injectable()
export class EscalationPolicyService {
  constructor(
    private readonly escalations: EscalationRepository,
    private readonly access: PatientAccessService,
    private readonly audit: AuditService,
    private readonly transactions: Transactions,
  ) {}

  async policy(actor: Actor, patientId: string): Promise<EscalationPolicy> {
    const grant = await this.access.assertGrant(actor.principal, patientId);
    if (grant.kind !== 'full') throw new ForbiddenError('Only the care team and the patient read the escalation order');
    return (await this.escalations.policyOf(patientId)) ?? DEFAULT_ESCALATION;
  }

  async putPolicy(actor: Actor, patientId: string, body: unknown): Promise<EscalationPolicy> {
    await this.assertCareTeam(actor, patientId);
    const parsed = parseEscalationPolicy(body);
    if ('errors' in parsed) throw new BadRequestError(parsed.errors.join('; '));
    await this.transactions.run(async () => {
      await this.escalations.putPolicy(patientId, parsed.policy, actor.principal.userId);
      await this.audit.record(actor, {
        action: 'escalation.update',
        patientId,
        resource: 'escalation',
        resourceId: patientId,
      });
    });
    return parsed.policy;
  }

  async deletePolicy(actor: Actor, patientId: string): Promise<EscalationPolicy> {
    await this.assertCareTeam(actor, patientId);
    await this.transactions.run(async () => {
      if (await this.escalations.deletePolicy(patientId))
        await this.audit.record(actor, {
          action: 'escalation.revert',
          patientId,
          resource: 'escalation',
          resourceId: patientId,
        });
    });
    return DEFAULT_ESCALATION;
  }

  private async assertCareTeam(actor: Actor, patientId: string): Promise<void> {
    if (actor.principal.role !== 'admin' && actor.principal.role !== 'clinician')
      throw new ForbiddenError('Only the care team changes the escalation order');
    await this.access.assertCanSeePatient(actor.principal, patientId);
  }
}
