import { Inject, Injectable, Logger, type OnModuleInit } from '@nestjs/common';
import { LANTERN_CONFIG, type LanternConfig } from '@lantern/config';
import { decodeInternalEvent, topicsFor } from '@lantern/messaging';
import { IngestMqttConnection } from '../consumer/ingest-mqtt.connection.js';
import { AlertChangeSync } from './alert-change-sync.js';
import { RuleOverrideSync } from './rule-override-sync.js';

/**
 * The api's announcements the streaming core follows — a patient's changed rule overrides, a
 * clinician's acknowledgement or resolution — heard on the ingest's one broker connection, so the
 * in-memory state follows within a broker round trip. A payload that does not decode is ignored
 * (the periodic re-read of overrides makes good whatever is missed).
 */
@Injectable()
export class InternalEventsListener implements OnModuleInit {
  private readonly logger = new Logger('InternalEvents');

  constructor(
    @Inject(LANTERN_CONFIG) private readonly config: LanternConfig,
    private readonly connection: IngestMqttConnection,
    private readonly rules: RuleOverrideSync,
    private readonly alertChanges: AlertChangeSync,
  ) {}

  /** Registered before the connection starts (IngestService, bootstrap), so its filters include them. */
  onModuleInit(): void {
    const topics = topicsFor(this.config.mqttTopicRoot);
    this.connection.onControlTopic(topics.rulesChanged, (payload) => {
      const event = decodeInternalEvent('rulesChanged', payload);
      if (event) this.settle(topics.rulesChanged, this.rules.reloadRules(event.patientId));
    });
    this.connection.onControlTopic(topics.alertChanged, (payload) => {
      const event = decodeInternalEvent('alertChanged', payload);
      if (event) this.settle(topics.alertChanged, this.alertChanges.reloadAlert(event.alertId, event.transitions));
    });
  }

  private settle(topic: string, task: Promise<void>): void {
    task.catch((error: unknown) => this.logger.warn(`Applying ${topic} failed: ${(error as Error).message}`));
  }
}
