import { Injectable } from '@nestjs/common';
import {
  NotFoundError,
  sharedMetrics,
  sharesAlert,
  sharesMetric,
  METRIC_KEYS,
  type MetricKey,
  type SharingScope,
  distinctUuids,
  UUID_PATTERN,
} from '@lantern/domain';
import {
  CareCircleRepository,
  CareTeamRepository,
  PatientRepository,
  type PatientRecord,
  type PatientScope,
} from '@lantern/storage';
import type { Principal, PatientVisibility } from './principal.js';

/**
 * What a caller may see of a patient they can see at all: everything (admin, the care team, the
 * patient themselves), or what the patient shared with them (a caregiver, contract §4.2).
 */
export type PatientGrant =
  { readonly kind: 'full' } | { readonly kind: 'shared'; readonly scopes: ReadonlySet<SharingScope> };

const FULL: PatientGrant = { kind: 'full' };

/** Whether a grant includes `scope` (a full grant includes everything). */
export function grantIncludes(grant: PatientGrant, scope: SharingScope): boolean {
  return grant.kind === 'full' || grant.scopes.has(scope);
}

/** Whether a grant shows readings of `metric`. */
export function grantShowsMetric(grant: PatientGrant, metric: string): boolean {
  return grant.kind === 'full' || sharesMetric(grant.scopes, metric);
}

/** Whether a grant shows an alert (about `metric`, if any). */
export function grantShowsAlert(grant: PatientGrant, alert: { readonly metric?: string | null }): boolean {
  return grant.kind === 'full' || sharesAlert(grant.scopes, alert);
}

/** The metrics a grant shows, in catalog order. */
export function grantMetrics(grant: PatientGrant): MetricKey[] {
  if (grant.kind === 'full') return [...METRIC_KEYS];
  const shared = new Set(sharedMetrics(grant.scopes));
  return METRIC_KEYS.filter((m) => shared.has(m));
}

/** The patients `principal` may see, as a scope repositories turn into SQL. */
export function patientScopeOf(principal: Principal, requires?: SharingScope): PatientScope {
  switch (principal.role) {
    case 'admin':
      return { kind: 'all' };
    case 'clinician':
      return { kind: 'care-team', clinicianId: principal.userId };
    case 'patient':
      // A token for role patient always carries its patient id (AccessTokenService checks it).
      return { kind: 'self', patientId: principal.patientId ?? '00000000-0000-0000-0000-000000000000' };
    case 'caregiver':
      return { kind: 'shared', caregiverId: principal.userId, ...(requires !== undefined && { requires }) };
  }
}

/**
 * The one visibility rule (contract §2, §3.1, §4.2), used by every REST route, the socket gateway
 * and FHIR: admins see every patient, clinicians the patients whose care team they are on, a patient
 * user only their own record, a caregiver the patients sharing with them — and of those only the
 * shared scopes. A patient one may not see is indistinguishable from one that does not exist, and so
 * is a shared patient's data outside the shared scopes.
 */
@Injectable()
export class PatientAccessService implements PatientVisibility {
  constructor(
    private readonly patients: PatientRepository,
    private readonly careTeams: CareTeamRepository,
    private readonly careCircle: CareCircleRepository,
  ) {}

  /** What `principal` may see of the patient; undefined when the patient is unknown or not visible. */
  async grantOf(principal: Principal, patientId: string): Promise<PatientGrant | undefined> {
    if (typeof patientId !== 'string' || !UUID_PATTERN.test(patientId)) return undefined;
    switch (principal.role) {
      case 'admin':
        return (await this.patients.exists(patientId)) ? FULL : undefined;
      case 'clinician':
        return (await this.careTeams.isMember(patientId, principal.userId)) ? FULL : undefined;
      case 'patient':
        return principal.patientId === patientId.toLowerCase() ? FULL : undefined;
      case 'caregiver': {
        const scopes = await this.careCircle.scopesOf(principal.userId, patientId.toLowerCase());
        return scopes === undefined ? undefined : { kind: 'shared', scopes: new Set(scopes) };
      }
    }
  }

  /** True only when the patient exists and `principal` may see it (a caregiver: shares anything with them). */
  async canSeePatient(principal: Principal, patientId: string): Promise<boolean> {
    return (await this.grantOf(principal, patientId)) !== undefined;
  }

  /**
   * Of `patientIds`, those `principal` may see ({@link canSeePatient} for each), lower-case, in one
   * query at most: for re-checking many subscriptions at once.
   */
  async visibleAmong(principal: Principal, patientIds: readonly string[]): Promise<Set<string>> {
    const ids = distinctUuids(patientIds);
    if (ids.length === 0) return new Set();
    switch (principal.role) {
      case 'admin':
        return new Set(await this.patients.existingAmong(ids));
      case 'clinician':
        return new Set(await this.careTeams.patientsAmong(principal.userId, ids));
      case 'patient':
        return new Set(ids.filter((id) => id === principal.patientId));
      case 'caregiver': {
        const shares = await this.careCircle.scopesOfMany(
          ids.map((patientId) => ({ caregiverId: principal.userId, patientId })),
        );
        return new Set(ids.filter((id) => shares.has(`${principal.userId.toLowerCase()}:${id}`)));
      }
    }
  }

  /** Throws NotFoundError (404) unless `principal` may see the patient: another team's patient looks unknown. */
  async assertCanSeePatient(principal: Principal, patientId: string): Promise<void> {
    await this.assertGrant(principal, patientId);
  }

  /**
   * The caller's grant on the patient; NotFoundError when the patient is not visible, or — when
   * `requires` is given — when the grant does not include that scope (a caregiver asking for what
   * was not shared reads it as an unknown patient).
   */
  async assertGrant(principal: Principal, patientId: string, requires?: SharingScope): Promise<PatientGrant> {
    const grant = await this.grantOf(principal, patientId);
    if (grant === undefined || (requires !== undefined && !grantIncludes(grant, requires)))
      throw new NotFoundError('Patient', patientId);
    return grant;
  }

  /** The patient record, or NotFoundError when unknown or not visible. */
  async getVisiblePatient(principal: Principal, patientId: string): Promise<PatientRecord> {
    await this.assertCanSeePatient(principal, patientId);
    const patient = await this.patients.findById(patientId);
    if (patient === undefined) throw new NotFoundError('Patient', patientId);
    return patient;
  }

  /** Every patient `principal` may see, by name. */
  listVisiblePatients(principal: Principal): Promise<PatientRecord[]> {
    return this.patients.list(patientScopeOf(principal));
  }

  /**
   * The scope of {@link patientScopeOf}, for queries over many patients (alerts, devices); for a
   * caregiver only the patients whose share includes `requires`.
   */
  scopeOf(principal: Principal, requires?: SharingScope): PatientScope {
    return patientScopeOf(principal, requires);
  }
}
