import { HttpException, HttpStatus, Injectable } from '@nestjs/common';
import { AuditService, PatientAccessService, type Actor } from '@lantern/auth';
import { BadRequestError, ConflictError, NotFoundError } from '@lantern/domain';
import {
  CareTeamRepository,
  DuplicateMrnError,
  PatientRepository,
  Transactions,
  UserRepository,
  type CareTeamMember,
  type PatientRecord,
} from '@lantern/storage';
import { FailureCounter } from '../auth/failure-counter.js';

export interface CreatePatientCommand {
  readonly displayName: string;
  readonly dateOfBirth?: string;
  readonly mrn?: string;
}

/** Refusals for a duplicate MRN per clinician and hour before their creates with an MRN answer 429. */
export const MAX_MRN_CONFLICTS_PER_HOUR = 10;

/** What a clinician is told about a duplicate MRN, whoever's care team holds that patient. */
export const DUPLICATE_MRN_MESSAGE =
  'A patient with this MRN already exists. If they are not among your patients, ask an administrator to add you to their care team.';

/**
 * Patients and their care teams; every read and change goes through the visibility rule and the
 * audit log, each change in one transaction with its audit entry.
 */
@Injectable()
export class PatientService {
  constructor(
    private readonly access: PatientAccessService,
    private readonly patients: PatientRepository,
    private readonly careTeams: CareTeamRepository,
    private readonly users: UserRepository,
    private readonly audit: AuditService,
    private readonly transactions: Transactions,
  ) {}

  private readonly mrnConflicts = new FailureCounter(MAX_MRN_CONFLICTS_PER_HOUR, 3_600_000, 'mrn-conflict');

  /**
   * A clinician who creates a patient joins its care team, or they could not see what they made.
   *
   * A duplicate MRN is refused (409: a second record of one person would split their history and
   * alerts), and a clinician is told the same thing whichever care team holds that patient — never
   * its id, name or team. That an MRN is taken is the one thing uniqueness cannot hide; so each
   * refusal is audited against the existing patient (`patient.create_duplicate_mrn`, with who
   * asked), and a clinician refused MAX_MRN_CONFLICTS_PER_HOUR times gets 429 for any create with
   * an MRN for the rest of the hour, which bounds probing. An admin, who sees every patient, is
   * told the existing patient's id.
   */
  async create(
    actor: Actor,
    command: CreatePatientCommand,
  ): Promise<{ patient: PatientRecord; careTeam: CareTeamMember[] }> {
    const clinicianId = actor.principal.role === 'clinician' ? actor.principal.userId : undefined;
    // Counted as a refusal in advance and given back on success: parallel probes cannot overshoot.
    const probing = clinicianId !== undefined && command.mrn !== undefined;
    if (probing && !(await this.mrnConflicts.reserve(clinicianId)).allowed)
      throw new HttpException(
        'Too many patients refused for a duplicate MRN; try again in an hour or ask an administrator',
        HttpStatus.TOO_MANY_REQUESTS,
      );
    let patient: PatientRecord;
    try {
      patient = await this.transactions.run(async () => {
        const created = await this.patients.create({ ...command, createdBy: actor.principal.userId }, clinicianId);
        await this.audit.record(actor, {
          action: 'patient.create',
          patientId: created.id,
          resource: 'patient',
          resourceId: created.id,
        });
        return created;
      });
    } catch (error) {
      // The refusal is recorded outside the rolled-back transaction.
      if (error instanceof DuplicateMrnError) throw await this.duplicateMrn(actor, error, command.mrn);
      if (probing) await this.mrnConflicts.refund(clinicianId);
      throw error;
    }
    if (probing) await this.mrnConflicts.refund(clinicianId);
    return { patient, careTeam: await this.careTeams.members(patient.id) };
  }

  /** Audits a refused duplicate MRN against the patient that holds it, and words the 409 for the caller. */
  private async duplicateMrn(actor: Actor, error: DuplicateMrnError, mrn: string | undefined): Promise<ConflictError> {
    const existing = error.existingPatientId;
    await this.audit.record(actor, {
      action: 'patient.create_duplicate_mrn',
      ...(existing !== undefined && { patientId: existing, resource: 'patient', resourceId: existing }),
      details: { mrn },
    });
    return actor.principal.role === 'admin' && existing !== undefined
      ? new ConflictError(`A patient with this MRN already exists: ${existing}`)
      : new ConflictError(DUPLICATE_MRN_MESSAGE);
  }

  async list(actor: Actor): Promise<PatientRecord[]> {
    const patients = await this.access.listVisiblePatients(actor.principal);
    // One entry per listed patient, so the audit log of a patient shows who saw them in a list.
    await this.audit.recordPerPatient(
      actor,
      { action: 'patient.list', resource: 'patient', details: { count: patients.length } },
      patients.map((p) => p.id),
    );
    return patients;
  }

  async get(actor: Actor, patientId: string): Promise<{ patient: PatientRecord; careTeam: CareTeamMember[] }> {
    const patient = await this.access.getVisiblePatient(actor.principal, patientId);
    await this.audit.record(actor, { action: 'patient.read', patientId, resource: 'patient', resourceId: patientId });
    return { patient, careTeam: await this.careTeams.members(patientId) };
  }

  async addCareTeamMember(actor: Actor, patientId: string, clinicianId: string): Promise<CareTeamMember[]> {
    await this.access.assertCanSeePatient(actor.principal, patientId);
    const clinician = await this.users.findById(clinicianId);
    if (clinician === undefined || clinician.role !== 'clinician')
      throw new BadRequestError(`clinicianId ${clinicianId} is not a clinician`);
    await this.transactions.run(async () => {
      if (!(await this.careTeams.add(patientId, clinicianId, actor.principal.userId))) return;
      await this.audit.record(actor, {
        action: 'care_team.add',
        patientId,
        resource: 'care_team_member',
        resourceId: clinicianId,
      });
    });
    return this.careTeams.members(patientId);
  }

  async removeCareTeamMember(actor: Actor, patientId: string, clinicianId: string): Promise<void> {
    await this.access.assertCanSeePatient(actor.principal, patientId);
    await this.transactions.run(async () => {
      if (!(await this.careTeams.remove(patientId, clinicianId)))
        throw new NotFoundError('Care-team member', clinicianId);
      await this.audit.record(actor, {
        action: 'care_team.remove',
        patientId,
        resource: 'care_team_member',
        resourceId: clinicianId,
      });
    });
  }
}
