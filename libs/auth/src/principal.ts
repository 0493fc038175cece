import type { Role } from '@lantern/domain';

/** Who is calling, as proven by a verified access token. */
export interface Principal {
  readonly userId: string;
  readonly role: Role;
  readonly email: string;
  /** Set for role 'patient': the one patient record this user is. */
  readonly patientId?: string;
  /**
   * The login (refresh-token family) the access token belongs to: set for every caller proven by a
   * token, checked against the database on every request so that a revoked login stops at once.
   */
  readonly sessionId?: string;
}

/**
 * The one visibility rule (contract §3.1, §2), used by every REST route and the socket gateway:
 * admins see every patient, clinicians their care team's patients, a patient user only themselves.
 * Implemented by PatientAccessService.
 */
export interface PatientVisibility {
  canSeePatient(principal: Principal, patientId: string): Promise<boolean>;
}
