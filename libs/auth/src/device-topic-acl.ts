/** What a client asks the broker to do with a topic. */
export type MqttAction = 'publish' | 'subscribe';

/**
 * The device ACL of contract §1, shared by the embedded broker and the HTTP hooks for external
 * brokers: a device publishes only its own telemetry and status, and subscribes (or receives) only
 * its own errors topic. Exact topics, no wildcards: a device never needs one.
 */
export function isDeviceTopicAllowed(root: string, deviceId: string, action: MqttAction, topic: string): boolean {
  if (deviceId === '' || /[/+#]/.test(deviceId)) return false;
  const own = `${root}/devices/${deviceId}/`;
  if (!topic.startsWith(own)) return false;
  const kind = topic.slice(own.length);
  return action === 'publish' ? kind === 'telemetry' || kind === 'status' : kind === 'errors';
}

/** Topic on which the api announces `{ deviceId }` whose credentials were rotated or revoked. */
export function deviceRevokedTopic(root: string): string {
  return `${root}/internal/device-revoked`;
}
