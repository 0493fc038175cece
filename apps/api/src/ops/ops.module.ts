import { Module } from '@nestjs/common';
import { WebhookOutboxService } from '@lantern/messaging';
import { IngestInstanceRepository, LeaseRepository, WebhookDeliveryRepository } from '@lantern/storage';
import { EscalationModule } from '../escalation/escalation.module.js';
import { HealthController, MonitoringController } from './health.controller.js';
import { IngestMonitorService } from './ingest-monitor.service.js';
import { MetricsController } from './metrics.controller.js';
import { SystemHealthService } from './system-health.service.js';
import { WebhookDeliveriesController } from './webhook-deliveries.controller.js';

@Module({
  imports: [EscalationModule],
  controllers: [HealthController, MonitoringController, MetricsController, WebhookDeliveriesController],
  providers: [
    IngestInstanceRepository,
    IngestMonitorService,
    SystemHealthService,
    LeaseRepository,
    WebhookDeliveryRepository,
    WebhookOutboxService,
  ],
})
export class OpsModule {}
