import { randomUUID } from 'node:crypto';
import { Inject, Injectable, Logger, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import mqtt, { type MqttClient } from 'mqtt';
import { LANTERN_CONFIG, type LanternConfig } from '@lantern/config';
import { deviceRevokedTopic } from '@lantern/auth';

/** The broker the api talks to: MQTT_URL, or the embedded broker on this machine. */
export function brokerUrl(config: LanternConfig): string {
  return config.mqttUrl ?? `mqtt://127.0.0.1:${config.embeddedMqttPort}`;
}

/**
 * Announces rotated or decommissioned device credentials on `{root}/internal/device-revoked`, so
 * the embedded broker drops the device's connection at once. Best effort: the registry is already
 * updated, so a broker that is down only delays the disconnect until the device's next connect or
 * authorization check; the request never fails for it.
 */
@Injectable()
export class DeviceRevocationPublisher implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger('DeviceRevocation');
  private client: MqttClient | undefined;

  constructor(@Inject(LANTERN_CONFIG) private readonly config: LanternConfig) {}

  onModuleInit(): void {
    // MQTT 3.1.1: the embedded broker (aedes) speaks nothing newer. Not awaited: the api starts with the broker down.
    this.client = mqtt.connect(brokerUrl(this.config), {
      clientId: `lantern-api-${randomUUID()}`,
      username: this.config.mqttUsername,
      password: this.config.mqttPassword,
      protocolVersion: 4,
      clean: true,
      reconnectPeriod: 2000,
      connectTimeout: 5000,
    });
    let reported = false;
    this.client.on('error', (error) => {
      if (!reported) this.logger.warn(`Broker connection: ${error.message}`);
      reported = true;
    });
    this.client.on('connect', () => (reported = false));
  }

  get connected(): boolean {
    return this.client?.connected ?? false;
  }

  async deviceRevoked(deviceId: string): Promise<void> {
    const topic = deviceRevokedTopic(this.config.mqttTopicRoot);
    if (!this.client?.connected) {
      this.logger.warn(
        `Broker unreachable: revocation of device ${deviceId} not announced; it applies at the device's next connect`,
      );
      return;
    }
    try {
      await this.client.publishAsync(topic, JSON.stringify({ deviceId }), { qos: 1 });
    } catch (error) {
      this.logger.warn(`Could not announce revocation of device ${deviceId}: ${(error as Error).message}`);
    }
  }

  async onModuleDestroy(): Promise<void> {
    await this.client?.endAsync(true);
  }
}
