import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsISO8601, IsOptional, IsString, IsUUID, Matches, MaxLength, MinLength } from 'class-validator';
import type { CareTeamMemberResource, PatientDetailResource, PatientResource } from '@lantern/domain';
import type { CareTeamMember, PatientRecord } from '@lantern/storage';

export class PatientDto implements PatientResource {
  @ApiProperty({ format: 'uuid' })
  id!: string;

  @ApiProperty({ example: 'Ana Souza' })
  displayName!: string;

  @ApiPropertyOptional({ type: String, format: 'date', example: '1958-04-12' })
  dateOfBirth?: string;

  @ApiPropertyOptional({ description: 'Medical record number.' })
  mrn?: string;

  @ApiProperty({ type: String, format: 'date-time' })
  createdAt!: string;
}

export class CareTeamMemberDto implements CareTeamMemberResource {
  @ApiProperty({ format: 'uuid' })
  clinicianId!: string;

  @ApiProperty()
  email!: string;

  @ApiProperty()
  displayName!: string;

  @ApiProperty({ type: String, format: 'date-time' })
  addedAt!: string;
}

export class PatientDetailDto extends PatientDto implements PatientDetailResource {
  @ApiProperty({ type: [CareTeamMemberDto] })
  careTeam!: CareTeamMemberDto[];
}

export function toPatientDto(patient: PatientRecord): PatientDto {
  return {
    id: patient.id,
    displayName: patient.displayName,
    ...(patient.dateOfBirth !== undefined && { dateOfBirth: patient.dateOfBirth }),
    ...(patient.mrn !== undefined && { mrn: patient.mrn }),
    createdAt: patient.createdAt.toISOString(),
  };
}

export function toCareTeamMemberDto(member: CareTeamMember): CareTeamMemberDto {
  return {
    clinicianId: member.clinicianId,
    email: member.email,
    displayName: member.displayName,
    addedAt: member.addedAt.toISOString(),
  };
}

export function toPatientDetailDto(patient: PatientRecord, careTeam: readonly CareTeamMember[]): PatientDetailDto {
  return { ...toPatientDto(patient), careTeam: careTeam.map(toCareTeamMemberDto) };
}

export class CreatePatientDto {
  @ApiProperty({ example: 'Ana Souza' })
  @IsString()
  @MinLength(1)
  @MaxLength(200)
  displayName!: string;

  @ApiPropertyOptional({ type: String, format: 'date', example: '1958-04-12' })
  @IsOptional()
  @Matches(/^\d{4}-\d{2}-\d{2}$/, { message: 'dateOfBirth must be a date YYYY-MM-DD' })
  @IsISO8601({ strict: true })
  dateOfBirth?: string;

  @ApiPropertyOptional({ description: 'Medical record number; unique.' })
  @IsOptional()
  @IsString()
  @MinLength(1)
  @MaxLength(64)
  mrn?: string;
}

export class AddCareTeamMemberDto {
  @ApiProperty({ format: 'uuid', description: 'A user with role clinician.' })
  @IsUUID()
  clinicianId!: string;
}
