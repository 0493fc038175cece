import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import {
  ArrayMaxSize,
  ArrayMinSize,
  ArrayUnique,
  IsEmail,
  IsIn,
  IsInt,
  IsOptional,
  IsString,
  Matches,
  Max,
  MaxLength,
  Min,
  MinLength,
} from 'class-validator';
import {
  ROLES,
  SHARING_SCOPES,
  type AcceptInvitationRequest,
  type AccessLogActorResource,
  type AccessLogEntryResource,
  type CaregiverInvitationResource,
  type CaregiverResource,
  type ChangeScopesRequest,
  type InviteCaregiverRequest,
  type InvitedCaregiverResource,
  type Role,
  type SharingScope,
} from '@lantern/domain';
import type { AccessLogEntry, CaregiverShare } from '@lantern/storage';
import { accessLogSentence } from './access-log-text.js';

const SCOPES_DESCRIPTION =
  "What the caregiver sees: signal groups (glucose; cardiac = heart rate, pulmonary artery pressure; respiratory = SpO2, breathing rate; weight; blood_pressure; temperature), devices, alerts (only those about shared signals, and device alerts), notifications (the patient's own messages, live).";

export class InviteCaregiverDto implements InviteCaregiverRequest {
  @ApiProperty({ example: 'maria.souza@example.com' })
  @IsEmail()
  @MaxLength(254)
  email!: string;

  @ApiPropertyOptional({ example: 'Maria (my daughter)' })
  @IsOptional()
  @IsString()
  @MinLength(1)
  @MaxLength(200)
  name?: string;

  @ApiProperty({ enum: SHARING_SCOPES, isArray: true, description: SCOPES_DESCRIPTION })
  @ArrayMinSize(1)
  @ArrayMaxSize(SHARING_SCOPES.length)
  @ArrayUnique()
  @IsIn(SHARING_SCOPES, { each: true })
  scopes!: SharingScope[];
}

export class ChangeScopesDto implements ChangeScopesRequest {
  @ApiProperty({ enum: SHARING_SCOPES, isArray: true, description: SCOPES_DESCRIPTION })
  @ArrayMinSize(1)
  @ArrayMaxSize(SHARING_SCOPES.length)
  @ArrayUnique()
  @IsIn(SHARING_SCOPES, { each: true })
  scopes!: SharingScope[];
}

export class AcceptInvitationDto implements AcceptInvitationRequest {
  @ApiProperty({ description: 'The invitation token the patient passed on.' })
  @IsString()
  @MinLength(1)
  @MaxLength(200)
  token!: string;

  @ApiProperty({
    minLength: 10,
    maxLength: 200,
    description:
      "The new account's password; when a caregiver account with the invited address exists already, that account's current password.",
  })
  @IsString()
  @MinLength(10)
  @MaxLength(200)
  password!: string;

  @ApiPropertyOptional({ description: 'Your name, as patients will see it (a new account only).' })
  @IsOptional()
  @IsString()
  @MinLength(1)
  @MaxLength(200)
  name?: string;
}

export class InvitationDto implements CaregiverInvitationResource {
  @ApiProperty({ description: 'Shown only now; pass it on to the caregiver yourself. Single use.' })
  token!: string;

  @ApiProperty({ type: String, format: 'date-time' })
  expiresAt!: string;
}

export class CaregiverDto implements CaregiverResource {
  @ApiProperty({ format: 'uuid' })
  id!: string;

  @ApiProperty()
  email!: string;

  @ApiPropertyOptional()
  name?: string;

  @ApiProperty({ enum: SHARING_SCOPES, isArray: true })
  scopes!: SharingScope[];

  @ApiProperty({ enum: ['invited', 'active'], description: '`invited` until the caregiver accepts.' })
  status!: 'invited' | 'active';

  @ApiProperty({ type: String, format: 'date-time' })
  invitedAt!: string;

  @ApiPropertyOptional({ type: String, format: 'date-time' })
  acceptedAt?: string;

  @ApiPropertyOptional({
    type: String,
    format: 'date-time',
    description: 'While invited: when the invitation expires (invite again for a new one).',
  })
  invitationExpiresAt?: string;
}

export class InvitedCaregiverDto extends CaregiverDto implements InvitedCaregiverResource {
  @ApiProperty({ type: InvitationDto })
  invitation!: InvitationDto;
}

export function toCaregiverDto(share: CaregiverShare): CaregiverDto {
  return {
    id: share.id,
    email: share.email,
    ...(share.displayName !== undefined && { name: share.displayName }),
    scopes: share.scopes,
    status: share.acceptedAt === undefined ? 'invited' : 'active',
    invitedAt: share.createdAt.toISOString(),
    ...(share.acceptedAt !== undefined && { acceptedAt: share.acceptedAt.toISOString() }),
    ...(share.invitationExpiresAt !== undefined && {
      invitationExpiresAt: share.invitationExpiresAt.toISOString(),
    }),
  };
}

export class AccessLogQueryDto {
  @ApiPropertyOptional({ description: 'The `id` of the last entry of the previous page: older entries follow.' })
  @IsOptional()
  @Matches(/^[0-9]{1,18}$/, { message: 'before must be the id of an entry' })
  before?: string;

  @ApiPropertyOptional({ minimum: 1, maximum: 200, default: 50 })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(200)
  limit?: number;
}

export class AccessLogActorDto implements AccessLogActorResource {
  @ApiProperty({ format: 'uuid' })
  id!: string;

  @ApiProperty({ example: 'Dr Reyes' })
  name!: string;

  @ApiProperty({ enum: ROLES })
  role!: Role;
}

export class AccessLogEntryDto implements AccessLogEntryResource {
  @ApiProperty({ description: 'Opaque, increasing; pass the last one as `before` for the next page.' })
  id!: string;

  @ApiProperty({ type: String, format: 'date-time' })
  at!: string;

  @ApiProperty({ type: AccessLogActorDto })
  actor!: AccessLogActorDto;

  @ApiProperty({ example: 'readings.read', description: 'The audited action.' })
  action!: string;

  @ApiProperty({ example: 'Dr Reyes viewed your glucose (blood sugar) history', description: 'In plain words.' })
  detail!: string;
}

export function toAccessLogEntryDto(entry: AccessLogEntry): AccessLogEntryDto {
  return {
    id: entry.id,
    at: entry.at.toISOString(),
    actor: entry.actor,
    action: entry.action,
    detail: accessLogSentence({ actorName: entry.actor.name, action: entry.action, details: entry.details }),
  };
}
