import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsEmail, IsOptional, IsString, MaxLength, MinLength } from 'class-validator';
import type { LoginRequest, SignInResource } from '@lantern/domain';
import { UserDto } from '../users/user.dto.js';

export class LoginDto implements LoginRequest {
  @ApiProperty({ example: 'admin@lantern.local' })
  @IsEmail()
  @MaxLength(254)
  email!: string;

  @ApiProperty({ example: 'correct horse battery staple' })
  @IsString()
  @MinLength(1)
  @MaxLength(200)
  password!: string;
}

/** The answer of a login and of a refresh (contract §4.1). */
export class LoginResponseDto implements SignInResource {
  @ApiProperty({
    description:
      'Bearer token for REST (`Authorization: Bearer …`) and the Socket.IO handshake (`auth: { token }`); expires after `expiresIn` seconds (ACCESS_TOKEN_TTL).',
  })
  accessToken!: string;

  @ApiProperty({
    description:
      'Exchange it at POST /auth/refresh for a new pair before the access token expires; single use, valid REFRESH_TOKEN_TTL. Also set as the httpOnly cookie `lantern_refresh` (path /api/v1/auth) for browsers.',
  })
  refreshToken!: string;

  @ApiProperty({ description: 'Seconds until the access token expires.', example: 900 })
  expiresIn!: number;

  @ApiProperty({ type: UserDto })
  user!: UserDto;
}

export class RefreshDto {
  @ApiPropertyOptional({
    description:
      'The refresh token of the last login or refresh. Omitted: the `lantern_refresh` cookie is used, and the request must carry an `X-Requested-With` header (CSRF protection).',
  })
  @IsOptional()
  @IsString()
  @MinLength(1)
  @MaxLength(200)
  refreshToken?: string;
}

export class LogoutDto extends RefreshDto {}

export class ChangePasswordDto {
  @ApiProperty({ description: 'The password now in use.' })
  @IsString()
  @MinLength(1)
  @MaxLength(200)
  currentPassword!: string;

  @ApiProperty({ minLength: 10, maxLength: 200, description: 'Stored only as an argon2id hash.' })
  @IsString()
  @MinLength(10)
  @MaxLength(200)
  newPassword!: string;
}
