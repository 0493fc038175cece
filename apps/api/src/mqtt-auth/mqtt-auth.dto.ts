import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { Allow, IsIn, IsInt, IsOptional, IsString, MaxLength } from 'class-validator';

const CLIENT_ID_DESCRIPTION =
  "MQTT client id (EMQX ${clientid}; mosquitto-go-auth always sends it). Required for a device, and must equal its device id: a device request without it, or with another id, is denied. The service user's is not checked.";

/** What EMQX's HTTP authenticator (body as configured in docs/security.md) and mosquitto-go-auth's `getuser` send. */
export class MqttAuthenticateDto {
  @ApiProperty({
    description:
      'Device id (lowercase, as provisioned; other spellings are denied), or the service user name (MQTT_USERNAME).',
  })
  @IsString()
  @MaxLength(256)
  username!: string;

  @ApiProperty({ description: 'Device secret or service password. Never logged.' })
  @IsString()
  @MaxLength(1024)
  password!: string;

  @ApiPropertyOptional({ description: CLIENT_ID_DESCRIPTION })
  @IsOptional()
  @IsString()
  @MaxLength(256)
  clientid?: string;

  @ApiPropertyOptional({ description: 'Client address (EMQX ${peerhost}); informational.' })
  @IsOptional()
  @IsString()
  peerhost?: string;
}

/** EMQX HTTP authorizer (`action` publish/subscribe) or mosquitto-go-auth `aclcheck` (`acc` 1 read, 2 write, 3 read-write, 4 subscribe). */
export class MqttAuthorizeDto {
  @ApiProperty()
  @IsString()
  @MaxLength(256)
  username!: string;

  @ApiProperty({ example: 'lantern/v1/devices/{id}/telemetry' })
  @IsString()
  @MaxLength(1024)
  topic!: string;

  @ApiPropertyOptional({ enum: ['publish', 'subscribe'], description: 'EMQX ${action}.' })
  @IsOptional()
  @IsIn(['publish', 'subscribe'])
  action?: 'publish' | 'subscribe';

  @ApiPropertyOptional({
    enum: [1, 2, 3, 4],
    description: 'mosquitto-go-auth access: 1 read, 2 write, 3 read-write, 4 subscribe.',
  })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @IsIn([1, 2, 3, 4])
  acc?: number;

  @ApiPropertyOptional({ description: CLIENT_ID_DESCRIPTION })
  @IsOptional()
  @IsString()
  @MaxLength(256)
  clientid?: string;

  @ApiPropertyOptional({ description: 'EMQX ${qos}; informational.' })
  @IsOptional()
  @Allow()
  qos?: unknown;

  @ApiPropertyOptional({ description: 'EMQX ${retain}; informational.' })
  @IsOptional()
  @Allow()
  retain?: unknown;

  @ApiPropertyOptional({ description: 'EMQX ${peerhost}; informational.' })
  @IsOptional()
  @IsString()
  peerhost?: string;
}

/** mosquitto-go-auth `superuser` check. */
export class MqttSuperuserDto {
  @ApiProperty()
  @IsString()
  @MaxLength(256)
  username!: string;

  @ApiPropertyOptional({ description: 'Not sent by mosquitto-go-auth; ignored: only the service user is a superuser.' })
  @IsOptional()
  @IsString()
  @MaxLength(256)
  clientid?: string;
}

/**
 * One answer both brokers understand: EMQX reads `result` (and `is_superuser`), mosquitto-go-auth
 * in `http_response_mode json` reads `Ok` and `Error`. Always HTTP 200, so a deny is a deny (EMQX
 * treats 4xx/5xx as "ignore" and moves along its chain).
 */
export class MqttDecisionDto {
  @ApiProperty({ enum: ['allow', 'deny'] })
  result!: 'allow' | 'deny';

  @ApiPropertyOptional({ description: 'Only on authenticate: true for the service credential.' })
  is_superuser?: boolean;

  @ApiProperty()
  Ok!: boolean;

  @ApiProperty({ description: 'Empty when allowed.' })
  Error!: string;
}
