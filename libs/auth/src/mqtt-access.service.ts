import { Inject, Injectable } from '@nestjs/common';
import { LANTERN_CONFIG, type LanternConfig } from '@lantern/config';
import { DeviceRepository } from '@lantern/storage';
import {
  isCanonicalDeviceId,
  isDeviceClientIdAllowed,
  isDeviceTopicAllowed,
  type MqttAction,
} from './device-topic-acl.js';
import { decideMqttLogin } from './mqtt-login.js';

export interface MqttAuthentication {
  readonly allowed: boolean;
  /** Lantern's own service credential: every topic, no ACL. */
  readonly superuser: boolean;
  /** Why a connection was refused; for the broker's log, never a secret. */
  readonly reason?: string;
}

export interface MqttAuthorization {
  readonly allowed: boolean;
  /** Why an operation was refused; for the broker's log. */
  readonly reason?: string;
}

/**
 * Broker-side identity (contract §1): MQTT username = device id (lowercase canonical), client id =
 * the same id, password = its secret; the service credential (MQTT_USERNAME / MQTT_PASSWORD) for
 * Lantern's own processes, with any client id. Behind the HTTP hooks for external brokers; the login
 * is decided by `decideMqttLogin`, as in the embedded broker. Every decision reads the registry, so a
 * rotated or decommissioned secret stops working at once.
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

  /**
   * May this client connect? A device must present its own id as `clientId`; an absent client id
   * (a hook body configured without it) refuses the device rather than skipping the check.
   */
  async authenticate(username: string, password: string, clientId: string | undefined): Promise<MqttAuthentication> {
    const decision = await decideMqttLogin(
      { username, password, clientId },
      { username: this.config.mqttUsername, password: this.config.mqttPassword },
      (id) => this.devices.findCredentials(id),
    );
    return decision.allowed
      ? { allowed: true, superuser: decision.identity.kind === 'service' }
      : { allowed: false, superuser: false, reason: decision.reason };
  }

  /** May client `clientId` of `username` publish to / subscribe to (or receive from) `topic`? */
  async authorize(
    username: string,
    clientId: string | undefined,
    action: MqttAction,
    topic: string,
  ): Promise<MqttAuthorization> {
    if (this.isServiceUser(username)) return { allowed: true };
    const refused = this.deviceIdentityRefusal(username, clientId);
    if (refused !== undefined) return { allowed: false, reason: refused };
    if (!isDeviceTopicAllowed(this.config.mqttTopicRoot, username, action, topic))
      return { allowed: false, reason: 'not its own topic' };
    // Checked again here: an external broker keeps a connected client after its device is decommissioned.
    const device = await this.devices.findCredentials(username);
    if (device === undefined) return { allowed: false, reason: 'unknown device' };
    if (device.decommissioned) return { allowed: false, reason: 'device decommissioned' };
    return { allowed: true };
  }

  /** Why `username`/`clientId` cannot be a device's identity, before any lookup; undefined when they can. */
  private deviceIdentityRefusal(username: string, clientId: string | undefined): string | undefined {
    // Not lowercased: the uuid column would match, but topics and the ingest's state are keyed by the text.
    if (!isCanonicalDeviceId(username)) return 'user name is not a device id in lowercase canonical form';
    if (clientId === undefined) return 'no clientid in the hook request (configure the broker to send it)';
    if (!isDeviceClientIdAllowed(username, clientId)) return 'client id differs from the device id';
    return undefined;
  }
}
