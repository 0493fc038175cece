import type { MqttClient } from 'mqtt';
import type { DataSource } from 'typeorm';
import type { DeviceTypeKey } from '@lantern/domain';
import { buildIngest, startIngestRig, type IngestRig } from '../support/boot.js';
import { TestData, type SeededDevice } from '../support/builders.js';

/** How the ingest is booted lives with every other role's boot: test/support/boot.ts. */
export {
  buildIngest,
  ingestEnvironment,
  spawnIngest,
  startIngest,
  type IngestEnv,
  type SpawnedIngest,
} from '../support/boot.js';
export type { SeededDevice } from '../support/builders.js';

/** Inserts a patient and a device of `type` directly (the provisioning API is not under test here). */
export function seedDevice(
  dataSource: DataSource,
  type: DeviceTypeKey = 'pulse_oximeter',
  options: { decommissioned?: boolean } = {},
): Promise<SeededDevice> {
  return new TestData(dataSource).patientWithDevice(type, options);
}

/**
 * Where the kill -9 tests start: the ingest built to run as its own process, a rig for it, one
 * pulse oximeter and a client publishing as that device.
 */
export async function startOximeterRig(
  name: string,
): Promise<{ rig: IngestRig; oximeter: SeededDevice; device: MqttClient }> {
  buildIngest();
  const rig = await startIngestRig(name);
  return { rig, oximeter: await rig.data.patientWithDevice('pulse_oximeter'), device: await rig.connect() };
}

/** Message `i` of a numbered stream: `perMessage` heart-rate readings at distinct, reproducible times. */
export function numberedTelemetry(i: number, base: number, perMessage: number): string {
  return JSON.stringify({
    seq: i,
    readings: Array.from({ length: perMessage }, (_, j) => ({
      metric: 'heart_rate',
      value: 40 + ((i * perMessage + j) % 150),
      ts: base + (i * perMessage + j) * 1000,
    })),
  });
}

/** Publishes messages from..to-1 at QoS 1 with at most `window` unacknowledged by the broker. */
export async function publishNumbered(
  client: MqttClient,
  topic: string,
  from: number,
  to: number,
  base: number,
  perMessage: number,
  window = 100,
  qos: 0 | 1 = 1,
): Promise<void> {
  let next = from;
  const worker = async (): Promise<void> => {
    while (next < to) {
      const i = next++;
      await client.publishAsync(topic, numberedTelemetry(i, base, perMessage), { qos });
    }
  };
  await Promise.all(Array.from({ length: window }, worker));
}

/** Counts stored readings of a device and checks they are exactly the expected distinct times. */
export async function storedTimes(
  dataSource: DataSource,
  deviceId: string,
): Promise<{ count: number; distinct: number }> {
  const [row] = await dataSource.query<{ count: number; distinct: number }[]>(
    `SELECT count(*)::int AS count, count(DISTINCT time)::int AS distinct FROM readings WHERE device_id = $1`,
    [deviceId],
  );
  return row;
}
