import { Injectable, Logger, type OnModuleInit } from '@nestjs/common';
import { AlertEngine, type EngineOutput } from '@lantern/alerting';
import { idFromCause, type IngestDevice } from '@lantern/storage';
import { DeviceRegistryService } from '../pipeline/device-registry.service.js';
import { AlertOutputWriter } from './alert-output.writer.js';

/**
 * The streaming core in the ingest role: owns the one AlertEngine and the devices registered with
 * it — those stored at start (AlertStateRebuild), one provisioned since then when first heard
 * from, and every reload of the device registry, which settles decommissioned and reassigned
 * devices. The rest of the shell acts on this engine — the start-up rebuild, the rule-override sync
 * (RuleOverrideSync), the feed of readings and statuses (AlertStreamingService), the adoption of
 * clinicians' changes (AlertChangeSync) — and hands what it decides to the AlertOutputWriter, whose
 * conflicts with the stored rows the engine reconciles.
 */
@Injectable()
export class StreamingCore implements OnModuleInit {
  private readonly logger = new Logger('AlertStreaming');
  readonly engine = new AlertEngine({ newId: idFromCause });
  private readonly registered = new Set<string>();

  constructor(
    private readonly registry: DeviceRegistryService,
    private readonly writer: AlertOutputWriter,
  ) {
    writer.reconcile = (observed, stored) => this.engine.reconcile(observed, stored, Date.now());
  }

  /** The registry reloads from bootstrap on (IngestService), once the start-up rebuild is done. */
  onModuleInit(): void {
    // Every device reload (at start, then every DEVICE_REFRESH_MS) settles decommissioned and reassigned devices.
    this.registry.onReload((devices) => this.syncDevices(devices));
  }

  /** How many devices the engine knows. */
  get devices(): number {
    return this.registered.size;
  }

  /** Registers the devices stored at start, but the decommissioned ones. */
  registerStored(devices: readonly IngestDevice[]): void {
    for (const d of devices) {
      if (d.decommissioned) continue;
      this.add(d.id, d);
    }
  }

  /** Registers a device not yet known on its first input: one provisioned since start, its type from the ingest's device registry. */
  ensureRegistered(deviceId: string): void {
    if (this.registered.has(deviceId)) return;
    const lookup = this.registry.peek(deviceId);
    if (lookup?.kind !== 'known') return;
    this.add(deviceId, lookup.device);
  }

  /**
   * Brings the engine in step with the device registry after each of its reloads: a decommissioned
   * device is forgotten and its signal-loss and battery alerts are resolved by the system; a device
   * now another patient's starts afresh for them (see AlertEngine.syncDevices). Never throws.
   */
  syncDevices(devices: readonly IngestDevice[], now = Date.now()): EngineOutput {
    try {
      const output = this.engine.syncDevices(
        devices.map((d) => ({
          deviceId: d.id,
          patientId: d.patientId,
          type: d.type,
          decommissioned: d.decommissioned,
        })),
        now,
      );
      for (const d of devices) if (d.decommissioned) this.registered.delete(d.id);
      if (output.transitions.length > 0)
        this.logger.log(
          `Devices synced: ${output.transitions.length} device alerts resolved (decommissioned or reassigned)`,
        );
      this.writer.enqueue(output);
      return output;
    } catch (error) {
      this.logger.error(`Syncing devices failed: ${(error as Error).stack ?? String(error)}`);
      return { transitions: [], notifications: [] };
    }
  }

  private add(deviceId: string, d: IngestDevice): void {
    this.engine.registerDevice({ deviceId, patientId: d.patientId, type: d.type, lastHeardAt: d.lastSeenAt ?? null });
    this.registered.add(deviceId);
  }
}
