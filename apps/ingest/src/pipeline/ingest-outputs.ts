import { Inject, Injectable, Logger } from '@nestjs/common';
import { LANTERN_CONFIG, type LanternConfig } from '@lantern/config';
import { topicsFor } from '@lantern/messaging';
import { IngestMqttConnection } from '../consumer/ingest-mqtt.connection.js';
import { IngestMetrics } from '../metrics/ingest-metrics.js';
import { DeadLetterBudget } from './dead-letter-budget.js';
import { DeadLetters } from './dead-letters.js';
import { DeviceErrorsReply } from './device-errors.reply.js';
import { DeviceRegistryService } from './device-registry.service.js';
import { IngestWriters } from './ingest-writers.js';
import { StorageRefusals } from './storage-refusals.js';

/**
 * The ingest's durable outputs, built once and wired to each other: the batch writers
 * (IngestWriters), the dead letters (DeadLetters, with its DeadLetterBudget and DeviceErrorsReply)
 * and what becomes of the items the database refuses (StorageRefusals). They refer to each other in
 * a cycle — a refused item becomes a dead letter, which the rejections writer stores — so the
 * refusals are handed to the writers once all exist, before the first message.
 */
@Injectable()
export class IngestOutputs {
  // The pipeline's context: dead letters, refusals and errors replies log on its behalf.
  private readonly logger = new Logger('IngestPipeline');
  readonly deadLetters: DeadLetters;
  readonly refusals: StorageRefusals;

  constructor(
    @Inject(LANTERN_CONFIG) config: LanternConfig,
    readonly writers: IngestWriters,
    registry: DeviceRegistryService,
    connection: IngestMqttConnection,
    metrics: IngestMetrics,
  ) {
    const budget = new DeadLetterBudget(
      config.ingestDeadLetterBudget,
      (deviceId) => registry.peek(deviceId)?.kind === 'known',
      metrics,
    );
    const reply = new DeviceErrorsReply(connection, topicsFor(config.mqttTopicRoot), this.logger);
    this.deadLetters = new DeadLetters(writers.rejections, budget, reply, metrics);
    this.refusals = new StorageRefusals(this.deadLetters, writers.rejections, metrics, this.logger);
    writers.handleRefusalsWith(this.refusals);
  }
}
