import { Body, Controller, Delete, Get, HttpCode, Param, ParseUUIDPipe, Post } from '@nestjs/common';
import {
  ApiBearerAuth,
  ApiCreatedResponse,
  ApiNoContentResponse,
  ApiOkResponse,
  ApiOperation,
  ApiTags,
} from '@nestjs/swagger';
import { CurrentActor, Roles, type Actor } from '@lantern/auth';
import { ApiErrors } from '../http/api-errors.decorator.js';
import {
  AddCareTeamMemberDto,
  CareTeamMemberDto,
  CreatePatientDto,
  PatientDetailDto,
  PatientDto,
  toCareTeamMemberDto,
  toPatientDetailDto,
  toPatientDto,
} from './patient.dto.js';
import { PatientService } from './patient.service.js';

@ApiTags('patients')
@ApiBearerAuth()
@ApiErrors(401)
@Controller('patients')
export class PatientsController {
  constructor(private readonly patients: PatientService) {}

  @Post()
  @Roles('admin', 'clinician')
  @ApiOperation({
    summary: 'Create a patient (admin, clinician). A clinician who creates one joins its care team.',
    description:
      'A duplicate MRN answers 409 without naming the existing patient (an admin is told its id) and is audited against that patient; a clinician refused 10 times in an hour gets 429 for creates with an MRN until the hour ends.',
  })
  @ApiCreatedResponse({ type: PatientDetailDto })
  @ApiErrors(400, 403, 409, 429)
  async create(@CurrentActor() actor: Actor, @Body() body: CreatePatientDto): Promise<PatientDetailDto> {
    const { patient, careTeam } = await this.patients.create(actor, body);
    return toPatientDetailDto(patient, careTeam);
  }

  @Get()
  @ApiOperation({
    summary: 'Patients visible to the caller: all (admin), the care team (clinician), oneself (patient).',
  })
  @ApiOkResponse({ type: [PatientDto] })
  async list(@CurrentActor() actor: Actor): Promise<PatientDto[]> {
    return (await this.patients.list(actor)).map(toPatientDto);
  }

  @Get(':id')
  @ApiOperation({ summary: 'One patient with its care team; 404 when unknown or not visible.' })
  @ApiOkResponse({ type: PatientDetailDto })
  @ApiErrors(400, 404)
  async get(@CurrentActor() actor: Actor, @Param('id', ParseUUIDPipe) id: string): Promise<PatientDetailDto> {
    const { patient, careTeam } = await this.patients.get(actor, id);
    return toPatientDetailDto(patient, careTeam);
  }

  @Post(':id/care-team')
  @Roles('admin')
  @ApiOperation({ summary: 'Put a clinician on the care team (admin). Idempotent; answers the team.' })
  @ApiCreatedResponse({ type: [CareTeamMemberDto] })
  @ApiErrors(400, 403, 404)
  async addCareTeamMember(
    @CurrentActor() actor: Actor,
    @Param('id', ParseUUIDPipe) id: string,
    @Body() body: AddCareTeamMemberDto,
  ): Promise<CareTeamMemberDto[]> {
    return (await this.patients.addCareTeamMember(actor, id, body.clinicianId)).map(toCareTeamMemberDto);
  }

  @Delete(':id/care-team/:clinicianId')
  @Roles('admin')
  @HttpCode(204)
  @ApiOperation({ summary: 'Take a clinician off the care team (admin).' })
  @ApiNoContentResponse()
  @ApiErrors(400, 403, 404)
  async removeCareTeamMember(
    @CurrentActor() actor: Actor,
    @Param('id', ParseUUIDPipe) id: string,
    @Param('clinicianId', ParseUUIDPipe) clinicianId: string,
  ): Promise<void> {
    await this.patients.removeCareTeamMember(actor, id, clinicianId);
  }
}
