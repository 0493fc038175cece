import { randomBytes } from 'node:crypto';
import { decodePatientEvent, type Topics } from '@lantern/messaging/contract';
import mqtt, { type MqttClient } from 'mqtt';
import { SERVICE_PASSWORD, SERVICE_USERNAME } from './chaos-broker.js';

/**
 * The chaos run's observer of the patients' events topics: when each (patient, rule) alert first came
 * open, and which notification ids came for each (alert, kind). A persistent session, so the events
 * published while the broker restarts still reach it.
 */
export class EventsObserver {
  /** `${patient} ${rule}` → first open event arrival (performance.now()). */
  readonly alertEvents = new Map<string, number>();
  /**
   * `${alertId} ${kind}` → the notification ids seen: two ids for one (alert, kind) is a duplicate
   * to people; one id delivered twice is MQTT's at-least-once, which receivers deduplicate by id.
   */
  readonly notificationEvents = new Map<string, Set<string>>();
  notificationRedeliveries = 0;

  private constructor(readonly client: MqttClient) {}

  /** Connects as the service user (`track` ends the client with the run) and subscribes to every patient's alerts and notifications. */
  static async connect(
    brokerUrl: string,
    topicRoot: string,
    topics: Topics,
    track: (client: MqttClient) => void,
  ): Promise<EventsObserver> {
    const client = await mqtt.connectAsync(brokerUrl, {
      clientId: `chaos-observer-${randomBytes(4).toString('hex')}`,
      username: SERVICE_USERNAME,
      password: SERVICE_PASSWORD,
      clean: false,
      reconnectPeriod: 500,
    });
    track(client);
    const observer = new EventsObserver(client);
    client.on('message', (topic, payload) => observer.note(topicRoot, topic, payload));
    await client.subscribeAsync([topics.patientAlerts('+'), topics.patientNotifications('+')], { qos: 1 });
    return observer;
  }

  private note(topicRoot: string, topic: string, payload: Buffer): void {
    const event = decodePatientEvent(topicRoot, topic, payload);
    if (event?.kind === 'alerts') {
      const key = `${event.patientId} ${event.payload.rule}`;
      if (event.payload.state === 'open' && !this.alertEvents.has(key)) this.alertEvents.set(key, performance.now());
    } else if (event?.kind === 'notifications' && event.payload.alertId) {
      const key = `${event.payload.alertId} ${event.payload.kind}`;
      const ids = this.notificationEvents.get(key) ?? new Set<string>();
      if (ids.has(event.payload.id)) this.notificationRedeliveries++;
      this.notificationEvents.set(key, ids.add(event.payload.id));
    }
  }
}
