import type { MetricKey } from './metric-catalog.js';

/** A validated reading in its metric's canonical unit, as stored and as evaluated by the streaming core. */
export interface Reading {
  readonly deviceId: string;
  readonly patientId: string;
  readonly metric: MetricKey;
  readonly value: number;
  /** Event time, epoch milliseconds. */
  readonly time: number;
  /** When Lantern received it, epoch milliseconds. */
  readonly receivedAt: number;
  readonly seq?: number;
}

/** The fields of a device status message (contract §1.2), validated; absent fields were not sent. */
export interface DeviceStatusReport {
  /** Event time (the message's `ts`, else when it was received), epoch milliseconds. */
  readonly time: number;
  readonly battery?: number;
  readonly online?: boolean;
  readonly firmware?: string;
  readonly rssi?: number;
  /** ISO-8601, normalised to UTC. */
  readonly sensorExpiresAt?: string;
}

/** A status report of a known device, as the streaming core evaluates it. */
export interface DeviceStatus extends DeviceStatusReport {
  readonly deviceId: string;
  readonly patientId: string;
}
