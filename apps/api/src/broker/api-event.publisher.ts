import { Inject, Injectable, Logger } from '@nestjs/common';
import { LANTERN_CONFIG, type LanternConfig } from '@lantern/config';
import {
  encodeInternalEvent,
  patientEventTopic,
  topicsFor,
  type InternalEventKind,
  type InternalEventPayloads,
  type PatientEventKind,
  type PatientEventPayloads,
  type ServiceMqttClient,
  type Topics,
} from '@lantern/messaging';
import { API_BROKER } from './api-broker.tokens.js';

/**
 * What the api publishes, typed by topic: announcements to the other roles (libs/messaging
 * `internal-events.ts`: a patient's rules changed, an alert acknowledged or resolved, a device's
 * credential revoked) and the patient events of a clinician's alert command. Best effort: what they
 * tell is already committed, and each listener makes good a lost announcement (the ingest's periodic
 * re-read, the broker's check at the device's next connect), so a request never fails for it.
 */
@Injectable()
export class ApiEventPublisher {
  private readonly logger = new Logger('ApiEvents');
  private readonly topics: Topics;

  constructor(
    @Inject(LANTERN_CONFIG) config: LanternConfig,
    @Inject(API_BROKER) private readonly broker: ServiceMqttClient,
  ) {
    this.topics = topicsFor(config.mqttTopicRoot);
  }

  /** Announces an internal event at QoS 1; false (logged) when the broker is unreachable or refused it. */
  async announce<K extends InternalEventKind>(kind: K, payload: InternalEventPayloads[K]): Promise<boolean> {
    const event = encodeInternalEvent(this.topics, kind, payload);
    if (!this.broker.connected) {
      this.logger.warn(`Broker unreachable: ${event.topic} not announced`);
      return false;
    }
    try {
      await this.broker.publish(event.topic, event.payload, { qos: 1 });
      return true;
    } catch (error) {
      this.logger.warn(`Publishing ${event.topic} failed: ${(error as Error).message}`);
      return false;
    }
  }

  /** Emits a patient event at QoS 1, as the ingest does for the alerts it decides; a failure is logged. */
  async emit<K extends PatientEventKind>(kind: K, patientId: string, payload: PatientEventPayloads[K]): Promise<void> {
    const topic = patientEventTopic(this.topics, kind, patientId);
    try {
      await this.broker.publish(topic, JSON.stringify(payload), { qos: 1 });
    } catch (error) {
      this.logger.warn(`Publishing ${topic} failed: ${(error as Error).message}`);
    }
  }
}
