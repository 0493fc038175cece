import { Injectable } from '@nestjs/common';
import { NotFoundError, type AlertResource } from '@lantern/domain';
import { toAlertResource } from '@lantern/alerting';
import { AuditService, grantShowsAlert, PatientAccessService, type Actor } from '@lantern/auth';
import { AlertRepository, type StoredAlert } from '@lantern/storage';
import type { AlertListQueryDto } from './alert.dto.js';

/**
 * Reading alerts (contract §3.4): clinicians, the patient and caregivers list them and read one,
 * each seeing only the alerts they may see (a caregiver: those shared with them). The commands on
 * an alert (acknowledge, resolve) are AlertCommandService's; it and the escalation routes find the
 * alert through findVisible here, so an alert the caller may not see answers alike everywhere.
 * Every read is audited (docs/security.md): a list across patients records one entry per patient it showed.
 */
@Injectable()
export class AlertService {
  constructor(
    private readonly access: PatientAccessService,
    private readonly alerts: AlertRepository,
    private readonly audit: AuditService,
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

  /** The alert if the caller may see it (a caregiver: if shared); otherwise NotFoundError, as for an unknown one. */
  async findVisible(actor: Actor, alertId: string): Promise<StoredAlert> {
    const found = await this.alerts.findById(alertId);
    // An alert of a patient the caller may not see (or a caregiver one not shared) is as unknown as a missing one.
    const grant = found && (await this.access.grantOf(actor.principal, found.patientId));
    if (!found || grant === undefined || !grantShowsAlert(grant, found)) throw new NotFoundError('Alert', alertId);
    return found;
  }
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
