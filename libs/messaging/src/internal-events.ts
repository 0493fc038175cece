import type { AlertTransitionKind } from '@lantern/alerting';
import { isUuid } from '@lantern/domain';
import type { Topics } from './topics.js';

/** `{root}/internal/rules-changed`: re-read this patient's rule overrides. */
export interface RulesChangedEvent {
  readonly patientId: string;
}

/** `{root}/internal/alert-changed`: adopt this alert as stored, and tell the webhooks of these transitions. */
export interface AlertChangedEvent {
  readonly alertId: string;
  readonly transitions: readonly AlertTransitionKind[];
}

/** `{root}/internal/device-revoked`: drop this device's broker connection now. */
export interface DeviceRevokedEvent {
  readonly deviceId: string;
}

/**
 * Payload of each internal topic (not part of the public contract): published by the api role,
 * consumed by the ingest (rules, alerts) and the embedded broker (revocations).
 */
export interface InternalEventPayloads {
  rulesChanged: RulesChangedEvent;
  alertChanged: AlertChangedEvent;
  deviceRevoked: DeviceRevokedEvent;
}

export type InternalEventKind = keyof InternalEventPayloads;

/** The topic of one internal event kind. */
export function internalEventTopic(topics: Topics, kind: InternalEventKind): string {
  return topics[kind];
}

/** Every transition kind, checked by the compiler against the core's type: a new kind fails here first. */
const TRANSITION_KINDS: Record<AlertTransitionKind, true> = {
  opened: true,
  updated: true,
  escalated: true,
  acknowledged: true,
  cleared: true,
  resolved: true,
};

function isTransitionKind(value: unknown): value is AlertTransitionKind {
  return typeof value === 'string' && Object.hasOwn(TRANSITION_KINDS, value);
}

function readObject(payload: Uint8Array | string): Record<string, unknown> | undefined {
  try {
    const body: unknown = JSON.parse(typeof payload === 'string' ? payload : Buffer.from(payload).toString('utf8'));
    return typeof body === 'object' && body !== null && !Array.isArray(body)
      ? (body as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

const DECODERS: { [K in InternalEventKind]: (body: Record<string, unknown>) => InternalEventPayloads[K] | undefined } =
  {
    rulesChanged: ({ patientId }) => (isUuid(patientId) ? { patientId } : undefined),
    alertChanged: ({ alertId, transitions }) => {
      if (!isUuid(alertId)) return undefined;
      if (transitions !== undefined && !(Array.isArray(transitions) && transitions.every(isTransitionKind)))
        return undefined;
      return { alertId, transitions: transitions ?? [] };
    },
    deviceRevoked: ({ deviceId }) => (isUuid(deviceId) ? { deviceId } : undefined),
  };

/**
 * Validates the payload of one internal topic: the right shape with well-formed ids, or undefined
 * (a message from an older or foreign publisher is ignored, never half-applied).
 */
export function decodeInternalEvent<K extends InternalEventKind>(
  kind: K,
  payload: Uint8Array | string,
): InternalEventPayloads[K] | undefined {
  const body = readObject(payload);
  return body && DECODERS[kind](body);
}

/** The internal event a topic carries, if it is one of them. */
export function internalEventKind(topics: Topics, topic: string): InternalEventKind | undefined {
  for (const kind of Object.keys(DECODERS) as InternalEventKind[]) if (topics[kind] === topic) return kind;
  return undefined;
}

/** The wire form of one internal event (QoS 1, never retained). */
export function encodeInternalEvent<K extends InternalEventKind>(
  topics: Topics,
  kind: K,
  payload: InternalEventPayloads[K],
): { topic: string; payload: string } {
  return { topic: internalEventTopic(topics, kind), payload: JSON.stringify(payload) };
}
