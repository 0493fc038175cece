import { DEVICE_TYPES, type DeviceTypeKey } from '@lantern/domain';
import type { LatestReading } from '@lantern/storage';

export type Monitoring = 'ok' | 'lost';

/** What `/patients/:id/latest` needs to know of one device of the patient. */
export interface MonitoredDevice {
  readonly id: string;
  readonly type: DeviceTypeKey;
  readonly decommissioned: boolean;
}

/** A latest reading with its age and whether its device is still being heard (contract §4.4). */
export interface LatestWithProvenance extends LatestReading {
  /** Seconds from its measured time to the server's now (never negative). */
  readonly ageSec: number;
  readonly monitoring: Monitoring;
  /** When lost: the measured time of the device's newest reading, since which nothing came. */
  readonly since: number | null;
  /** The value is not current: its device is lost (clients show "we cannot see this device since …"). */
  readonly stale: boolean;
}

/**
 * Each latest value with its age, and its device's monitoring state: `lost` once the device has sent
 * no reading for longer than its type's "signal loss after" (spec/alerting.md §2 — the same
 * threshold as the `device.signal_loss` alert's default), or when the device no longer monitors
 * this patient (decommissioned, reassigned). The device's silence is measured from its newest
 * reading among these values, on the server's clock: a status message is a sign of life for the
 * signal-loss alert, but it does not make a value current.
 */
export function withProvenance(
  latest: readonly LatestReading[],
  devices: readonly MonitoredDevice[],
  now: number,
): LatestWithProvenance[] {
  const byId = new Map(devices.map((d) => [d.id, d]));
  const newest = new Map<string, number>();
  for (const r of latest) newest.set(r.deviceId, Math.max(newest.get(r.deviceId) ?? -Infinity, r.time));
  return latest.map((r) => {
    const device = byId.get(r.deviceId);
    const lastAt = newest.get(r.deviceId)!;
    const lost =
      device === undefined ||
      device.decommissioned ||
      now - lastAt > DEVICE_TYPES[device.type].signalLossAfterSec * 1000;
    return {
      ...r,
      ageSec: Math.max(0, Math.round((now - r.time) / 1000)),
      monitoring: lost ? 'lost' : 'ok',
      since: lost ? lastAt : null,
      stale: lost,
    };
  });
}
