import { Injectable } from '@nestjs/common';
import type { AlertCommandAction, AlertDecision } from '@lantern/alerting';
import { AuditService, type Actor } from '@lantern/auth';
import { AlertRepository, EscalationRepository, Transactions, type StoredAlert } from '@lantern/storage';

/** The row, the notifications stored with it and their threads, as AlertRepository.decideLocked answers. */
export type StoredAlertDecision = NonNullable<Awaited<ReturnType<AlertRepository['decideLocked']>>>;

/**
 * Stores a clinician's command on an alert as decided, in one transaction (AlertCommandService):
 * the decision is made on the row under a row lock, and the row, the patient's notification, the
 * confirmation that stops the escalation chain and the audit entry commit together or not at all.
 */
@Injectable()
export class AlertDecisionStore {
  constructor(
    private readonly transactions: Transactions,
    private readonly alerts: AlertRepository,
    private readonly escalations: EscalationRepository,
    private readonly audit: AuditService,
  ) {}

  /** Decides on the locked row with `decide` and stores the outcome; undefined when the alert is gone. */
  store(
    actor: Actor,
    alertId: string,
    action: AlertCommandAction,
    decide: (current: StoredAlert) => AlertDecision,
  ): Promise<StoredAlertDecision | undefined> {
    return this.transactions.run(async () => {
      const decided = await this.alerts.decideLocked(alertId, decide);
      if (decided) {
        // A clinician's acknowledgement or resolution is the person's confirmation that stops the chain.
        await this.escalations.confirm(decided.alert, {
          id: actor.principal.userId,
          role: actor.principal.role === 'admin' ? 'admin' : 'clinician',
        });
        await this.audit.record(actor, {
          action: action === 'acknowledge' ? 'alert.acknowledge' : 'alert.resolve',
          patientId: decided.alert.patientId,
          resource: 'alert',
          resourceId: decided.alert.id,
          details: { state: decided.alert.state },
        });
      }
      return decided;
    });
  }
}
