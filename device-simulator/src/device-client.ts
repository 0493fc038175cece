import { topicsFor, type Topics } from '@lantern/messaging/contract';
import mqtt, { type MqttClient } from 'mqtt';
import type { StatusPayload, TelemetryPayload } from './plan.js';

export interface DeviceCredentials {
  deviceId: string;
  secret: string;
}

export interface DeviceClientOptions extends DeviceCredentials {
  /** `mqtt://` or, as a device on the network connects, `mqtts://` (with `ca` for a private or self-signed certificate). */
  mqttUrl: string;
  /** CA certificate(s) the device trusts instead of the system's: the broker's self-signed certificate, say. */
  ca?: Buffer;
  topicRoot?: string;
  /** Replies on `{root}/devices/{id}/errors` (contract §1.1). */
  onErrorReply?: (reply: unknown) => void;
  keepaliveSec?: number;
  connectTimeoutMs?: number;
}

/**
 * One virtual device's MQTT connection, as a real device would hold it (contract §1): username =
 * device id, password = secret, QoS 1 publishes, a retained last will `{ online: false }` on its
 * status topic, and a subscription to its errors topic.
 */
export class DeviceClient {
  readonly topics: Topics;
  private client: MqttClient | undefined;

  constructor(private readonly options: DeviceClientOptions) {
    this.topics = topicsFor(options.topicRoot ?? 'lantern/v1');
  }

  get deviceId(): string {
    return this.options.deviceId;
  }

  get connected(): boolean {
    return this.client?.connected ?? false;
  }

  /** Connects (or reconnects after `drop`), announces itself online, and listens for error replies. */
  async connect(): Promise<void> {
    const { deviceId, secret, mqttUrl } = this.options;
    const client = mqtt.connect(mqttUrl, {
      clientId: deviceId, // a device's client id is its id (the broker refuses any other)
      username: deviceId,
      password: secret,
      clean: true,
      keepalive: this.options.keepaliveSec ?? 30,
      reconnectPeriod: 1000,
      connectTimeout: this.options.connectTimeoutMs ?? 10_000,
      ...(this.options.ca && { ca: this.options.ca }),
      will: {
        topic: this.topics.status(deviceId),
        payload: Buffer.from(JSON.stringify({ online: false })),
        qos: 1,
        retain: true,
      },
    });
    this.client = client;
    client.on('message', (topic, payload) => {
      if (topic !== this.topics.errors(deviceId)) return;
      let reply: unknown;
      try {
        reply = JSON.parse(payload.toString('utf8'));
      } catch {
        reply = payload.toString('utf8');
      }
      this.options.onErrorReply?.(reply);
    });
    await new Promise<void>((resolve, reject) => {
      const onError = (error: Error) => {
        client.end(true);
        reject(new Error(`device ${deviceId}: MQTT connection refused: ${error.message}`));
      };
      client.once('error', onError);
      client.once('connect', () => {
        client.off('error', onError);
        // Errors after the first connect (a dropped connection, an ACL refusal) are retried by mqtt.js.
        client.on('error', () => undefined);
        resolve();
      });
    });
    if (this.options.onErrorReply) await client.subscribeAsync(this.topics.errors(deviceId), { qos: 1 });
  }

  /** Publishes telemetry; resolves when the broker acknowledges (QoS 1). */
  async sendTelemetry(payload: TelemetryPayload, qos: 0 | 1 = 1): Promise<void> {
    await this.publishRaw('telemetry', Buffer.from(JSON.stringify(payload), 'utf8'), { qos });
  }

  /** Publishes a status message, retained so a new subscriber sees the latest. */
  async sendStatus(payload: StatusPayload): Promise<void> {
    await this.publishRaw('status', Buffer.from(JSON.stringify(payload), 'utf8'), { qos: 1, retain: true });
  }

  /** Publishes bytes as they are to `{root}/devices/{deviceId ?? own id}/{topic}` (malformed-input scenarios). */
  async publishRaw(
    topic: string,
    payload: Buffer,
    options: { qos?: 0 | 1; retain?: boolean; deviceId?: string } = {},
  ): Promise<void> {
    const client = this.requireClient();
    const target = this.topics.deviceLevel(options.deviceId ?? this.options.deviceId, topic);
    await client.publishAsync(target, payload, { qos: options.qos ?? 1, retain: options.retain ?? false });
  }

  /** Loses the network: the socket is destroyed without DISCONNECT, so the broker publishes the last will. */
  async drop(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    if (client) await client.endAsync(true);
  }

  /** Goes offline cleanly, saying so first (a clean DISCONNECT suppresses the will). */
  async close(): Promise<void> {
    const client = this.client;
    if (!client) return;
    if (client.connected) {
      await client
        .publishAsync(this.topics.status(this.options.deviceId), JSON.stringify({ online: false }), {
          qos: 1,
          retain: true,
        })
        .catch(() => undefined);
    }
    this.client = undefined;
    await client.endAsync();
  }

  private requireClient(): MqttClient {
    if (!this.client) throw new Error(`device ${this.options.deviceId} is not connected`);
    return this.client;
  }
}
