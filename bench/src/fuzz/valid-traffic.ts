import { DEVICE_TYPES, type MetricKey } from '@lantern/domain';
import type { Topics } from '@lantern/messaging/contract';
import type { SeededDevice } from '../infra/bench-database.js';
import { sleep } from '../infra/processes.js';
import type { ValidSeries } from './fuzz-verification.js';
import type { FuzzDeviceType } from './hostile-payload.generator.js';
import type { WindowedPublisher } from './windowed-publisher.js';

/** Valid devices send 1 s apart per metric, from this long ago: far from both ends of the window. */
export const VALID_HISTORY_MS = 3 * 86_400_000;
/** Readings per metric in one valid message. */
const VALID_TICKS = 2;

interface ValidDevice {
  readonly device: SeededDevice;
  readonly metrics: readonly MetricKey[];
  readonly publisher: WindowedPublisher;
  /** Next tick (readings of every metric at firstTime + tick × 1 s). */
  nextTick: number;
  /** Ticks acknowledged: one connection's PUBACKs come in order, so the highest acknowledged counts them all. */
  acknowledgedTicks: number;
  failures: number;
}

/**
 * The fuzz run's valid devices: telemetry at a fixed rate beside the storm, every reading of which
 * must be stored. It owns what they sent and had acknowledged, as the series verification looks for.
 */
export class ValidTraffic {
  /** Event time of tick 0 of every valid device. */
  readonly start = Date.now() - VALID_HISTORY_MS;
  private readonly devices: ValidDevice[] = [];

  /** Adds a valid device publishing through `publisher`. */
  add(device: SeededDevice & { readonly type: FuzzDeviceType }, publisher: WindowedPublisher): void {
    this.devices.push({
      device,
      metrics: DEVICE_TYPES[device.type].metrics,
      publisher,
      nextTick: 0,
      acknowledgedTicks: 0,
      failures: 0,
    });
  }

  /** Sends `rate` messages a second, round robin over the devices, until the storm is over. */
  async run(topics: Topics, rate: number, stormOver: () => boolean): Promise<void> {
    const valid = this.devices;
    const validStart = this.start;
    const startedAt = performance.now();
    for (let i = 0; !stormOver(); i++) {
      const wait = startedAt + (i / rate) * 1000 - performance.now();
      if (wait > 1) await sleep(wait);
      const v = valid[i % valid.length];
      const tick = v.nextTick;
      // Event time stays in the past: a faster clock than the wall's would run into the future limit.
      if (validStart + (tick + VALID_TICKS) * 1000 > Date.now()) continue;
      v.nextTick += VALID_TICKS;
      const readings = [];
      for (let k = 0; k < VALID_TICKS; k++)
        for (const metric of v.metrics)
          readings.push({
            metric,
            value: validValue(metric, tick + k),
            ts: new Date(validStart + (tick + k) * 1000).toISOString(),
          });
      await v.publisher.send(topics.telemetry(v.device.deviceId), JSON.stringify({ seq: tick, readings }), (error) => {
        if (error) v.failures++;
        // One connection acknowledges in order: the ticks below the highest acknowledged are all in.
        else v.acknowledgedTicks = Math.max(v.acknowledgedTicks, tick + VALID_TICKS);
      });
    }
    await Promise.all(valid.map((v) => v.publisher.drain()));
  }

  /** What must be stored: per device and metric, the acknowledged readings 1 s apart from `start`. */
  series(): ValidSeries[] {
    return this.devices.flatMap((v) =>
      v.metrics.map((metric) => ({
        deviceId: v.device.deviceId,
        metric,
        count: v.acknowledgedTicks,
        first: this.start,
        last: this.start + (v.acknowledgedTicks - 1) * 1000,
      })),
    );
  }

  /** Valid messages acknowledged by the broker. */
  messages(): number {
    return this.devices.reduce((sum, v) => sum + v.acknowledgedTicks / VALID_TICKS, 0);
  }

  /** Publishes that failed. */
  failures(): number {
    return this.devices.reduce((sum, v) => sum + v.failures, 0);
  }
}

/** A valid value of `metric` that never crosses a default alert threshold (a sine around the middle of the normal range). */
function validValue(metric: MetricKey, tick: number): number {
  const mid: Record<MetricKey, [number, number]> = {
    heart_rate: [75, 8],
    spo2: [97, 1],
    glucose: [110, 10],
    systolic_bp: [120, 5],
    diastolic_bp: [78, 4],
    respiratory_rate: [15, 2],
    body_temperature: [36.9, 0.2],
    body_weight: [75, 0.5],
    pa_pressure_mean: [18, 2],
    steps: [40, 30],
  };
  const [center, amplitude] = mid[metric];
  return Math.round((center + amplitude * Math.sin(tick / 30)) * 10) / 10;
}
