import { Injectable } from '@nestjs/common';
import { NotFoundError } from '@lantern/domain';
import { CareTeamRepository, PatientRepository, type PatientRecord, type PatientScope } from '@lantern/storage';
import type { Principal, PatientVisibility } from './principal.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The patients `principal` may see, as a scope repositories turn into SQL. */
export function patientScopeOf(principal: Principal): PatientScope {
  switch (principal.role) {
    case 'admin':
      return { kind: 'all' };
    case 'clinician':
      return { kind: 'care-team', clinicianId: principal.userId };
    case 'patient':
      // A token for role patient always carries its patient id (AccessTokenService checks it).
      return { kind: 'self', patientId: principal.patientId ?? '00000000-0000-0000-0000-000000000000' };
  }
}

/**
 * The one visibility rule (contract §2, §3.1), used by every REST route and the socket gateway:
 * admins see every patient, clinicians the patients whose care team they are on, a patient user
 * only their own record. A patient one may not see is indistinguishable from one that does not exist.
 */
@Injectable()
export class PatientAccessService implements PatientVisibility {
  constructor(
    private readonly patients: PatientRepository,
    private readonly careTeams: CareTeamRepository,
  ) {}

  /** True only when the patient exists and `principal` may see it. */
  async canSeePatient(principal: Principal, patientId: string): Promise<boolean> {
    if (typeof patientId !== 'string' || !UUID.test(patientId)) return false;
    switch (principal.role) {
      case 'admin':
        return this.patients.exists(patientId);
      case 'clinician':
        return this.careTeams.isMember(patientId, principal.userId);
      case 'patient':
        return principal.patientId === patientId.toLowerCase();
    }
  }

  /** Throws NotFoundError (404) unless `principal` may see the patient: another team's patient looks unknown. */
  async assertCanSeePatient(principal: Principal, patientId: string): Promise<void> {
    if (!(await this.canSeePatient(principal, patientId))) throw new NotFoundError('Patient', patientId);
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

  /** The scope of {@link patientScopeOf}, for queries over many patients (alerts, devices). */
  scopeOf(principal: Principal): PatientScope {
    return patientScopeOf(principal);
  }
}
