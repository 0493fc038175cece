import type { DeviceTypeKey, MetricKey } from '@lantern/domain';

/** One reading as a device sends it (contract §1.1). `ts` is ISO-8601 or epoch ms. */
export interface TelemetryReading {
  /** A catalogue key; the wire takes any string (`& {}` keeps the keys offered by the editor). */
  metric: MetricKey | (string & {});
  value: number;
  unit?: string;
  ts?: string;
}

/** A telemetry message (contract §1.1). */
export interface TelemetryPayload {
  seq?: number;
  ts?: string;
  readings: TelemetryReading[];
}

/** A device status message (contract §1.2). */
export interface StatusPayload {
  ts?: string;
  battery?: number;
  online?: boolean;
  firmware?: string;
  rssi?: number;
  sensorExpiresAt?: string;
}

/**
 * One step of a device's timeline. `atMs` is wall-clock time since the start at speed 1 (a player
 * divides it by the speed); event times are explicit in the payloads, so a test can replay a plan
 * in milliseconds and still feed the streaming core the timestamps the scenario means.
 */
export type PlanStep =
  | { kind: 'telemetry'; atMs: number; payload: TelemetryPayload; qos?: 0 | 1; note?: string }
  | { kind: 'status'; atMs: number; payload: StatusPayload; retain?: boolean; note?: string }
  /** Malformed or hostile input, sent byte for byte to `{root}/devices/{deviceId ?? own id}/{topic}`. */
  | { kind: 'raw'; atMs: number; topic: string; deviceId?: string; payload: Buffer; label: string; note?: string }
  /** The device drops off the network without a clean disconnect (the broker publishes its last will). */
  | { kind: 'drop'; atMs: number; note?: string }
  /** The device is back: reconnects (and says so on its status topic). */
  | { kind: 'reconnect'; atMs: number; note?: string };

/** A device type key plus its timeline. */
export interface DevicePlan {
  readonly deviceType: DeviceTypeKey;
  readonly steps: readonly PlanStep[];
}

/** Every telemetry reading of a plan, with its resolved event time (ms) — what tests check against rules. */
export function readingsOf(
  steps: readonly PlanStep[],
): { metric: string; value: number; unit?: string; time: number; atMs: number }[] {
  const out: { metric: string; value: number; unit?: string; time: number; atMs: number }[] = [];
  for (const step of steps) {
    if (step.kind !== 'telemetry') continue;
    for (const r of step.payload.readings) {
      const ts = r.ts ?? step.payload.ts;
      out.push({
        metric: r.metric,
        value: r.value,
        unit: r.unit,
        time: ts === undefined ? NaN : Date.parse(ts),
        atMs: step.atMs,
      });
    }
  }
  return out;
}

/** Serialises a step's payload to the bytes that go on the wire. */
export function encodeStep(step: Extract<PlanStep, { kind: 'telemetry' | 'status' | 'raw' }>): Buffer {
  return step.kind === 'raw' ? step.payload : Buffer.from(JSON.stringify(step.payload), 'utf8');
}

export const iso = (ms: number): string => new Date(ms).toISOString();
