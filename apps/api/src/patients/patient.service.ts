import { Injectable } from '@nestjs/common';
import { AuditService, PatientAccessService, type Actor } from '@lantern/auth';
import { BadRequestError, NotFoundError } from '@lantern/domain';
import {
  CareTeamRepository,
  PatientRepository,
  UserRepository,
  type CareTeamMember,
  type PatientRecord,
} from '@lantern/storage';

export interface CreatePatientCommand {
  readonly displayName: string;
  readonly dateOfBirth?: string;
  readonly mrn?: string;
}

/** Patients and their care teams; every read and change goes through the visibility rule and the audit log. */
@Injectable()
export class PatientService {
  constructor(
    private readonly access: PatientAccessService,
    private readonly patients: PatientRepository,
    private readonly careTeams: CareTeamRepository,
    private readonly users: UserRepository,
    private readonly audit: AuditService,
  ) {}

  /** A clinician who creates a patient joins its care team, or they could not see what they made. */
  async create(
    actor: Actor,
    command: CreatePatientCommand,
  ): Promise<{ patient: PatientRecord; careTeam: CareTeamMember[] }> {
    const clinicianId = actor.principal.role === 'clinician' ? actor.principal.userId : undefined;
    const patient = await this.patients.create({ ...command, createdBy: actor.principal.userId }, clinicianId);
    await this.audit.record(actor, {
      action: 'patient.create',
      patientId: patient.id,
      resource: 'patient',
      resourceId: patient.id,
    });
    return { patient, careTeam: await this.careTeams.members(patient.id) };
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
    const added = await this.careTeams.add(patientId, clinicianId, actor.principal.userId);
    if (added) {
      await this.audit.record(actor, {
        action: 'care_team.add',
        patientId,
        resource: 'care_team_member',
        resourceId: clinicianId,
      });
    }
    return this.careTeams.members(patientId);
  }

  async removeCareTeamMember(actor: Actor, patientId: string, clinicianId: string): Promise<void> {
    await this.access.assertCanSeePatient(actor.principal, patientId);
    if (!(await this.careTeams.remove(patientId, clinicianId)))
      throw new NotFoundError('Care-team member', clinicianId);
    await this.audit.record(actor, {
      action: 'care_team.remove',
      patientId,
      resource: 'care_team_member',
      resourceId: clinicianId,
    });
  }
}
