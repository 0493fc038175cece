import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsOptional, IsString, IsUUID, MaxLength, MinLength } from 'class-validator';
import {
  DEVICE_TYPE_KEYS,
  type DeviceCredentialsResource,
  type DeviceResource,
  type DeviceTypeKey,
  type ProvisionDeviceRequest,
  type ProvisionedDeviceResource,
} from '@lantern/domain';
import type { DeviceRecord } from '@lantern/storage';

export class DeviceDto implements DeviceResource {
  @ApiProperty({ format: 'uuid', description: 'Also the MQTT username.' })
  id!: string;

  @ApiProperty({ format: 'uuid' })
  patientId!: string;

  @ApiProperty({ enum: DEVICE_TYPE_KEYS })
  type!: DeviceTypeKey;

  @ApiPropertyOptional()
  serial?: string;

  @ApiPropertyOptional()
  model?: string;

  @ApiProperty({ enum: ['active', 'decommissioned'] })
  status!: 'active' | 'decommissioned';

  @ApiProperty({ type: String, format: 'date-time' })
  createdAt!: string;

  @ApiProperty({ type: String, format: 'date-time', description: 'When the current secret was issued.' })
  secretRotatedAt!: string;

  @ApiPropertyOptional({ type: String, format: 'date-time' })
  decommissionedAt?: string;

  @ApiPropertyOptional({ type: String, format: 'date-time', description: 'Last message from the device.' })
  lastSeenAt?: string;

  @ApiProperty({ description: 'Last reported connection state (false once decommissioned).' })
  online!: boolean;

  @ApiPropertyOptional({ minimum: 0, maximum: 100, description: 'Battery percent.' })
  battery?: number;

  @ApiPropertyOptional()
  firmware?: string;

  @ApiPropertyOptional({ description: 'Signal strength, dBm.' })
  rssi?: number;

  @ApiPropertyOptional({ type: String, format: 'date-time' })
  sensorExpiresAt?: string;
}

export class DeviceCredentialsDto implements DeviceCredentialsResource {
  @ApiProperty({ description: 'MQTT username: the device id.' })
  username!: string;

  @ApiProperty({
    description: 'MQTT password: the device secret. Shown only in this answer; Lantern keeps only its hash.',
  })
  password!: string;

  @ApiProperty({ example: 'lantern/v1/devices/{id}/telemetry' })
  telemetryTopic!: string;

  @ApiProperty({ example: 'lantern/v1/devices/{id}/status' })
  statusTopic!: string;

  @ApiProperty({ example: 'lantern/v1/devices/{id}/errors' })
  errorsTopic!: string;
}

export class ProvisionedDeviceDto extends DeviceDto implements ProvisionedDeviceResource {
  @ApiProperty({ type: DeviceCredentialsDto })
  credentials!: DeviceCredentialsDto;
}

export function toDeviceDto(device: DeviceRecord): DeviceDto {
  const iso = (d: Date | undefined) => d?.toISOString();
  const dto: DeviceDto = {
    id: device.id,
    patientId: device.patientId,
    type: device.type,
    serial: device.serial,
    model: device.model,
    status: device.decommissionedAt === undefined ? 'active' : 'decommissioned',
    createdAt: device.createdAt.toISOString(),
    secretRotatedAt: device.secretRotatedAt.toISOString(),
    decommissionedAt: iso(device.decommissionedAt),
    lastSeenAt: iso(device.lastSeenAt),
    online: device.online,
    battery: device.battery,
    firmware: device.firmware,
    rssi: device.rssi,
    sensorExpiresAt: iso(device.sensorExpiresAt),
  };
  // Absent rather than null/undefined in JSON.
  for (const key of Object.keys(dto) as (keyof DeviceDto)[]) if (dto[key] === undefined) delete dto[key];
  return dto;
}

export class CreateDeviceDto implements ProvisionDeviceRequest {
  @ApiProperty({ format: 'uuid' })
  @IsUUID()
  patientId!: string;

  @ApiProperty({ enum: DEVICE_TYPE_KEYS, description: 'A key of the device-type catalog.' })
  @IsIn(DEVICE_TYPE_KEYS)
  type!: DeviceTypeKey;

  @ApiPropertyOptional({ maxLength: 100 })
  @IsOptional()
  @IsString()
  @MinLength(1)
  @MaxLength(100)
  serial?: string;

  @ApiPropertyOptional({ maxLength: 100 })
  @IsOptional()
  @IsString()
  @MinLength(1)
  @MaxLength(100)
  model?: string;
}

export class ListDevicesQueryDto {
  @ApiPropertyOptional({ format: 'uuid', description: "Only this patient's devices (404 when not visible)." })
  @IsOptional()
  @IsUUID()
  patientId?: string;
}
