import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsInt, IsOptional, IsUUID, Matches, Max, Min } from 'class-validator';
import { ROLES, type Role } from '@lantern/domain';
import type { AuditRecord } from '@lantern/storage';

export class AuditQueryDto {
  @ApiPropertyOptional({ format: 'uuid' })
  @IsOptional()
  @IsUUID()
  patientId?: string;

  @ApiPropertyOptional({ format: 'uuid', description: 'Only what this user did.' })
  @IsOptional()
  @IsUUID()
  actorId?: string;

  @ApiPropertyOptional({ description: 'Paging: entries older than this entry id (the last id of the previous page).' })
  @IsOptional()
  @Matches(/^\d{1,18}$/)
  before?: string;

  @ApiPropertyOptional({ minimum: 1, maximum: 1000, default: 100 })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(1000)
  limit?: number;
}

export class AuditEntryDto {
  @ApiProperty()
  id!: string;

  @ApiProperty({ type: String, format: 'date-time' })
  at!: string;

  @ApiPropertyOptional({ format: 'uuid', description: 'Absent for the system and for failed logins.' })
  actorId?: string;

  @ApiPropertyOptional({ enum: ROLES })
  actorRole?: Role;

  @ApiProperty({ example: 'patient.read' })
  action!: string;

  @ApiPropertyOptional({ format: 'uuid' })
  patientId?: string;

  @ApiPropertyOptional({ example: 'device' })
  resource?: string;

  @ApiPropertyOptional()
  resourceId?: string;

  @ApiPropertyOptional({ description: 'Client address.' })
  ip?: string;

  @ApiPropertyOptional({ type: 'object', additionalProperties: true })
  details?: Record<string, unknown>;
}

export function toAuditEntryDto(record: AuditRecord): AuditEntryDto {
  return { ...record, at: record.at.toISOString() };
}
