import { Injectable } from '@nestjs/common';
import { AuditService, type Actor } from '@lantern/auth';
import {
  BadRequestError,
  ForbiddenError,
  canonicalTimeZone,
  quietHoursProblem,
  type QuietHours,
} from '@lantern/domain';
import { PatientSettingsRepository, Transactions, type PatientSettings } from '@lantern/storage';

/**
 * A patient's own settings (today their quiet hours, docs/alerting.md). A change is one transaction
 * with its audit entry, as the patient's other changes (care circle) are. The ingest reads the
 * quiet hours each time it stores messages, so a change applies to the next message.
 */
@Injectable()
export class SettingsService {
  constructor(
    private readonly settings: PatientSettingsRepository,
    private readonly audit: AuditService,
    private readonly transactions: Transactions,
  ) {}

  get(actor: Actor): Promise<PatientSettings> {
    return this.settings.find(ownPatient(actor));
  }

  /** Sets or clears (null) the patient's quiet hours; a window that makes no sense is a 400 saying why. */
  async setQuietHours(actor: Actor, quietHours: QuietHours | null): Promise<PatientSettings> {
    const patientId = ownPatient(actor);
    let window: QuietHours | null = null;
    if (quietHours !== null) {
      const problem = quietHoursProblem(quietHours);
      if (problem !== undefined) throw new BadRequestError(problem);
      window = { start: quietHours.start, end: quietHours.end, timeZone: canonicalTimeZone(quietHours.timeZone)! };
    }
    return this.transactions.run(async () => {
      const saved = await this.settings.saveQuietHours(patientId, window);
      await this.audit.record(actor, {
        action: 'patient_settings.update',
        patientId,
        resource: 'patient_settings',
        resourceId: patientId,
        details: { quietHours: window },
      });
      return saved;
    });
  }
}

function ownPatient(actor: Actor): string {
  if (actor.principal.role !== 'patient' || actor.principal.patientId === undefined)
    throw new ForbiddenError('Only patients have patient settings');
  return actor.principal.patientId;
}
