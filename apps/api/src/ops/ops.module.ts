import { Module } from '@nestjs/common';
import { WebhookOutboxService } from '@lantern/messaging';
import { IngestInstanceRepository, LeaseRepository, WebhookDeliveryRepository } from '@lantern/storage';
import { DevicesModule } from '../devices/devices.module.js';
import { HealthController } from './health.controller.js';
import { IngestMonitorService } from './ingest-monitor.service.js';
import { MetricsController } from './metrics.controller.js';
import { WebhookDeliveriesController } from './webhook-deliveries.controller.js';

@Module({
  imports: [DevicesModule],
  controllers: [HealthController, MetricsController, WebhookDeliveriesController],
  providers: [
    IngestInstanceRepository,
    IngestMonitorService,
    LeaseRepository,
    WebhookDeliveryRepository,
    WebhookOutboxService,
  ],
})
export class OpsModule {}
