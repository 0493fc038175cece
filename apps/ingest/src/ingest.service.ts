import { Injectable, Logger, type BeforeApplicationShutdown, type OnApplicationBootstrap } from '@nestjs/common';
import { IngestMqttConnection } from './consumer/ingest-mqtt.connection.js';
import { IngestMetrics } from './metrics/ingest-metrics.js';
import { MetricsServer } from './metrics/metrics.server.js';
import { DevicePresenceService } from './pipeline/device-presence.service.js';
import { DeviceRegistryService } from './pipeline/device-registry.service.js';
import { IngestPipeline } from './pipeline/ingest.pipeline.js';

/** Starts the ingest role in order: devices loaded, pipeline wired, then the broker connection. */
@Injectable()
export class IngestService implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger('Ingest');
  /** Port /metrics listens on (after start). */
  metricsPort: number | undefined;

  constructor(
    private readonly connection: IngestMqttConnection,
    private readonly pipeline: IngestPipeline,
    private readonly registry: DeviceRegistryService,
    private readonly presence: DevicePresenceService,
    private readonly metricsServer: MetricsServer,
    private readonly metrics: IngestMetrics,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    this.metrics.onScrape(() => this.pipeline.sampleDepths());
    this.metricsPort = await this.metricsServer.start();
    await this.registry.start();
    this.presence.start();
    this.connection.onMessage((message) => this.pipeline.accept(message));
    await this.connection.start();
    this.logger.log('Ingest running');
  }

  /** Stops consuming first: whatever is not yet acknowledged stays with the broker and comes back on the next start. */
  async beforeApplicationShutdown(): Promise<void> {
    await this.connection.stop();
    this.pipeline.close();
  }
}
