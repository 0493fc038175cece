import { Inject, Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import { LANTERN_CONFIG, type LanternConfig } from '@lantern/config';
import type { DeviceStatusReport, LiveDeviceEvent } from '@lantern/domain';
import { PatientEventPublisher, topicsFor } from '@lantern/messaging';
import { DeviceStatusRepository, type DeviceSeen, type IngestDevice } from '@lantern/storage';
import { IngestMqttConnection } from '../consumer/ingest-mqtt.connection.js';
import { DeviceRegistryService } from './device-registry.service.js';
import type { Mutable } from './mutable.js';

/** How often last_seen_at is written: one UPDATE for all devices due, not one per message. */
const LAST_SEEN_FLUSH_MS = 2000;
/**
 * A device's last_seen_at is written again only once it has moved this far (or its online flag
 * changed): a 1 Hz device is written every 10 s instead of every flush, five times fewer row
 * versions for the database to write, log and vacuum at 10,000 devices (docs/ingest.md).
 */
export const LAST_SEEN_RESOLUTION_MS = 10_000;

/**
 * Online/battery/last-seen of devices as the ingest hears them: keeps the registry's view current,
 * publishes a `devices` patient event when online or battery changes, and folds last-seen times
 * into a periodic batched write. last_seen_at is informational and restores the streaming core's
 * "last heard" after a restart: after a crash it lags by at most LAST_SEEN_RESOLUTION_MS plus a
 * flush interval (the next message restores it); a graceful stop writes every device exactly.
 */
@Injectable()
export class DevicePresenceService implements OnApplicationShutdown {
  private readonly logger = new Logger('DevicePresence');
  private readonly events: PatientEventPublisher;
  /**
   * The newest last-seen of each device heard from since its last write, updated in place (a new
   * object per message outlived the young generation: docs/performance.md, "What survives a
   * scavenge"); an entry is never changed once a flush has taken it out.
   */
  private dirty = new Map<string, Mutable<DeviceSeen>>();
  /** The last_seen_at last written per device. */
  private readonly written = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;
  private flushing = false;

  constructor(
    @Inject(LANTERN_CONFIG) config: LanternConfig,
    private readonly registry: DeviceRegistryService,
    private readonly repository: DeviceStatusRepository,
    connection: IngestMqttConnection,
  ) {
    this.events = new PatientEventPublisher(connection, topicsFor(config.mqttTopicRoot));
  }

  start(): void {
    this.timer = setInterval(() => void this.flush(), LAST_SEEN_FLUSH_MS);
    this.timer.unref();
  }

  async onApplicationShutdown(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.flush(true);
  }

  /** A telemetry message arrived from the device: it is online and was seen now. */
  heardFrom(device: IngestDevice, at: number): void {
    const becameOnline = !device.online;
    const lastSeenAt = Math.max(device.lastSeenAt ?? 0, at);
    // Runs for every telemetry message: plain literals, no conditional spreads.
    const updated =
      this.registry.update(device.id, becameOnline ? { lastSeenAt, online: true } : { lastSeenAt }) ?? device;
    const prior = this.dirty.get(device.id);
    if (prior === undefined)
      this.dirty.set(
        device.id,
        becameOnline ? { deviceId: device.id, lastSeenAt, online: true } : { deviceId: device.id, lastSeenAt },
      );
    else {
      prior.lastSeenAt = lastSeenAt;
      if (becameOnline) prior.online = true;
    }
    if (becameOnline) this.publish(updated);
  }

  /** A status message was accepted: update the view, publish an event when online or battery changed. */
  statusReceived(device: IngestDevice, status: DeviceStatusReport, receivedAt: number): void {
    // A device that talks is online; `{ online: false }` is normally its last will, sent by the broker
    // on its behalf, so it does not count as hearing from the device.
    const online = status.online ?? true;
    const battery = status.battery ?? device.battery;
    const lastSeenAt = online ? Math.max(device.lastSeenAt ?? 0, receivedAt) : device.lastSeenAt;
    const changed = online !== device.online || battery !== device.battery;
    const updated =
      this.registry.update(device.id, {
        online,
        ...(lastSeenAt === undefined ? {} : { lastSeenAt }),
        ...(battery === undefined ? {} : { battery }),
      }) ?? device;
    // The status row itself is written by the pipeline's status writer (acknowledged after commit);
    // a pending last-seen write must not undo its online flag.
    const prior = this.dirty.get(device.id);
    if (prior) prior.online = online;
    if (changed) this.publish(updated);
  }

  /**
   * Writes the last-seen times that are due — an online flag to store, or moved by
   * LAST_SEEN_RESOLUTION_MS since written — or with `all` every pending one; on failure they are
   * kept for the next flush.
   */
  async flush(all = false): Promise<void> {
    if (this.flushing || this.dirty.size === 0) return;
    const batch: DeviceSeen[] = [];
    for (const [id, seen] of this.dirty)
      if (
        all ||
        seen.online !== undefined ||
        seen.lastSeenAt - (this.written.get(id) ?? -Infinity) >= LAST_SEEN_RESOLUTION_MS
      ) {
        batch.push(seen);
        this.dirty.delete(id);
      }
    if (batch.length === 0) return;
    this.flushing = true;
    try {
      await this.repository.touchLastSeen(batch);
      for (const seen of batch) this.written.set(seen.deviceId, seen.lastSeenAt);
    } catch (error) {
      for (const seen of batch) if (!this.dirty.has(seen.deviceId)) this.dirty.set(seen.deviceId, seen);
      this.logger.warn(`last_seen_at update failed (kept for the next flush): ${(error as Error).message}`);
    } finally {
      this.flushing = false;
    }
  }

  private publish(device: IngestDevice): void {
    const event: LiveDeviceEvent = {
      patientId: device.patientId,
      deviceId: device.id,
      online: device.online,
      battery: device.battery ?? null,
      lastSeenAt: device.lastSeenAt === undefined ? null : new Date(device.lastSeenAt).toISOString(),
    };
    this.events.publish('devices', device.patientId, event, (error) =>
      this.logger.warn(`Device event not published: ${error.message}`),
    );
  }
}
