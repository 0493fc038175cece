import { ApiProperty } from '@nestjs/swagger';
import { IsEmail, IsString, MaxLength, MinLength } from 'class-validator';
import { UserDto } from '../users/user.dto.js';

export class LoginDto {
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

export class LoginResponseDto {
  @ApiProperty({
    description: 'Bearer token for REST (`Authorization: Bearer …`) and the Socket.IO handshake (`auth: { token }`).',
  })
  accessToken!: string;

  @ApiProperty({ type: String, format: 'date-time' })
  expiresAt!: string;

  @ApiProperty({ type: UserDto })
  user!: UserDto;
}
