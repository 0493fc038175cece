import { Module } from '@nestjs/common';
import { DevicesModule } from '../devices/devices.module.js';
import { HealthController } from './health.controller.js';
import { MetricsController } from './metrics.controller.js';

@Module({ imports: [DevicesModule], controllers: [HealthController, MetricsController] })
export class OpsModule {}
