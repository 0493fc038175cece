import { Injectable, Logger } from '@nestjs/common';
import { AuditRepository, type AuditEntry, type AuditQuery, type AuditRecord } from '@lantern/storage';
import type { Actor } from './auth.decorators.js';

export interface AuditEvent {
  /** Dotted verb: `patient.read`, `readings.read`, `device.rotate_secret`, `alert.acknowledge`… */
  readonly action: string;
  readonly patientId?: string;
  readonly resource?: string;
  readonly resourceId?: string;
  /** Never secrets, passwords or tokens. */
  readonly details?: Record<string, unknown>;
}

/**
 * Appends to the audit log every read of a patient's data and every change: who, what, which
 * patient, when (the database clock) and from where. Awaited by the caller, so a request whose
 * audit entry cannot be written fails instead of going unrecorded.
 */
@Injectable()
export class AuditService {
  private readonly logger = new Logger('Audit');

  constructor(private readonly audit: AuditRepository) {}

  async record(actor: Actor | undefined, event: AuditEvent): Promise<void> {
    await this.audit.append(entryOf(actor, event));
    this.logger.debug(`${event.action} patient=${event.patientId ?? '-'} by=${actor?.principal.userId ?? '-'}`);
  }

  /**
   * Records a read that spans several patients (a list across a care team) as one entry per
   * patient in the answer, written in one statement, so `GET /audit?patientId=` finds every list
   * that showed that patient. `details(patientId)` adds what concerns that patient (e.g. how many of
   * its items were returned). A list that showed no patient is still recorded, without a patient.
   */
  async recordPerPatient(
    actor: Actor | undefined,
    event: Omit<AuditEvent, 'patientId'>,
    patientIds: Iterable<string>,
    details: (patientId: string) => Record<string, unknown> = () => ({}),
  ): Promise<void> {
    const distinct = [...new Set([...patientIds].map((id) => id.toLowerCase()))];
    if (distinct.length === 0) return this.record(actor, event);
    await this.audit.appendMany(
      distinct.map((patientId) =>
        entryOf(actor, {
          ...event,
          patientId,
          details: { ...event.details, ...details(patientId), patients: distinct.length },
        }),
      ),
    );
    this.logger.debug(`${event.action} patients=${distinct.length} by=${actor?.principal.userId ?? '-'}`);
  }

  /** The log, newest first (admins only: the route checks the role). */
  list(query: AuditQuery): Promise<AuditRecord[]> {
    return this.audit.list(query);
  }
}

/** The stored entry of an event: the event and who did it, from where. */
function entryOf(actor: Actor | undefined, event: AuditEvent): AuditEntry {
  return { ...event, ...(actor && { actorId: actor.principal.userId, actorRole: actor.principal.role, ip: actor.ip }) };
}
