import type { Topics } from '@lantern/messaging/contract';
import type { MqttClient } from 'mqtt';
import type { SeededDevice } from '../infra/bench-database.js';

/** glucose.urgent_low: the alert every scenario reading must raise. */
export const URGENT_LOW = 'glucose.urgent_low';
/** Below 54 mg/dL: glucose.urgent_low opens on the reading itself. */
const HYPO_VALUE = 45;

/** One scenario patient's urgent-low reading, and the fault phase it was sent in. */
export interface ScenarioReading {
  readonly phase: number;
  readonly patientId: string;
  readonly publishedAt: number;
  acknowledged: boolean;
}

/**
 * The chaos run's hypoglycaemia patients: each sends one urgent-low glucose reading during a fault,
 * whose alert must be stored and raised once. It owns which patient was used in which phase.
 */
export class ScenarioPatients {
  readonly readings: ScenarioReading[] = [];
  private next = 0;

  constructor(
    private readonly devices: readonly SeededDevice[],
    private readonly clients: readonly MqttClient[],
    private readonly topics: Topics,
  ) {}

  /** The next patient sends its hypoglycaemic reading now, tagged with `faultPhase`. */
  hypo(faultPhase: number): void {
    const index = this.next++;
    const device = this.devices[index];
    const reading: ScenarioReading = {
      phase: faultPhase,
      patientId: device.patientId,
      publishedAt: performance.now(),
      acknowledged: false,
    };
    this.readings.push(reading);
    this.clients[index].publish(
      this.topics.telemetry(device.deviceId),
      JSON.stringify({ readings: [{ metric: 'glucose', value: HYPO_VALUE, ts: new Date().toISOString() }] }),
      { qos: 1 },
      (error) => {
        if (!error) reading.acknowledged = true;
      },
    );
  }
}
