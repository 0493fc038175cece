import { Module } from '@nestjs/common';
import { DeviceService } from './device.service.js';
import { DevicesController } from './devices.controller.js';

@Module({
  controllers: [DevicesController],
  providers: [DeviceService],
})
export class DevicesModule {}
