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
    const entry: AuditEntry = {
      ...event,
      ...(actor && { actorId: actor.principal.userId, actorRole: actor.principal.role, ip: actor.ip }),
    };
    await this.audit.append(entry);
    this.logger.debug(`${event.action} patient=${event.patientId ?? '-'} by=${actor?.principal.userId ?? '-'}`);
  }

  /** The log, newest first (admins only: the route checks the role). */
  list(query: AuditQuery): Promise<AuditRecord[]> {
    return this.audit.list(query);
  }
}
