import { Injectable } from '@nestjs/common';
import { ConflictError, ForbiddenError, type AlertConfirmed } from '@lantern/domain';
import { AuditService, type Actor } from '@lantern/auth';
import { EscalationRepository, Transactions } from '@lantern/storage';
import { AlertService } from '../alerts/alert.service.js';

/**
 * A person's confirmation of an alert (contract §4.3, "I'm taking care of it"): the patient or a
 * caregiver who is shown the alert confirms it, which stops its escalation chain; the confirmation
 * and its audit entry are stored in one transaction. Clinicians acknowledge instead (AlertCommandService).
 */
@Injectable()
export class AlertConfirmationService {
  constructor(
    private readonly alerts: AlertService,
    private readonly escalations: EscalationRepository,
    private readonly audit: AuditService,
    private readonly transactions: Transactions,
  ) {}

  /**
   * "I'm taking care of it": the patient (their own alert) or a caregiver who is shown it confirms
   * an active alert, which stops its chain. Clinicians acknowledge instead (POST /alerts/:id/acknowledge).
   */
  async confirm(actor: Actor, alertId: string): Promise<AlertConfirmed> {
    const { role, userId } = actor.principal;
    if (role !== 'patient' && role !== 'caregiver')
      throw new ForbiddenError('Clinicians acknowledge alerts with POST /alerts/:id/acknowledge');
    // Visible means, for a caregiver, shared with the `alerts` scope and the alert's signal group (sharesAlert).
    const alert = await this.alerts.findVisible(actor, alertId);
    if (alert.state === 'resolved') throw new ConflictError('This alert is already resolved');
    const confirmation = await this.transactions.run(async () => {
      const stands = await this.escalations.confirm(alert, { id: userId, role });
      await this.audit.record(actor, {
        action: 'alert.confirm',
        patientId: alert.patientId,
        resource: 'alert',
        resourceId: alert.id,
      });
      return stands;
    });
    return { alertId: alert.id, confirmedAt: confirmation.at, by: confirmation.by };
  }
}
