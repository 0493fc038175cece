import { Injectable } from '@nestjs/common';
import { ConflictError, NotFoundError, toNotificationResource, type AlertResource } from '@lantern/domain';
import {
  AlertTransitionError,
  alertCommand,
  applyOverride,
  decideAlertCommand,
  findRule,
  toAlertResource,
  type AlertCommandAction,
  type AlertCommandContext,
  type AlertDecision,
} from '@lantern/alerting';
import { AuditService, grantShowsAlert, PatientAccessService, type Actor } from '@lantern/auth';
import {
  AlertRepository,
  AlertRuleOverrideRepository,
  DeviceRepository,
  EscalationRepository,
  Transactions,
  idFromCause,
  type StoredAlert,
} from '@lantern/storage';
import { ApiEventPublisher } from '../broker/api-event.publisher.js';
import type { AlertListQueryDto } from './alert.dto.js';

/**
 * Alerts for clinicians (contract §3.4), the patient and caregivers (who read them). Acknowledgement and resolution are commands to the alert lifecycle of libs/alerting: its
 * decideAlertCommand — the function AlertEngine.command runs — decides on the stored row under a
 * row lock, and the row, the patient's notification (its words from libs/alerting too) and the
 * audit entry are stored as decided, in one transaction. Then the change is announced: the alert
 * event (and the notification) on the broker, and `{root}/internal/alert-changed` so the ingest's
 * in-memory state follows (a late or lost announcement is made good when the ingest next writes the
 * row: it finds it changed and reconciles).
 * Every read and change is audited (docs/security.md): a change in one transaction with its entry,
 * announced only once both committed; a list across patients records one entry per patient it showed.
 */
@Injectable()
export class AlertService {
  constructor(
    private readonly announcements: ApiEventPublisher,
    private readonly access: PatientAccessService,
    private readonly alerts: AlertRepository,
    private readonly overrides: AlertRuleOverrideRepository,
    private readonly devices: DeviceRepository,
    private readonly audit: AuditService,
    private readonly transactions: Transactions,
    private readonly escalations: EscalationRepository,
  ) {}

  async list(
    actor: Actor,
    query: AlertListQueryDto,
  ): Promise<{ items: AlertResource[]; total: number; limit: number; offset: number }> {
    // A caregiver sees alerts only of patients who shared `alerts` (and of those, about shared signals).
    if (query.patientId !== undefined) await this.access.assertGrant(actor.principal, query.patientId, 'alerts');
    const limit = query.limit ?? 100;
    const offset = query.offset ?? 0;
    const page = await this.alerts.list({
      scope: this.access.scopeOf(actor.principal, 'alerts'),
      ...(query.patientId === undefined ? {} : { patientId: query.patientId.toLowerCase() }),
      ...(query.state === undefined ? {} : { state: query.state }),
      ...(query.priority === undefined ? {} : { priority: query.priority }),
      ...(query.from === undefined ? {} : { from: Date.parse(query.from) }),
      ...(query.to === undefined ? {} : { to: Date.parse(query.to) }),
      limit,
      offset,
    });
    const items = page.items.map((a) => toAlertResource(a));
    const event = {
      action: 'alert.list',
      resource: 'alert',
      details: { total: page.total, ...filtersOf(query), limit, offset },
    };
    if (query.patientId !== undefined)
      await this.audit.record(actor, {
        ...event,
        patientId: query.patientId.toLowerCase(),
        details: { ...event.details, count: items.length },
      });
    else {
      const perPatient = countBy(items.map((a) => a.patientId));
      await this.audit.recordPerPatient(actor, event, perPatient.keys(), (id) => ({ count: perPatient.get(id) }));
    }
    return { items, total: page.total, limit, offset };
  }

  /** One alert; an alert of a patient the caller may not see answers like an unknown one. */
  async get(actor: Actor, alertId: string): Promise<AlertResource> {
    const found = await this.findVisible(actor, alertId);
    await this.audit.record(actor, {
      action: 'alert.read',
      patientId: found.patientId,
      resource: 'alert',
      resourceId: found.id,
    });
    return toAlertResource(found);
  }

  acknowledge(actor: Actor, alertId: string, note: string | undefined): Promise<AlertResource> {
    return this.command(actor, alertId, 'acknowledge', note);
  }

  resolve(actor: Actor, alertId: string, note: string | undefined): Promise<AlertResource> {
    return this.command(actor, alertId, 'resolve', note);
  }

  /** The alert if the caller may see it (a caregiver: if shared); otherwise NotFoundError, as for an unknown one. */
  async findVisible(actor: Actor, alertId: string): Promise<StoredAlert> {
    const found = await this.alerts.findById(alertId);
    // An alert of a patient the caller may not see (or a caregiver one not shared) is as unknown as a missing one.
    const grant = found && (await this.access.grantOf(actor.principal, found.patientId));
    if (!found || grant === undefined || !grantShowsAlert(grant, found)) throw new NotFoundError('Alert', alertId);
    return found;
  }

  private async command(
    actor: Actor,
    alertId: string,
    action: AlertCommandAction,
    note: string | undefined,
  ): Promise<AlertResource> {
    const visible = await this.findVisible(actor, alertId);
    const context = await this.commandContext(visible);
    const command = alertCommand({ action, alertId: visible.id, by: actor.principal.userId, at: Date.now(), note });
    let decision: AlertDecision | undefined;
    let saved: Awaited<ReturnType<AlertRepository['decideLocked']>>;
    try {
      saved = await this.transactions.run(async () => {
        const decided = await this.alerts.decideLocked(visible.id, (current) => {
          decision = decideAlertCommand(current, command, context);
          return decision;
        });
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
    } catch (error) {
      if (error instanceof AlertTransitionError) throw new ConflictError(error.message);
      throw error;
    }
    if (!saved || !decision) throw new NotFoundError('Alert', alertId);
    const record = saved.alert;
    // Stored; now emitted, each transition once, and the notification only if stored now.
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
    return toAlertResource(record);
  }

  /** What the command needs besides the row: the rule as it applies to the patient, the device's type, ids by cause. */
  private async commandContext(alert: StoredAlert): Promise<AlertCommandContext> {
    const rule = findRule(alert.rule);
    const override = rule && (await this.overrides.listForPatient(alert.patientId)).find((o) => o.ruleKey === rule.key);
    const device =
      alert.deviceId === null ? undefined : await this.devices.findById(alert.deviceId).catch(() => undefined);
    return {
      rule: rule && applyOverride(rule, override),
      deviceType: device?.type ?? null,
      newId: idFromCause,
    };
  }

  /** Best effort: the change is stored; a broker outage delays only the live view and the ingest's copy. */
}

/** The list filters a caller used, for the audit entry. */
function filtersOf(query: AlertListQueryDto): Record<string, string> {
  const { state, priority, from, to } = query;
  return {
    ...(state === undefined ? {} : { state }),
    ...(priority === undefined ? {} : { priority }),
    ...(from === undefined ? {} : { from }),
    ...(to === undefined ? {} : { to }),
  };
}

function countBy(keys: readonly string[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const key of keys) counts.set(key, (counts.get(key) ?? 0) + 1);
  return counts;
}
