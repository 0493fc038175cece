import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import type { Role } from '@lantern/domain';
import { managerOf } from '../transactions.js';

export interface AuditEntry {
  readonly actorId?: string;
  readonly actorRole?: Role;
  /** Dotted verb: `patient.read`, `device.create`, `auth.login`… */
  readonly action: string;
  readonly patientId?: string;
  readonly resource?: string;
  readonly resourceId?: string;
  readonly ip?: string;
  readonly details?: Record<string, unknown>;
}

export interface AuditRecord extends AuditEntry {
  readonly id: string;
  readonly at: Date;
}

export interface AuditQuery {
  readonly patientId?: string;
  readonly actorId?: string;
  /** Only entries older than this id (paging backwards). */
  readonly beforeId?: string;
  readonly limit: number;
}

interface AuditRow {
  id: string;
  at: Date;
  actor_id: string | null;
  actor_role: Role | null;
  action: string;
  patient_id: string | null;
  resource: string | null;
  resource_id: string | null;
  ip: string | null;
  details: Record<string, unknown> | null;
}

/** An entry of a patient's access log: who (by name as they are now) did what with the patient's data. */
export interface AccessLogEntry {
  readonly id: string;
  readonly at: Date;
  readonly actor: { readonly id: string; readonly name: string; readonly role: Role };
  readonly action: string;
  readonly details?: Record<string, unknown>;
}

/** Append-only audit log: who did what to which patient's data, when, from where. */
@Injectable()
export class AuditRepository {
  constructor(private readonly db: DataSource) {}

  async append(entry: AuditEntry): Promise<void> {
    await this.appendMany([entry]);
  }

  /** Appends many entries in one statement (array parameters: no bind-parameter limit). */
  async appendMany(entries: readonly AuditEntry[]): Promise<void> {
    if (entries.length === 0) return;
    await managerOf(this.db).query(
      `INSERT INTO audit_log (actor_id, actor_role, action, patient_id, resource, resource_id, ip, details)
       SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::uuid[], $5::text[], $6::text[], $7::text[], $8::jsonb[])`,
      [
        entries.map((e) => e.actorId ?? null),
        entries.map((e) => e.actorRole ?? null),
        entries.map((e) => e.action),
        entries.map((e) => e.patientId ?? null),
        entries.map((e) => e.resource ?? null),
        entries.map((e) => e.resourceId ?? null),
        entries.map((e) => e.ip ?? null),
        entries.map((e) => (e.details === undefined ? null : JSON.stringify(e.details))),
      ],
    );
  }

  /**
   * What other people did with a patient's data, newest first: the entries about the patient made
   * by someone other than `ownUserId` (the patient's own login), each with the actor's current name
   * and role. Entries without an actor (system) are left out.
   */
  async accessLog(query: {
    readonly patientId: string;
    readonly ownUserId: string;
    readonly beforeId?: string;
    readonly limit: number;
  }): Promise<AccessLogEntry[]> {
    const rows: {
      id: string;
      at: Date;
      actor_id: string;
      actor_role: Role | null;
      name: string | null;
      role: Role | null;
      action: string;
      details: Record<string, unknown> | null;
    }[] = await managerOf(this.db).query(
      `SELECT a.id::text AS id, a.at, a.actor_id, a.actor_role, u.display_name AS name, u.role, a.action, a.details
         FROM audit_log a LEFT JOIN users u ON u.id = a.actor_id
        WHERE a.patient_id = $1 AND a.actor_id IS NOT NULL AND a.actor_id <> $2
          AND ($3::bigint IS NULL OR a.id < $3)
        ORDER BY a.id DESC
        LIMIT $4`,
      [query.patientId, query.ownUserId, query.beforeId ?? null, query.limit],
    );
    return rows.map((r) => ({
      id: r.id,
      at: r.at,
      // The role at the time of the entry: a clinician who later became an admin read as a clinician.
      actor: { id: r.actor_id, name: r.name ?? 'A former user', role: r.actor_role ?? r.role ?? 'admin' },
      action: r.action,
      ...(r.details !== null && { details: r.details }),
    }));
  }

  /** Newest first. */
  async list(query: AuditQuery): Promise<AuditRecord[]> {
    const rows: AuditRow[] = await managerOf(this.db).query(
      `SELECT id::text AS id, at, actor_id, actor_role, action, patient_id, resource, resource_id, ip, details
         FROM audit_log
        WHERE ($1::uuid IS NULL OR patient_id = $1)
          AND ($2::uuid IS NULL OR actor_id = $2)
          AND ($3::bigint IS NULL OR id < $3)
        ORDER BY audit_log.id DESC
        LIMIT $4`,
      [query.patientId ?? null, query.actorId ?? null, query.beforeId ?? null, query.limit],
    );
    return rows.map((r) => ({
      id: r.id,
      at: r.at,
      action: r.action,
      ...(r.actor_id !== null && { actorId: r.actor_id }),
      ...(r.actor_role !== null && { actorRole: r.actor_role }),
      ...(r.patient_id !== null && { patientId: r.patient_id }),
      ...(r.resource !== null && { resource: r.resource }),
      ...(r.resource_id !== null && { resourceId: r.resource_id }),
      ...(r.ip !== null && { ip: r.ip }),
      ...(r.details !== null && { details: r.details }),
    }));
  }
}
