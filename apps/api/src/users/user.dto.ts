import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsBoolean, IsEmail, IsIn, IsOptional, IsString, IsUUID, MaxLength, MinLength } from 'class-validator';
import { ROLES, type Role, type UserResource } from '@lantern/domain';
import type { UserRecord } from '@lantern/storage';

export class UserDto implements UserResource {
  @ApiProperty({ format: 'uuid' })
  id!: string;

  @ApiProperty({ example: 'dr.chen@clinic.example' })
  email!: string;

  @ApiProperty({ enum: ROLES })
  role!: Role;

  @ApiProperty({ example: 'Dr. Mei Chen' })
  displayName!: string;

  @ApiPropertyOptional({ format: 'uuid', description: 'For role patient: the one patient record this login is.' })
  patientId?: string;

  @ApiProperty({ type: String, format: 'date-time' })
  createdAt!: string;

  @ApiPropertyOptional({
    type: String,
    format: 'date-time',
    description: 'Set while the account is disabled: it cannot sign in and all its logins are revoked.',
  })
  disabledAt?: string;
}

export function toUserDto(user: UserRecord): UserDto {
  return {
    id: user.id,
    email: user.email,
    role: user.role,
    displayName: user.displayName,
    ...(user.patientId !== undefined && { patientId: user.patientId }),
    createdAt: user.createdAt.toISOString(),
    ...(user.disabledAt !== undefined && { disabledAt: user.disabledAt.toISOString() }),
  };
}

export class CreateUserDto {
  @ApiProperty({ example: 'dr.chen@clinic.example' })
  @IsEmail()
  @MaxLength(254)
  email!: string;

  @ApiProperty({ minLength: 10, maxLength: 200, description: 'Stored only as an argon2id hash.' })
  @IsString()
  @MinLength(10)
  @MaxLength(200)
  password!: string;

  @ApiProperty({ enum: ROLES })
  @IsIn(ROLES)
  role!: Role;

  @ApiProperty({ example: 'Dr. Mei Chen' })
  @IsString()
  @MinLength(1)
  @MaxLength(200)
  displayName!: string;

  @ApiPropertyOptional({
    format: 'uuid',
    description: 'Required for role patient (links the login to that patient record); refused otherwise.',
  })
  @IsOptional()
  @IsUUID()
  patientId?: string;
}

export class ListUsersQueryDto {
  @ApiPropertyOptional({ enum: ROLES })
  @IsOptional()
  @IsIn(ROLES)
  role?: Role;
}

export class UpdateUserDto {
  @ApiPropertyOptional({
    enum: ROLES,
    description: 'admin ↔ clinician only (a patient login is bound to its record). Revokes every login of the user.',
  })
  @IsOptional()
  @IsIn(ROLES)
  role?: Role;

  @ApiPropertyOptional({ description: 'true: the user cannot sign in and every login is revoked; false: re-enabled.' })
  @IsOptional()
  @IsBoolean()
  disabled?: boolean;
}

export class TemporaryPasswordDto {
  @ApiProperty({
    description:
      'The new password, shown only in this answer; every login of the user was revoked. Hand it over securely; the user should change it (POST /me/password).',
  })
  temporaryPassword!: string;
}
