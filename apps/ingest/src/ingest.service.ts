import {
  Inject,
  Injectable,
  Logger,
  type BeforeApplicationShutdown,
  type OnApplicationBootstrap,
} from '@nestjs/common';
import { LANTERN_CONFIG, type LanternConfig } from '@lantern/config';
import { IngestInstanceRepository } from '@lantern/storage';
import { AlertOutputWriter } from './alerting/alert-output.writer.js';
import { IngestMqttConnection } from './consumer/ingest-mqtt.connection.js';
import { IngestHeartbeatService } from './health/ingest-heartbeat.service.js';
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
    @Inject(LANTERN_CONFIG) private readonly config: LanternConfig,
    private readonly connection: IngestMqttConnection,
    private readonly pipeline: IngestPipeline,
    private readonly registry: DeviceRegistryService,
    private readonly presence: DevicePresenceService,
    private readonly metricsServer: MetricsServer,
    private readonly metrics: IngestMetrics,
    private readonly instances: IngestInstanceRepository,
    private readonly heartbeat: IngestHeartbeatService,
    private readonly alertWriter: AlertOutputWriter,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    this.metrics.onScrape(() => this.pipeline.sampleDepths());
    this.metricsPort = await this.metricsServer.start();
    await this.registry.start();
    this.presence.start();
    this.connection.onMessage((message) => this.pipeline.accept(message));
    // The session may hold another configuration's filters (topic root, protocol, shared or not):
    // those are unsubscribed once the current ones are in place, or they would go on queuing there.
    const clientId = this.config.ingestMqttClientId;
    const filters = this.connection.filtersFor(await this.connection.probe());
    const previous = await this.instances.filtersOf(clientId);
    await this.connection.start({
      staleFilters: previous.filter((f) => !filters.includes(f)),
      recordFilters: (current) => {
        this.instances
          .recordFilters(clientId, current)
          .catch((error: unknown) =>
            this.logger.warn(`Recording the subscribed filters failed: ${(error as Error).message}`),
          );
      },
    });
    const { readings, rejections, statuses } = this.pipeline;
    this.heartbeat.start({ readings, rejections, statuses, alerts: this.alertWriter });
    this.logger.log('Ingest running');
  }

  /** Stops consuming first: whatever is not yet acknowledged stays with the broker and comes back on the next start. */
  async beforeApplicationShutdown(): Promise<void> {
    await this.connection.stop();
    this.pipeline.close();
    await this.heartbeat.stop();
  }
}
