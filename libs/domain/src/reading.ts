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

export interface DeviceStatus {
  readonly deviceId: string;
  readonly patientId: string;
  readonly time: number;
  readonly battery?: number;
  readonly online?: boolean;
  readonly firmware?: string;
  readonly rssi?: number;
  readonly sensorExpiresAt?: string;
}
