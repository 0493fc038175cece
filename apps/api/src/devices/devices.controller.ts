import { Body, Controller, Delete, Get, HttpCode, Param, ParseUUIDPipe, Post, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiCreatedResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { CurrentActor, Roles, type Actor } from '@lantern/auth';
import { ApiErrors } from '../http/api-errors.decorator.js';
import { CreateDeviceDto, DeviceDto, ListDevicesQueryDto, ProvisionedDeviceDto, toDeviceDto } from './device.dto.js';
import { DeviceService } from './device.service.js';

@ApiTags('devices')
@ApiBearerAuth()
@ApiErrors(401)
@Controller('devices')
export class DevicesController {
  constructor(private readonly devices: DeviceService) {}

  @Post()
  @Roles('admin', 'clinician')
  @ApiOperation({
    summary:
      'Provision a device for a visible patient; the answer carries its MQTT credentials, the secret shown only here.',
  })
  @ApiCreatedResponse({ type: ProvisionedDeviceDto })
  @ApiErrors(400, 403, 404)
  async provision(@CurrentActor() actor: Actor, @Body() body: CreateDeviceDto): Promise<ProvisionedDeviceDto> {
    const { device, credentials } = await this.devices.provision(actor, body);
    return { ...toDeviceDto(device), credentials };
  }

  @Get()
  @ApiOperation({ summary: 'Devices of the visible patients (decommissioned included), optionally of one patient.' })
  @ApiOkResponse({ type: [DeviceDto] })
  @ApiErrors(400, 404)
  async list(@CurrentActor() actor: Actor, @Query() query: ListDevicesQueryDto): Promise<DeviceDto[]> {
    return (await this.devices.list(actor, query.patientId)).map(toDeviceDto);
  }

  @Get(':id')
  @ApiOperation({ summary: 'One device with its last known status.' })
  @ApiOkResponse({ type: DeviceDto })
  @ApiErrors(400, 404)
  async get(@CurrentActor() actor: Actor, @Param('id', ParseUUIDPipe) id: string): Promise<DeviceDto> {
    return toDeviceDto(await this.devices.get(actor, id));
  }

  @Post(':id/rotate-secret')
  @Roles('admin', 'clinician')
  @HttpCode(200)
  @ApiOperation({
    summary: 'Issue a new secret; the old one stops working at once. The new secret is shown only here.',
  })
  @ApiOkResponse({ type: ProvisionedDeviceDto })
  @ApiErrors(400, 403, 404, 409)
  async rotateSecret(
    @CurrentActor() actor: Actor,
    @Param('id', ParseUUIDPipe) id: string,
  ): Promise<ProvisionedDeviceDto> {
    const { device, credentials } = await this.devices.rotateSecret(actor, id);
    return { ...toDeviceDto(device), credentials };
  }

  @Delete(':id')
  @Roles('admin', 'clinician')
  @ApiOperation({ summary: 'Decommission: credentials revoked at once, history kept. Idempotent.' })
  @ApiOkResponse({ type: DeviceDto })
  @ApiErrors(400, 403, 404)
  async decommission(@CurrentActor() actor: Actor, @Param('id', ParseUUIDPipe) id: string): Promise<DeviceDto> {
    return toDeviceDto(await this.devices.decommission(actor, id));
  }
}
