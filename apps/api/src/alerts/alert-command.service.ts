import { Injectable } from '@nestjs/common';
import { ConflictError, NotFoundError, toNotificationResource, type AlertResource } from '@lantern/domain';
import {
  AlertTransitionError,
  alertCommand,
  decideAlertCommand,
  toAlertResource,
  type AlertCommandAction,
  type AlertDecision,
} from '@lantern/alerting';
import type { Actor } from '@lantern/auth';
import { ApiEventPublisher } from '../broker/api-event.publisher.js';
import { AlertCommandContexts } from './alert-command-contexts.js';
import { AlertDecisionStore, type StoredAlertDecision } from './alert-decision-store.js';
import { AlertService } from './alert.service.js';

/**
 * Clinicians' commands on an alert (contract §3.4): acknowledgement and resolution are commands to
 * the alert lifecycle of libs/alerting: its decideAlertCommand — the function AlertEngine.command
 * runs — decides on the stored row under a row lock, and the row, the patient's notification (its
 * words from libs/alerting too) and the audit entry are stored as decided, in one transaction
 * (AlertDecisionStore). Then the change is announced: the alert event (and the notification) on
 * the broker, and `{root}/internal/alert-changed` so the ingest's in-memory state follows (a late
 * or lost announcement is made good when the ingest next writes the row: it finds it changed and
 * reconciles). A change is announced only once it and its audit entry committed.
 */
@Injectable()
export class AlertCommandService {
  constructor(
    private readonly visible: AlertService,
    private readonly contexts: AlertCommandContexts,
    private readonly decisions: AlertDecisionStore,
    private readonly announcements: ApiEventPublisher,
  ) {}

  acknowledge(actor: Actor, alertId: string, note: string | undefined): Promise<AlertResource> {
    return this.command(actor, alertId, 'acknowledge', note);
  }

  resolve(actor: Actor, alertId: string, note: string | undefined): Promise<AlertResource> {
    return this.command(actor, alertId, 'resolve', note);
  }

  private async command(
    actor: Actor,
    alertId: string,
    action: AlertCommandAction,
    note: string | undefined,
  ): Promise<AlertResource> {
    const visible = await this.visible.findVisible(actor, alertId);
    const context = await this.contexts.of(visible);
    const command = alertCommand({ action, alertId: visible.id, by: actor.principal.userId, at: Date.now(), note });
    let decision: AlertDecision | undefined;
    let saved: StoredAlertDecision | undefined;
    try {
      saved = await this.decisions.store(actor, visible.id, action, (current) => {
        decision = decideAlertCommand(current, command, context);
        return decision;
      });
    } catch (error) {
      if (error instanceof AlertTransitionError) throw new ConflictError(error.message);
      throw error;
    }
    if (!saved || !decision) throw new NotFoundError('Alert', alertId);
    await this.announce(saved, decision);
    return toAlertResource(saved.alert);
  }

  /**
   * Stored; now emitted, each transition once, and the notification only if stored now.
   * Best effort: the change is stored; a broker outage delays only the live view and the ingest's copy.
   */
  private async announce(saved: StoredAlertDecision, decision: AlertDecision): Promise<void> {
    const record = saved.alert;
    for (const t of decision.transitions)
      await this.announcements.emit('alerts', record.patientId, toAlertResource(t.alert));
    for (const n of decision.notifications) {
      if (!saved.notified.has(n.id)) continue;
      await this.announcements.emit(
        'notifications',
        record.patientId,
        toNotificationResource(n, saved.threads.get(n.id)),
      );
    }
    await this.announcements.announce('alertChanged', {
      alertId: record.id,
      transitions: decision.transitions.map((t) => t.kind),
    });
  }
}
