import { DEVICE_TYPES, type MetricKey } from '@lantern/domain';
import type { Topics } from '@lantern/messaging/contract';
import type { MqttClient } from 'mqtt';
import type { SeededDevice } from '../infra/bench-database.js';
import { sleep } from '../infra/processes.js';

/** Readings per metric in one load message (1 s apart in event time). */
export const TICKS = 5;

/** A load message the broker acknowledged, and the phase it was sent in. */
export interface AckedMessage {
  readonly device: number;
  readonly tick: number;
  readonly phase: number;
}

/**
 * The chaos run's load: pulse oximeters publishing normal readings at a fixed rate through every
 * fault, each message tagged with the phase (0: warm-up; i + 1: fault i) it was sent in. It owns what
 * was sent and acknowledged, which verification compares with the rows stored.
 */
export class ChaosLoad {
  readonly metrics = DEVICE_TYPES.pulse_oximeter.metrics;
  readonly readingsPerMessage = TICKS * this.metrics.length;
  /** Event time of tick 0 of every load device. */
  readonly base = Date.now() - 2 * 86_400_000;
  readonly acked: AckedMessage[] = [];
  publishFailures = 0;
  sent = 0;
  /** The phase new messages are tagged with. */
  phase = 0;
  private readonly nextTick: number[];
  private readonly inFlight: number[];
  private on = true;
  private startedAt = 0;
  private done: Promise<void> = Promise.resolve();

  constructor(
    private readonly devices: readonly SeededDevice[],
    private readonly clients: readonly MqttClient[],
    private readonly topics: Topics,
  ) {
    this.nextTick = devices.map(() => 0);
    this.inFlight = devices.map(() => 0);
  }

  /** Starts publishing `rate` readings a second over all load devices. */
  start(rate: number): void {
    this.startedAt = performance.now();
    this.done = this.loop(rate / this.readingsPerMessage);
  }

  /** Stops publishing; resolves with the seconds it ran. */
  async stop(): Promise<number> {
    this.on = false;
    await this.done;
    return (performance.now() - this.startedAt) / 1000;
  }

  /** True once no load publish waits for its PUBACK. */
  settled(): boolean {
    return this.inFlight.every((n) => n === 0);
  }

  private async loop(messageRate: number): Promise<void> {
    const { metrics, inFlight, nextTick } = this;
    let slot = performance.now();
    for (let i = 0; this.on; i++) {
      slot += 1000 / messageRate;
      const wait = slot - performance.now();
      if (wait > 1) await sleep(wait);
      // No burst after a stall (broker down): the schedule starts again from now.
      else if (wait < -1000) slot = performance.now();
      const d = i % this.clients.length;
      // A device with 32 unacknowledged messages (broker or ingest away) skips its turn.
      if (inFlight[d] >= 32) continue;
      const tick = nextTick[d];
      nextTick[d] += TICKS;
      const readings = [];
      for (let k = 0; k < TICKS; k++)
        for (const metric of metrics)
          readings.push({
            metric,
            value: normal(metric, tick + k),
            ts: new Date(this.base + (tick + k) * 1000).toISOString(),
          });
      const at = this.phase;
      inFlight[d]++;
      this.sent++;
      this.clients[d].publish(
        this.topics.telemetry(this.devices[d].deviceId),
        JSON.stringify({ seq: tick, readings }),
        { qos: 1 },
        (error) => {
          inFlight[d]--;
          if (error) this.publishFailures++;
          else this.acked.push({ device: d, tick, phase: at });
        },
      );
    }
  }
}

/** A value of `metric` inside its normal range (load devices must raise no alert). */
function normal(metric: MetricKey, tick: number): number {
  const mid: Partial<Record<MetricKey, [number, number]>> = { spo2: [97, 1], heart_rate: [75, 8] };
  const [center, amplitude] = mid[metric] ?? [50, 0];
  return Math.round((center + amplitude * Math.sin(tick / 30)) * 10) / 10;
}
