import { Module } from '@nestjs/common';
import { ConfigModule } from '@lantern/config';
import { DeviceStatusRepository, IngestInstanceRepository, RejectionRepository, StorageModule } from '@lantern/storage';
import { INGEST_ACK_MODE, IngestMqttConnection } from './consumer/ingest-mqtt.connection.js';
import { SessionFilters } from './consumer/session-filters.js';
import { IngestSession } from './ingest-session.js';
import { IngestService } from './ingest.service.js';
import { IngestHeartbeatService } from './health/ingest-heartbeat.service.js';
import { ALERTING_PROVIDERS } from './alerting/alerting.providers.js';
import { IngestMetrics } from './metrics/ingest-metrics.js';
import { MetricsServer } from './metrics/metrics.server.js';
import { DeviceMessageHandler } from './pipeline/device-message.handler.js';
import { DevicePresenceService } from './pipeline/device-presence.service.js';
import { DeviceRegistryService } from './pipeline/device-registry.service.js';
import { IngestOutputs } from './pipeline/ingest-outputs.js';
import { IngestWriters } from './pipeline/ingest-writers.js';
import { IngestPipeline } from './pipeline/ingest.pipeline.js';
import { ReadingStream } from './pipeline/reading.stream.js';

@Module({
  imports: [
    ConfigModule,
    StorageModule.forRoot({ applicationName: 'lantern-ingest', maintenance: true, alertLane: true }),
  ],
  providers: [
    { provide: INGEST_ACK_MODE, useValue: 'held' },
    IngestMetrics,
    MetricsServer,
    RejectionRepository,
    DeviceStatusRepository,
    IngestInstanceRepository,
    IngestHeartbeatService,
    DeviceRegistryService,
    IngestMqttConnection,
    DevicePresenceService,
    ReadingStream,
    IngestWriters,
    IngestOutputs,
    DeviceMessageHandler,
    IngestPipeline,
    SessionFilters,
    IngestSession,
    IngestService,
    ...ALERTING_PROVIDERS,
  ],
  exports: [ReadingStream, IngestMqttConnection, IngestMetrics],
})
export class IngestModule {}
