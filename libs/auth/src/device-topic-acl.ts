import { CANONICAL_UUID_PATTERN } from '@lantern/domain';
import { parseDeviceTopic } from '@lantern/messaging/contract';

/** What a client asks the broker to do with a topic. */
export type MqttAction = 'publish' | 'subscribe';

/**
 * Is `value` a device id exactly as Lantern issues it (PostgreSQL's `uuid::text`: lowercase,
 * hyphenated)? Other spellings of the same UUID are refused rather than lowercased: the devices
 * table would match them (the uuid type ignores case), but every topic, cache and streaming state
 * is keyed by the text, so an upper-case twin would be a second device.
 */
export function isCanonicalDeviceId(value: string): boolean {
  return CANONICAL_UUID_PATTERN.test(value);
}

/**
 * A device connects with its own id as MQTT client id, nothing else. So no device can take the
 * client id of another device (which would kick that device off and resume its session) or of a
 * Lantern service such as the ingest (whose persistent session holds the telemetry queue).
 */
export function isDeviceClientIdAllowed(deviceId: string, clientId: string | undefined): boolean {
  return isCanonicalDeviceId(deviceId) && clientId === deviceId;
}

/**
 * The device ACL of contract §1, shared by the embedded broker and the HTTP hooks for external
 * brokers: a device publishes only its own telemetry and status, and subscribes (or receives) only
 * its own errors topic. Exact topics, no wildcards: a device never needs one.
 */
export function isDeviceTopicAllowed(root: string, deviceId: string, action: MqttAction, topic: string): boolean {
  if (!isCanonicalDeviceId(deviceId)) return false;
  const parsed = parseDeviceTopic(root, topic);
  if (parsed?.deviceId !== deviceId) return false;
  return action === 'publish' ? parsed.kind === 'telemetry' || parsed.kind === 'status' : parsed.kind === 'errors';
}
