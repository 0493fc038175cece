import { Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import { DeviceStatusRepository, type IngestDevice } from '@lantern/storage';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** How long an unknown id is remembered as unknown, so a flood of spoofed ids costs one query each per window. */
const UNKNOWN_TTL_MS = 30_000;
/** Full reload period: picks up decommissioning and patient re-assignment made by the api role. */
export const DEVICE_REFRESH_MS = 30_000;

/** Called with every device (decommissioned ones too) right after each reload, before any further message is looked up. */
export type DeviceReloadListener = (devices: readonly IngestDevice[]) => void;

export type DeviceLookup = { kind: 'known'; device: IngestDevice } | { kind: 'unknown' } | { kind: 'invalid' };

/**
 * The ingest's cache of devices (id → patient, type, decommissioned), loaded at start and reloaded
 * periodically; a miss (a device provisioned since the last load) is looked up once.
 */
@Injectable()
export class DeviceRegistryService implements OnApplicationShutdown {
  private readonly logger = new Logger('DeviceRegistry');
  private devices = new Map<string, IngestDevice>();
  private readonly unknownUntil = new Map<string, number>();
  private refreshTimer: NodeJS.Timeout | undefined;
  private readonly reloadListeners: DeviceReloadListener[] = [];

  constructor(private readonly repository: DeviceStatusRepository) {}

  /** Loads every device and starts the periodic refresh. */
  async start(): Promise<void> {
    await this.reload();
    this.refreshTimer = setInterval(() => {
      this.reload().catch((error: unknown) => this.logger.warn(`Device refresh failed: ${(error as Error).message}`));
    }, DEVICE_REFRESH_MS);
    this.refreshTimer.unref();
  }

  onApplicationShutdown(): void {
    if (this.refreshTimer) clearInterval(this.refreshTimer);
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
    const all = await this.repository.loadAll();
    const next = new Map<string, IngestDevice>();
    for (const d of all) next.set(d.id, this.devices.get(d.id) ? { ...d, ...this.liveFields(d.id) } : d);
    this.devices = next;
    this.unknownUntil.clear();
    for (const listener of this.reloadListeners) {
      try {
        listener(all);
      } catch (error) {
        this.logger.error(`A device reload listener failed: ${(error as Error).stack ?? String(error)}`);
      }
    }
  }

  /** Synchronous answer when the cache knows; undefined when a database lookup is needed. */
  peek(id: string, now = Date.now()): DeviceLookup | undefined {
    const device = this.devices.get(id);
    if (device) return { kind: 'known', device };
    if (!UUID.test(id)) return { kind: 'invalid' };
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

  /** Records the live status the ingest itself changed (so a reload does not roll it back). */
  update(
    id: string,
    fields: Partial<Pick<IngestDevice, 'online' | 'battery' | 'lastSeenAt'>>,
  ): IngestDevice | undefined {
    const device = this.devices.get(id);
    if (!device) return undefined;
    const next = { ...device, ...fields };
    this.devices.set(id, next);
    return next;
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
