import { Inject, Injectable, Logger, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { LANTERN_CONFIG, type LanternConfig } from '@lantern/config';
import { deviceRevokedTopic } from '@lantern/auth';
import { brokerTrust, ServiceMqttClient } from '@lantern/messaging';

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
  private client: ServiceMqttClient | undefined;

  constructor(@Inject(LANTERN_CONFIG) private readonly config: LanternConfig) {}

  onModuleInit(): void {
    // Not awaited (ServiceMqttClient.open): the api starts with the broker down. One warning per distinct error.
    let last = '';
    this.client = ServiceMqttClient.open(
      {
        url: brokerUrl(this.config),
        username: this.config.mqttUsername,
        password: this.config.mqttPassword,
        clientIdPrefix: 'lantern-api',
        connectTimeoutMs: 5000,
        ...brokerTrust(this.config.mqttCaFile),
      },
      (error) => {
        if (error.message !== last) this.logger.warn(`Broker connection: ${error.message}`);
        last = error.message;
      },
    );
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
      await this.client.publish(topic, JSON.stringify({ deviceId }), { qos: 1 });
    } catch (error) {
      this.logger.warn(`Could not announce revocation of device ${deviceId}: ${(error as Error).message}`);
    }
  }

  async onModuleDestroy(): Promise<void> {
    await this.client?.close();
  }
}
