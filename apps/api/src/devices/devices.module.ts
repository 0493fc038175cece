import { Module } from '@nestjs/common';
import { DeviceRevocationPublisher } from './device-revocation.publisher.js';
import { DeviceService } from './device.service.js';
import { DevicesController } from './devices.controller.js';

@Module({
  controllers: [DevicesController],
  providers: [DeviceService, DeviceRevocationPublisher],
  exports: [DeviceRevocationPublisher],
})
export class DevicesModule {}
