import { Injectable } from '@nestjs/common';
import {
  BadRequestError,
  ConflictError,
  DEFAULT_ESCALATION,
  ForbiddenError,
  NotFoundError,
  parseEscalationPolicy,
  type AlertDeliveryResource,
  type AlertTimeline,
  type AlertConfirmed,
  type EscalationPolicy,
} from '@lantern/domain';
import { toAlertResource } from '@lantern/alerting';
import { AuditService, PatientAccessService, type Actor } from '@lantern/auth';
import { AlertDeliveryRepository, EscalationRepository, Transactions } from '@lantern/storage';
import { AlertService } from '../alerts/alert.service.js';
import { DeliveryReceipts } from './delivery-receipts.js';

/**
 * The escalation routes (contract §4.3): a patient's policy (read by the care team and the patient,
 * changed by the care team), an alert's deliveries and timeline (whoever may see the alert), a
 * person's confirmation ("I'm taking care of it"), and receipts from recipients' devices.
 */
@Injectable()
export class EscalationService {
  constructor(
    private readonly escalations: EscalationRepository,
    private readonly deliveryLog: AlertDeliveryRepository,
    private readonly alerts: AlertService,
    private readonly access: PatientAccessService,
    private readonly audit: AuditService,
    private readonly transactions: Transactions,
    private readonly receipts: DeliveryReceipts,
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

  async deliveries(actor: Actor, alertId: string): Promise<AlertDeliveryResource[]> {
    const alert = await this.alerts.findVisible(actor, alertId);
    return this.deliveryLog.deliveriesOf(alert.id);
  }

  async timeline(actor: Actor, alertId: string): Promise<AlertTimeline> {
    const alert = await this.alerts.findVisible(actor, alertId);
    const [deliveries, confirmation, times, policy] = await Promise.all([
      this.deliveryLog.deliveriesOf(alert.id),
      this.escalations.confirmationOf(alert.id),
      this.escalations.tierTimesOf(alert.id),
      this.escalations.policyOf(alert.patientId),
    ]);
    const tiers = (policy ?? DEFAULT_ESCALATION)[alert.priority].map((tier, index) => ({
      index,
      notify: tier.notify,
      afterSec: tier.afterSec,
      dueAt: new Date(alert.raisedAt + tier.afterSec * 1000).toISOString(),
      ...(times[index] === undefined ? {} : { reachedAt: times[index] }),
    }));
    return { alert: toAlertResource(alert), deliveries, confirmation: confirmation ?? null, tiers };
  }

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

  /** A receipt from the recipient's device; an unknown delivery or a wrong token answers alike. */
  async receipt(deliveryId: string, token: unknown, event: unknown): Promise<void> {
    if (event !== 'delivered' && event !== 'read') throw new BadRequestError("event must be 'delivered' or 'read'");
    if (!this.receipts.verify(deliveryId, token) || !(await this.deliveryLog.receipt(deliveryId, event)))
      throw new NotFoundError('Delivery', deliveryId);
  }

  private async assertCareTeam(actor: Actor, patientId: string): Promise<void> {
    if (actor.principal.role !== 'admin' && actor.principal.role !== 'clinician')
      throw new ForbiddenError('Only the care team changes the escalation order');
    await this.access.assertCanSeePatient(actor.principal, patientId);
  }
}
