import { Injectable, Logger, type BeforeApplicationShutdown, type OnApplicationBootstrap } from '@nestjs/common';
import { IngestSession } from './ingest-session.js';
import { MetricsServer } from './metrics/metrics.server.js';
import { DevicePresenceService } from './pipeline/device-presence.service.js';
import { DeviceRegistryService } from './pipeline/device-registry.service.js';

/**
 * Starts the ingest role in order: the metrics server, devices loaded, presence, then the consuming
 * session (IngestSession: pipeline wired, broker connection, heartbeat). The order is kept here, not
 * left to Nest's lifecycle hooks (those of one dependency level run concurrently).
 */
@Injectable()
export class IngestService implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger('Ingest');
  /** Port /metrics listens on (after start). */
  metricsPort: number | undefined;

  constructor(
    private readonly metricsServer: MetricsServer,
    private readonly registry: DeviceRegistryService,
    private readonly presence: DevicePresenceService,
    private readonly session: IngestSession,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    this.metricsPort = await this.metricsServer.start();
    await this.registry.start();
    this.presence.start();
    await this.session.start();
    this.logger.log('Ingest running');
  }

  /** Stops consuming first: whatever is not yet acknowledged stays with the broker and comes back on the next start. */
  async beforeApplicationShutdown(): Promise<void> {
    await this.session.stop();
  }
}
