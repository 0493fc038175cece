import type { DeviceTypeKey } from '@lantern/domain';
import { iso, type PlanStep, type TelemetryReading } from './plan.js';
import { Prng } from './prng.js';
import {
  BATTERY_DRAIN_PER_HOUR,
  batteryLevel,
  generatorFor,
  patientProfile,
  type PatientProfile,
} from './signal-generators.js';

export interface HealthyTimelineOptions {
  seed: number | string;
  /** Event time of `atMs = 0`, epoch ms. */
  t0: number;
  profile?: PatientProfile;
  /** Expected signal-loss episodes per device per day (0: never). */
  signalLossPerDay?: number;
  /** Status message (battery, rssi) every this many ms. */
  statusEveryMs?: number;
  startBattery?: number;
  /** Store-and-forward uploads carry at most this many readings per message (contract: ≤ 1000). */
  backfillChunk?: number;
  firmware?: string;
}

/**
 * A healthy device's endless timeline: live telemetry at the device type's interval, periodic
 * status with a draining battery, and now and then a signal loss during which readings are kept
 * on the device and uploaded after it reconnects, each with its original timestamp.
 * Lazy (a generator), so a simulator can run it for days; deterministic for a seed.
 */
export function* healthyTimeline(type: DeviceTypeKey, options: HealthyTimelineOptions): Generator<PlanStep> {
  const prng = new Prng(options.seed).fork(`timeline:${type}`);
  const generator = generatorFor(type, options.seed, options.profile ?? patientProfile(options.seed));
  const interval = generator.intervalMs;
  const statusEvery = options.statusEveryMs ?? Math.max(interval, 10 * 60_000);
  const lossPerSample = ((options.signalLossPerDay ?? 0) * interval) / 86_400_000;
  const chunk = Math.min(options.backfillChunk ?? 500, 1000);
  const startBattery = options.startBattery ?? prng.int(60, 100);
  const firmware = options.firmware ?? '2.3.1';
  let seq = 0;
  let offlineUntil = -1;
  let buffered: TelemetryReading[] = [];
  let nextStatus = 0;

  yield {
    kind: 'status',
    atMs: 0,
    payload: { ts: iso(options.t0), online: true, battery: startBattery, firmware, rssi: -60 },
  };
  for (let atMs = 0; ; atMs += interval) {
    const time = options.t0 + atMs;
    if (offlineUntil >= 0 && atMs >= offlineUntil) {
      offlineUntil = -1;
      yield { kind: 'reconnect', atMs, note: `back after a signal loss; uploading ${buffered.length} stored readings` };
      yield { kind: 'status', atMs, payload: { ts: iso(time), online: true } };
      for (let i = 0; i < buffered.length; i += chunk) {
        yield {
          kind: 'telemetry',
          atMs,
          payload: { seq: ++seq, readings: buffered.slice(i, i + chunk) },
          note: 'store-and-forward back-fill',
        };
      }
      buffered = [];
    }
    const readings = generator.sample(time);
    if (offlineUntil >= 0) {
      // Store-and-forward: the device keeps measuring while it cannot reach the broker.
      for (const r of readings) buffered.push({ ...r, ts: iso(time) });
      continue;
    }
    if (atMs > 0 && prng.chance(lossPerSample)) {
      offlineUntil = atMs + Math.max(60_000, interval * prng.int(3, 12));
      yield { kind: 'drop', atMs, note: 'signal loss' };
      for (const r of readings) buffered.push({ ...r, ts: iso(time) });
      continue;
    }
    yield { kind: 'telemetry', atMs, payload: { seq: ++seq, ts: iso(time), readings } };
    if (atMs >= nextStatus && atMs > 0) {
      const battery = batteryLevel(startBattery, BATTERY_DRAIN_PER_HOUR[type], atMs);
      yield { kind: 'status', atMs, payload: { ts: iso(time), battery, rssi: -55 - prng.int(0, 30) } };
    }
    if (atMs >= nextStatus) nextStatus = atMs + statusEvery;
  }
}

/** The first steps of a timeline up to (excluding) `untilMs`; for tests and finite runs. */
export function takeUntil(steps: Iterable<PlanStep>, untilMs: number): PlanStep[] {
  const out: PlanStep[] = [];
  for (const step of steps) {
    if (step.atMs >= untilMs) break;
    out.push(step);
  }
  return out;
}
