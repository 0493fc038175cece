import { timingSafeEqual } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { LANTERN_CONFIG, type LanternConfig } from '@lantern/config';
import { DeviceRepository } from '@lantern/storage';
import { verifyDeviceSecret } from './device-credentials.js';
import { isDeviceTopicAllowed, type MqttAction } from './device-topic-acl.js';

export interface MqttAuthentication {
  readonly allowed: boolean;
  /** Lantern's own service credential: every topic, no ACL. */
  readonly superuser: boolean;
  /** Why a connection was refused; for the broker's log, never a secret. */
  readonly reason?: string;
}

function sameText(a: string, b: string): boolean {
  const x = Buffer.from(a, 'utf8');
  const y = Buffer.from(b, 'utf8');
  return x.length === y.length && timingSafeEqual(x, y);
}

/**
 * Broker-side identity (contract §1): MQTT username = device id, password = its secret; the
 * service credential (MQTT_USERNAME / MQTT_PASSWORD) for Lantern's own processes. Behind the HTTP
 * hooks for external brokers; every decision reads the registry, so a rotated or decommissioned
 * secret stops working at once.
 */
@Injectable()
export class MqttAccessService {
  constructor(
    private readonly devices: DeviceRepository,
    @Inject(LANTERN_CONFIG) private readonly config: LanternConfig,
  ) {}

  isServiceUser(username: string): boolean {
    return username === this.config.mqttUsername;
  }

  async authenticate(username: string, password: string): Promise<MqttAuthentication> {
    if (this.isServiceUser(username)) {
      const expected = this.config.mqttPassword;
      return expected !== undefined && sameText(password, expected)
        ? { allowed: true, superuser: true }
        : { allowed: false, superuser: false, reason: 'bad service credentials' };
    }
    const device = await this.devices.findCredentials(username);
    if (device === undefined) return { allowed: false, superuser: false, reason: 'unknown device' };
    if (device.decommissioned) return { allowed: false, superuser: false, reason: 'device decommissioned' };
    if (!verifyDeviceSecret(password, device.secretHash))
      return { allowed: false, superuser: false, reason: 'bad device secret' };
    return { allowed: true, superuser: false };
  }

  /** May `username` publish to / subscribe to (or receive from) `topic`? */
  async authorize(username: string, action: MqttAction, topic: string): Promise<boolean> {
    if (this.isServiceUser(username)) return true;
    if (!isDeviceTopicAllowed(this.config.mqttTopicRoot, username, action, topic)) return false;
    // Checked again here: an external broker keeps a connected client after its device is decommissioned.
    const device = await this.devices.findCredentials(username);
    return device !== undefined && !device.decommissioned;
  }
}
