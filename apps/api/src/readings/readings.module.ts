import { Module } from '@nestjs/common';
import { ReadingsController } from './readings.controller.js';
import { ReadingsService } from './readings.service.js';

/** REST history of readings (contract §3.3). Needs the global StorageModule and AuthModule. */
@Module({ controllers: [ReadingsController], providers: [ReadingsService] })
export class ReadingsModule {}
