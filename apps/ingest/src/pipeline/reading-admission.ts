import { DEVICE_TYPES, METRICS, type DeviceTypeKey, type MetricKey } from '@lantern/domain';
import { formatTime, type DecodedReading, type DecodedTelemetry, type Rejection } from '@lantern/messaging';

/** What admission needs to know of a device. */
export interface AdmissionDevice {
  readonly id: string;
  readonly type: DeviceTypeKey;
}

/** A message's readings after admission, and every refusal of the message (codec's and admission's) in index order. */
export interface AdmittedReadings {
  readonly readings: readonly DecodedReading[];
  readonly rejections: readonly Rejection[];
}

/** Whether the readings are already by metric, then time (what the sort in `admit` would leave as it is). */
function inAdmissionOrder(readings: readonly DecodedReading[]): boolean {
  for (let i = 1; i < readings.length; i++) {
    const a = readings[i - 1];
    const b = readings[i];
    if (a.metric > b.metric || (a.metric === b.metric && a.time > b.time)) return false;
  }
  return true;
}

/**
 * Decides, per decoded reading, whether the device may have produced it (pure: no clock, no I/O):
 *
 * - `metric_not_for_device`: the device's type does not measure the metric (device-type catalog).
 * - `too_frequent`: the reading is newer than the latest accepted one of the same device and metric
 *   by less than the metric's `minIntervalMs` — a faulty or hostile device, whose flood would
 *   otherwise fill storage and the streaming core's sample windows.
 *
 * A reading at exactly the time of an accepted one is a duplicate (a redelivery) and is accepted:
 * storage ignores it and the streaming core does not evaluate it twice. A reading older than the
 * latest (store-and-forward back-fill, or messages arriving out of order over the shared
 * subscription) is accepted, but within one message the readings of a metric, taken in time order,
 * must themselves respect the interval — so a back-fill of 1000 readings 1 ms apart keeps one.
 *
 * State is one number per (device, metric) seen: the newest accepted time. Devices come from the
 * registry (unknown ones never get here), so it is bounded by the devices provisioned; `forget`
 * drops a decommissioned one. After a restart the first reading of each stream is taken as it
 * comes, as it would be from a device the ingest has not heard from before.
 */
export class ReadingAdmission {
  private readonly latest = new Map<string, Map<MetricKey, number>>();

  /** Number of devices with state (for tests and metrics). */
  get size(): number {
    return this.latest.size;
  }

  /** Admits the decoded readings of one message of `device`; the codec's refusals are merged in. */
  admit(device: AdmissionDevice, decoded: Pick<DecodedTelemetry, 'readings' | 'rejections'>): AdmittedReadings {
    const readings = decoded.readings;
    if (readings.length === 0) return decoded;
    const measured: readonly MetricKey[] = DEVICE_TYPES[device.type].metrics;
    let state = this.latest.get(device.id);
    const own: Rejection[] = [];
    // By metric, then time, then position: each metric's readings in time order. Most messages
    // arrive so already (one reading, or one per metric in catalog order): then no sort is needed.
    const order = readings.map((_, i) => i);
    if (!inAdmissionOrder(readings)) {
      order.sort((a, b) => {
        const ra = readings[a];
        const rb = readings[b];
        if (ra.metric !== rb.metric) return ra.metric < rb.metric ? -1 : 1;
        return ra.time - rb.time || a - b;
      });
    }
    for (let i = 0; i < order.length;) {
      const metric = readings[order[i]].metric;
      let end = i + 1;
      while (end < order.length && readings[order[end]].metric === metric) end++;
      if (!measured.includes(metric)) {
        for (let k = i; k < end; k++) {
          own.push({
            code: 'metric_not_for_device',
            reason: `device type ${device.type} (${DEVICE_TYPES[device.type].label}) does not measure ${metric}`,
            index: readings[order[k]].index,
          });
        }
        i = end;
        continue;
      }
      const minInterval = METRICS[metric].minIntervalMs;
      const before = state?.get(metric);
      let newest = before;
      let previous: number | undefined; // the last reading of this metric accepted from this message
      for (let k = i; k < end; k++) {
        const reading = readings[order[k]];
        const time = reading.time;
        let tooSoonAfter: number | undefined;
        if (time === previous || time === before) {
          // A duplicate of an accepted reading: harmless, and a redelivery must not be refused.
        } else if (previous !== undefined && time - previous < minInterval) {
          tooSoonAfter = previous;
        } else if (before !== undefined && time > before && time - before < minInterval) {
          tooSoonAfter = before;
        }
        if (tooSoonAfter !== undefined) {
          own.push({
            code: 'too_frequent',
            reason:
              `${metric} at ${formatTime(time)} is ${time - tooSoonAfter} ms after the one at ` +
              `${formatTime(tooSoonAfter)}; ${metric} readings must be at least ${minInterval} ms apart`,
            index: reading.index,
          });
          continue;
        }
        previous = time;
        if (newest === undefined || time > newest) newest = time;
      }
      if (newest !== undefined && newest !== before) {
        if (state === undefined) {
          state = new Map();
          this.latest.set(device.id, state);
        }
        state.set(metric, newest);
      }
      i = end;
    }
    if (own.length === 0) return decoded;
    const refused = new Set(own.map((r) => r.index));
    return {
      readings: readings.filter((r) => !refused.has(r.index)),
      // Per-reading refusals only here (a whole-message one leaves no readings): in index order.
      rejections: [...decoded.rejections, ...own].sort((a, b) => (a.index ?? -1) - (b.index ?? -1)),
    };
  }

  /** Drops a device's state (decommissioned: it will send nothing that gets this far again). */
  forget(deviceId: string): void {
    this.latest.delete(deviceId);
  }
}
