import type { AlertResource, LiveDeviceEvent, PatientNotificationResource } from '@lantern/domain';
import { parsePatientEventTopic, type PatientEventKind, type Topics } from './topics.js';

/**
 * Payload of each patient event topic `{root}/events/patients/{id}/{kind}`: published by the ingest
 * role, consumed by the api role and relayed as the Socket.IO events of the same payload.
 */
export interface PatientEventPayloads {
  alerts: AlertResource;
  devices: LiveDeviceEvent;
  notifications: PatientNotificationResource;
}

/** The topic of one patient event kind. */
export function patientEventTopic(topics: Topics, kind: PatientEventKind, patientId: string): string {
  switch (kind) {
    case 'alerts':
      return topics.patientAlerts(patientId);
    case 'devices':
      return topics.patientDevices(patientId);
    case 'notifications':
      return topics.patientNotifications(patientId);
  }
}

export type PatientEvent = {
  [K in PatientEventKind]: { kind: K; patientId: string; payload: PatientEventPayloads[K] };
}[PatientEventKind];

/**
 * Reads a broker message on a patient event topic. The payload is our own (published by the
 * ingest), so only its JSON shape is trusted, not re-validated; undefined for other topics or bad JSON.
 */
export function decodePatientEvent(root: string, topic: string, payload: Uint8Array): PatientEvent | undefined {
  const parsed = parsePatientEventTopic(root, topic);
  if (!parsed) return undefined;
  try {
    const body: unknown = JSON.parse(Buffer.from(payload).toString('utf8'));
    if (typeof body !== 'object' || body === null) return undefined;
    return { kind: parsed.kind, patientId: parsed.patientId, payload: body } as PatientEvent;
  } catch {
    return undefined;
  }
}

/** What can publish to the broker: satisfied by mqtt.js's client and by ServiceMqttClient-like wrappers. */
export interface BrokerPublisher {
  publish(
    topic: string,
    payload: string | Buffer,
    options: { qos: 0 | 1; retain?: boolean },
    callback?: (error?: Error) => void,
  ): unknown;
}

/** Publishes typed patient events, so a payload cannot go to the wrong topic. */
export class PatientEventPublisher {
  constructor(
    private readonly broker: BrokerPublisher,
    private readonly topics: Topics,
  ) {}

  /** Publishes at QoS 1; delivery failures are reported to `onError` (events must never throw into the pipeline). */
  publish<K extends PatientEventKind>(
    kind: K,
    patientId: string,
    payload: PatientEventPayloads[K],
    onError?: (error: Error) => void,
  ): void {
    this.broker.publish(
      patientEventTopic(this.topics, kind, patientId),
      JSON.stringify(payload),
      { qos: 1 },
      (error) => {
        if (error && onError) onError(error);
      },
    );
  }
}
