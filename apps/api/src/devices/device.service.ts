import { Inject, Injectable } from '@nestjs/common';
import { LANTERN_CONFIG, type LanternConfig } from '@lantern/config';
import {
  AuditService,
  generateDeviceSecret,
  grantIncludes,
  hashDeviceSecret,
  PatientAccessService,
  type Actor,
} from '@lantern/auth';
import { ConflictError, NotFoundError, type DeviceTypeKey } from '@lantern/domain';
import { topicsFor } from '@lantern/messaging';
import { DeviceRepository, Transactions, type DeviceRecord } from '@lantern/storage';
import { ApiEventPublisher } from '../broker/api-event.publisher.js';

export interface ProvisionDeviceCommand {
  readonly patientId: string;
  readonly type: DeviceTypeKey;
  readonly serial?: string;
  readonly model?: string;
}

export interface DeviceCredentials {
  readonly username: string;
  readonly password: string;
  readonly telemetryTopic: string;
  readonly statusTopic: string;
  readonly errorsTopic: string;
}

/**
 * Device provisioning and lifecycle (contract §3.2). A device is visible exactly when its patient is.
 * Each change and its audit entry are one transaction: a secret is handed out only once it is stored
 * and recorded, and the broker is told of a revocation only after it committed.
 */
@Injectable()
export class DeviceService {
  constructor(
    private readonly devices: DeviceRepository,
    private readonly access: PatientAccessService,
    private readonly audit: AuditService,
    private readonly transactions: Transactions,
    private readonly announcements: ApiEventPublisher,
    @Inject(LANTERN_CONFIG) private readonly config: LanternConfig,
  ) {}

  /** Registers a device and issues its credentials; the secret exists in clear only in the answer. */
  async provision(
    actor: Actor,
    command: ProvisionDeviceCommand,
  ): Promise<{ device: DeviceRecord; credentials: DeviceCredentials }> {
    await this.access.assertCanSeePatient(actor.principal, command.patientId);
    const secret = generateDeviceSecret();
    const device = await this.transactions.run(async () => {
      const created = await this.devices.create({ ...command, secretHash: hashDeviceSecret(secret) });
      await this.audit.record(actor, {
        action: 'device.create',
        patientId: created.patientId,
        resource: 'device',
        resourceId: created.id,
        details: { type: created.type },
      });
      return created;
    });
    return { device, credentials: this.credentials(device.id, secret) };
  }

  async list(actor: Actor, patientId?: string): Promise<DeviceRecord[]> {
    // A caregiver sees devices only of patients who shared `devices`.
    if (patientId !== undefined) await this.access.assertGrant(actor.principal, patientId, 'devices');
    const devices = await this.devices.list(this.access.scopeOf(actor.principal, 'devices'), patientId);
    const event = { action: 'device.list', resource: 'device', details: { count: devices.length } };
    // Across patients: one entry per patient whose devices were listed, so `GET /audit?patientId=` finds it.
    if (patientId !== undefined) await this.audit.record(actor, { ...event, patientId: patientId.toLowerCase() });
    else
      await this.audit.recordPerPatient(
        actor,
        event,
        devices.map((d) => d.patientId),
      );
    return devices;
  }

  async get(actor: Actor, deviceId: string): Promise<DeviceRecord> {
    const device = await this.findVisible(actor, deviceId);
    await this.audit.record(actor, {
      action: 'device.read',
      patientId: device.patientId,
      resource: 'device',
      resourceId: device.id,
    });
    return device;
  }

  /** New secret; the old one stops working at once (registry first, then the broker is told to disconnect). */
  async rotateSecret(
    actor: Actor,
    deviceId: string,
  ): Promise<{ device: DeviceRecord; credentials: DeviceCredentials }> {
    const existing = await this.findVisible(actor, deviceId);
    if (existing.decommissionedAt !== undefined) throw new ConflictError(`Device ${deviceId} is decommissioned`);
    const secret = generateDeviceSecret();
    const device = await this.transactions.run(async () => {
      const rotated = await this.devices.rotateSecret(deviceId, hashDeviceSecret(secret));
      if (rotated === undefined) throw new ConflictError(`Device ${deviceId} is decommissioned`);
      await this.audit.record(actor, {
        action: 'device.rotate_secret',
        patientId: rotated.patientId,
        resource: 'device',
        resourceId: rotated.id,
      });
      return rotated;
    });
    // The embedded broker drops the device's connections now; otherwise at its next connect.
    await this.announcements.announce('deviceRevoked', { deviceId: device.id });
    return { device, credentials: this.credentials(device.id, secret) };
  }

  /** Revokes the credentials at once and keeps the device's history (readings, alerts). Idempotent. */
  async decommission(actor: Actor, deviceId: string): Promise<DeviceRecord> {
    const existing = await this.findVisible(actor, deviceId);
    const device = await this.transactions.run(async () => {
      const decommissioned = await this.devices.decommission(deviceId);
      if (decommissioned === undefined) throw new NotFoundError('Device', deviceId);
      if (existing.decommissionedAt === undefined) {
        await this.audit.record(actor, {
          action: 'device.decommission',
          patientId: decommissioned.patientId,
          resource: 'device',
          resourceId: decommissioned.id,
        });
      }
      return decommissioned;
    });
    // The embedded broker drops the device's connections now; otherwise at its next connect.
    await this.announcements.announce('deviceRevoked', { deviceId: device.id });
    return device;
  }

  private async findVisible(actor: Actor, deviceId: string): Promise<DeviceRecord> {
    const device = await this.devices.findById(deviceId);
    const grant = device && (await this.access.grantOf(actor.principal, device.patientId));
    if (device === undefined || grant === undefined || !grantIncludes(grant, 'devices'))
      throw new NotFoundError('Device', deviceId);
    return device;
  }

  private credentials(deviceId: string, secret: string): DeviceCredentials {
    const topics = topicsFor(this.config.mqttTopicRoot);
    return {
      username: deviceId,
      password: secret,
      telemetryTopic: topics.telemetry(deviceId),
      statusTopic: topics.status(deviceId),
      errorsTopic: topics.errors(deviceId),
    };
  }
}
