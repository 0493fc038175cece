import { setTimeout as sleep } from 'node:timers/promises';
import type { DeviceClient } from './device-client.js';
import type { PlanStep } from './plan.js';

export interface PlayOptions {
  /** Time compression: 60 plays an hour in a minute. Event times in payloads are not changed. */
  speed?: number;
  signal?: AbortSignal;
  /** Called after each step (for progress lines and tests). */
  onStep?: (step: PlanStep, error?: Error) => void;
}

export interface PlayResult {
  published: number;
  readings: number;
  failed: number;
}

/**
 * Plays a device timeline on a connected client at `speed`, step by step, waiting for each QoS 1
 * acknowledgement so the order on the wire is the order of the plan. A failed publish (the broker
 * refusing a spoofed topic, say) is reported and the device goes on, as a real one would.
 */
export async function playPlan(
  device: DeviceClient,
  steps: Iterable<PlanStep>,
  options: PlayOptions = {},
): Promise<PlayResult> {
  const speed = options.speed ?? 1;
  if (!(speed > 0)) throw new Error(`speed must be > 0, got ${speed}`);
  const start = Date.now();
  const result: PlayResult = { published: 0, readings: 0, failed: 0 };
  for (const step of steps) {
    if (options.signal?.aborted) break;
    const due = start + step.atMs / speed;
    const wait = due - Date.now();
    if (wait > 0) await sleep(wait, undefined, { signal: options.signal }).catch(() => undefined);
    if (options.signal?.aborted) break;
    try {
      switch (step.kind) {
        case 'telemetry':
          await device.sendTelemetry(step.payload, step.qos ?? 1);
          result.readings += step.payload.readings.length;
          break;
        case 'status':
          await device.sendStatus(step.payload);
          break;
        case 'raw':
          await device.publishRaw(step.topic, step.payload, { deviceId: step.deviceId });
          break;
        case 'drop':
          await device.drop();
          break;
        case 'reconnect':
          await device.connect();
          break;
      }
      if (step.kind !== 'drop' && step.kind !== 'reconnect') result.published++;
      options.onStep?.(step);
    } catch (error) {
      result.failed++;
      options.onStep?.(step, error as Error);
    }
  }
  return result;
}
