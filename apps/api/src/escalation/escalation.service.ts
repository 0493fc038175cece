import { Injectable } from '@nestjs/common';
import {
  BadRequestError,
  DEFAULT_ESCALATION,
  NotFoundError,
  type AlertDeliveryResource,
  type AlertTimeline,
} from '@lantern/domain';
import { toAlertResource } from '@lantern/alerting';
import type { Actor } from '@lantern/auth';
import { AlertDeliveryRepository, EscalationRepository } from '@lantern/storage';
import { AlertService } from '../alerts/alert.service.js';
import { DeliveryReceipts } from './delivery-receipts.js';

/**
 * An alert's escalation as it went (contract §4.3): its deliveries and timeline (whoever may see
 * the alert), and receipts from recipients' devices. The patient's escalation order is
 * EscalationPolicyService's; a person's confirmation is AlertConfirmationService's.
 */
@Injectable()
export class EscalationService {
  constructor(
    private readonly escalations: EscalationRepository,
    private readonly deliveryLog: AlertDeliveryRepository,
    private readonly alerts: AlertService,
    private readonly receipts: DeliveryReceipts,
  ) {}

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

  /** A receipt from the recipient's device; an unknown delivery or a wrong token answers alike. */
  async receipt(deliveryId: string, token: unknown, event: unknown): Promise<void> {
    if (event !== 'delivered' && event !== 'read') throw new BadRequestError("event must be 'delivered' or 'read'");
    if (!this.receipts.verify(deliveryId, token) || !(await this.deliveryLog.receipt(deliveryId, event)))
      throw new NotFoundError('Delivery', deliveryId);
  }
}
