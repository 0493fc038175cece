import { randomBytes } from 'node:crypto';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';

/** A topic root no other test uses, so tests can share a broker. */
export function uniqueTopicRoot(prefix = 'test'): string {
  return `${prefix}-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}/v1`;
}

/** Connects a plain mqtt.js client (a device, an observer) and waits for CONNACK. */
export async function connectMqtt(url: string, options: IClientOptions = {}): Promise<MqttClient> {
  const client = mqtt.connect(url, { reconnectPeriod: 0, connectTimeout: 5000, ...options });
  await new Promise<void>((resolve, reject) => {
    client.once('connect', () => resolve());
    client.once('error', reject);
  });
  return client;
}

/** Collects the messages of a subscription, parsed as JSON when possible. */
export async function collectMessages(client: MqttClient, filter: string): Promise<{ topic: string; body: unknown }[]> {
  const received: { topic: string; body: unknown }[] = [];
  const pattern = new RegExp(
    `^${filter
      .replace(/[.*?^${}()|[\]\\]/g, '\\$&')
      .replace(/\+/g, '[^/]+')
      .replace(/#$/, '.*')}$`,
  );
  client.on('message', (topic, payload) => {
    if (!pattern.test(topic)) return;
    let body: unknown;
    try {
      body = JSON.parse(payload.toString('utf8'));
    } catch {
      body = payload.toString('utf8');
    }
    received.push({ topic, body });
  });
  await client.subscribeAsync(filter, { qos: 1 });
  return received;
}
