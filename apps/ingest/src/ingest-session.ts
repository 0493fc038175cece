import { Injectable } from '@nestjs/common';
import { AlertOutputWriter } from './alerting/alert-output.writer.js';
import { IngestMqttConnection } from './consumer/ingest-mqtt.connection.js';
import { SessionFilters } from './consumer/session-filters.js';
import { IngestHeartbeatService } from './health/ingest-heartbeat.service.js';
import { IngestPipeline } from './pipeline/ingest.pipeline.js';

/**
 * The ingest's consuming session, from start to stop, in order: the pipeline wired to the
 * connection (before it connects, so redeliveries find it), the broker's protocol probed, the
 * current filters subscribed and then the stale ones dropped (SessionFilters), and the heartbeat
 * reporting it with the writers that hold its messages. Stops consuming first: whatever is not yet
 * acknowledged stays with the broker and comes back on the next start.
 */
@Injectable()
export class IngestSession {
  constructor(
    private readonly connection: IngestMqttConnection,
    private readonly filters: SessionFilters,
    private readonly pipeline: IngestPipeline,
    private readonly heartbeat: IngestHeartbeatService,
    private readonly alertWriter: AlertOutputWriter,
  ) {}

  /** Starts consuming; the devices must be loaded (DeviceRegistryService.start) before. */
  async start(): Promise<void> {
    this.connection.onMessage((message) => this.pipeline.accept(message));
    const filters = this.connection.filtersFor(await this.connection.probe());
    await this.connection.start(await this.filters.ledgerFor(filters));
    const { readings, rejections, statuses } = this.pipeline;
    this.heartbeat.start({ readings, rejections, statuses, alerts: this.alertWriter });
  }

  /** Stops consuming, then the writers, then the heartbeat (recording an orderly stop). */
  async stop(): Promise<void> {
    await this.connection.stop();
    this.pipeline.close();
    await this.heartbeat.stop();
  }
}
