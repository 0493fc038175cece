import { Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import { DeviceStatusRepository, type IngestDevice } from '@lantern/storage';
import { CANONICAL_UUID_PATTERN } from '@lantern/domain';
import type { Mutable } from './mutable.js';

/** How long an unknown id is remembered as unknown, so a flood of spoofed ids costs one query each per window. */
const UNKNOWN_TTL_MS = 30_000;
/**
 * Period of the poll for devices changed since the last one (decommissioning, reassignment,
 * rotation, provisioning): a decommissioned device's telemetry is refused within about this long.
 */
export const DEVICE_SYNC_MS = 1000;
/** Changes are read with this overlap: a transaction stamps `changed_at` before it commits. */
const SYNC_OVERLAP_MS = 10_000;
/** Period of the full reload, a backstop for anything the change poll cannot see (a deleted row). */
export const DEVICE_REFRESH_MS = 5 * 60_000;

/**
 * Called with the devices read (decommissioned ones too) right after each full reload (all of them)
 * or change poll (those changed), before any further message is looked up.
 */
export type DeviceReloadListener = (devices: readonly IngestDevice[]) => void;

export type DeviceLookup = { kind: 'known'; device: IngestDevice } | { kind: 'unknown' } | { kind: 'invalid' };

/**
 * The ingest's cache of devices (id → patient, type, decommissioned), loaded at start and reloaded
 * periodically; a miss (a device provisioned since the last load) is looked up once.
 */
@Injectable()
export class DeviceRegistryService implements OnApplicationShutdown {
  private readonly logger = new Logger('DeviceRegistry');
  /** Updated in place by {@link update}. */
  private devices = new Map<string, Mutable<IngestDevice>>();
  private readonly unknownUntil = new Map<string, number>();
  private refreshTimer: NodeJS.Timeout | undefined;
  private syncTimer: NodeJS.Timeout | undefined;
  /** Database clock of the last change poll (or full reload). */
  private syncedUpTo = 0;
  private syncing = false;
  private readonly reloadListeners: DeviceReloadListener[] = [];

  constructor(private readonly repository: DeviceStatusRepository) {}

  /** Loads every device and starts the change poll and the periodic full reload. */
  async start(): Promise<void> {
    await this.reload();
    this.refreshTimer = setInterval(() => {
      this.reload().catch((error: unknown) => this.logger.warn(`Device refresh failed: ${(error as Error).message}`));
    }, DEVICE_REFRESH_MS);
    this.refreshTimer.unref();
    this.syncTimer = setInterval(() => {
      this.syncChanges().catch((error: unknown) =>
        this.logger.warn(`Polling device changes failed: ${(error as Error).message}`),
      );
    }, DEVICE_SYNC_MS);
    this.syncTimer.unref();
  }

  onApplicationShutdown(): void {
    if (this.refreshTimer) clearInterval(this.refreshTimer);
    if (this.syncTimer) clearInterval(this.syncTimer);
  }

  /**
   * Applies the devices changed since the last poll, and tells the listeners about them (only them).
   * Public: tests trigger it directly. Returns how many devices were read.
   */
  async syncChanges(): Promise<number> {
    if (this.syncing) return 0;
    this.syncing = true;
    try {
      const { now, devices } = await this.repository.changedSince(this.syncedUpTo - SYNC_OVERLAP_MS);
      this.syncedUpTo = now;
      if (devices.length === 0) return 0;
      for (const d of devices) {
        this.devices.set(d.id, this.devices.has(d.id) ? { ...d, ...this.liveFields(d.id) } : d);
        this.unknownUntil.delete(d.id);
      }
      this.notify(devices);
      return devices.length;
    } finally {
      this.syncing = false;
    }
  }

  /** Registers a listener of every reload (the streaming core keeps its devices in step). */
  onReload(listener: DeviceReloadListener): void {
    this.reloadListeners.push(listener);
  }

  /**
   * Reloads every device from the database and tells the listeners, synchronously, so that no
   * message is routed by the new cache before they have seen it. Public: tests trigger it directly.
   */
  async reload(): Promise<void> {
    // Every device has changed since the epoch: the full set, with the clock the change poll goes on from.
    const { now, devices: all } = await this.repository.changedSince(0);
    const next = new Map<string, Mutable<IngestDevice>>();
    for (const d of all) next.set(d.id, this.devices.get(d.id) ? { ...d, ...this.liveFields(d.id) } : d);
    this.devices = next;
    this.unknownUntil.clear();
    this.syncedUpTo = Math.max(this.syncedUpTo, now);
    this.notify(all);
  }

  private notify(devices: readonly IngestDevice[]): void {
    for (const listener of this.reloadListeners) {
      try {
        listener(devices);
      } catch (error) {
        this.logger.error(`A device reload listener failed: ${(error as Error).stack ?? String(error)}`);
      }
    }
  }

  /** Synchronous answer when the cache knows; undefined when a database lookup is needed. */
  peek(id: string, now = Date.now()): DeviceLookup | undefined {
    const device = this.devices.get(id);
    if (device) return { kind: 'known', device };
    // Device ids are canonical lowercase UUIDs (as provisioned); any other spelling is refused, never folded.
    if (!CANONICAL_UUID_PATTERN.test(id)) return { kind: 'invalid' };
    const until = this.unknownUntil.get(id);
    if (until !== undefined && until > now) return { kind: 'unknown' };
    return undefined;
  }

  /** Looks an id up in the database and caches the answer. */
  async lookup(id: string): Promise<DeviceLookup> {
    const cached = this.peek(id);
    if (cached) return cached;
    const device = await this.repository.findById(id);
    if (!device) {
      this.unknownUntil.set(id, Date.now() + UNKNOWN_TTL_MS);
      return { kind: 'unknown' };
    }
    this.devices.set(id, device);
    return { kind: 'known', device };
  }

  /**
   * Records the live status the ingest itself changed (so a reload does not roll it back), in the
   * cached object itself: this runs for every message, and a copy per message lived until the
   * device's next one — seconds, long enough for V8 to promote every copy to the old generation,
   * where only a full collection frees it (docs/performance.md, "What survives a scavenge"). A
   * caller that needs a value from before the update reads it first.
   */
  update(
    id: string,
    fields: Partial<Pick<IngestDevice, 'online' | 'battery' | 'lastSeenAt'>>,
  ): IngestDevice | undefined {
    const device = this.devices.get(id);
    if (!device) return undefined;
    if (fields.online !== undefined) device.online = fields.online;
    if (fields.battery !== undefined) device.battery = fields.battery;
    if (fields.lastSeenAt !== undefined) device.lastSeenAt = fields.lastSeenAt;
    return device;
  }

  private liveFields(id: string): Partial<IngestDevice> {
    const d = this.devices.get(id);
    if (!d) return {};
    return {
      online: d.online,
      ...(d.battery === undefined ? {} : { battery: d.battery }),
      ...(d.lastSeenAt === undefined ? {} : { lastSeenAt: d.lastSeenAt }),
    };
  }
}
