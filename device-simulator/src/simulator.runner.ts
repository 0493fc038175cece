import { DEVICE_TYPES, type DeviceTypeKey } from '@lantern/domain';
import { DeviceClient, type DeviceCredentials } from './device-client.js';
import { iso } from './plan.js';
import { playPlan, type PlayResult } from './plan-player.js';
import { Prng } from './prng.js';
import { ProvisioningClient } from './provisioning.client.js';
import { anchorForSpeed, planDurationMs, scenarioByName } from './scenarios.js';
import { healthyTimeline } from './virtual-device.js';

export interface BrokerOptions {
  mqttUrl: string;
  topicRoot: string;
  /** Trusted CA certificate(s) for an mqtts:// URL (`--ca`, MQTT_CA_FILE). */
  ca?: Buffer;
}

export interface ApiLogin {
  apiUrl: string;
  email: string;
  password: string;
}

type Log = (line: string) => void;

/** Logs in and creates a virtual patient with one device of each given type. */
export async function provisionPatient(
  login: ApiLogin,
  displayName: string,
  types: readonly DeviceTypeKey[],
): Promise<{ patientId: string; devices: (DeviceCredentials & { type: DeviceTypeKey })[] }> {
  const api = new ProvisioningClient(login.apiUrl);
  await api.login(login.email, login.password);
  const patient = await api.createPatient(displayName);
  const devices: (DeviceCredentials & { type: DeviceTypeKey })[] = [];
  for (const type of types) {
    const serial = `SIM-${type.toUpperCase()}-${patient.id.slice(0, 8)}`;
    devices.push({ ...(await api.createDevice(patient.id, type, serial)), type });
  }
  return { patientId: patient.id, devices };
}

/** Plays a named scenario on one device; returns what was published. */
export async function runScenario(
  name: string,
  device: DeviceCredentials,
  broker: BrokerOptions,
  options: { speed?: number; seed?: number | string; signal?: AbortSignal; log?: Log } = {},
): Promise<PlayResult> {
  const scenario = scenarioByName(name);
  const speed = options.speed ?? 1;
  const log = options.log ?? (() => undefined);
  const draft = scenario.build({ seed: options.seed, t0: 0 });
  const t0 = anchorForSpeed(Date.now(), planDurationMs(draft), speed);
  const steps = scenario.build({ seed: options.seed, t0 });
  if (scenario.wallClock && speed !== 1)
    log(
      `note: '${name}' relies on wall-clock time; at --speed ${speed} the silence is shorter than the signal-loss threshold`,
    );
  const client = new DeviceClient({
    ...device,
    ...broker,
    onErrorReply: (reply) => log(`  ← errors: ${JSON.stringify(reply)}`),
  });
  await client.connect();
  log(
    `scenario ${name} on device ${device.deviceId} (${scenario.deviceType}), ${steps.length} steps, ~${Math.round(planDurationMs(steps) / speed / 1000)} s at speed ${speed}`,
  );
  try {
    return await playPlan(client, steps, {
      speed,
      signal: options.signal,
      onStep: (step, error) => {
        const what =
          step.kind === 'telemetry'
            ? step.payload.readings
                .map((r) => `${r.metric}=${r.value}`)
                .slice(0, 4)
                .join(' ')
            : step.kind === 'raw'
              ? step.label
              : step.kind === 'status'
                ? JSON.stringify(step.payload)
                : '';
        log(
          `  +${(step.atMs / 1000).toFixed(0)} s ${step.kind} ${what}${step.note ? ` (${step.note})` : ''}${error ? ` FAILED: ${error.message}` : ''}`,
        );
      },
    });
  } finally {
    await client.close();
  }
}

/** Default device mix of a healthy virtual patient (the 1 Hz oximeter for every third patient only: it dominates traffic). */
export function healthyDeviceMix(index: number): DeviceTypeKey[] {
  const types: DeviceTypeKey[] = ['cgm', 'wearable_patch', 'bp_monitor', 'weight_scale'];
  if (index % 3 === 0) types.push('pulse_oximeter');
  if (index % 5 === 4) types.push('cardiac_implant');
  return types;
}

/** Streams healthy signals for provisioned devices until aborted (or `durationSec`). */
export async function runHealthy(
  devices: readonly (DeviceCredentials & { type: DeviceTypeKey })[],
  broker: BrokerOptions,
  options: {
    seed?: number | string;
    signalLossPerDay?: number;
    durationSec?: number;
    signal?: AbortSignal;
    log?: Log;
  } = {},
): Promise<PlayResult> {
  const controller = new AbortController();
  options.signal?.addEventListener('abort', () => controller.abort());
  const timer = options.durationSec ? setTimeout(() => controller.abort(), options.durationSec * 1000) : undefined;
  const total: PlayResult = { published: 0, readings: 0, failed: 0 };
  const prng = new Prng(options.seed ?? 1);
  try {
    await Promise.all(
      devices.map(async (device) => {
        const client = new DeviceClient({ ...device, ...broker });
        await client.connect();
        // Always real time: healthy streams are "live", and a compressed one would stamp readings in the future.
        const t0 = Date.now();
        const timeline = healthyTimeline(device.type, {
          seed: `${options.seed ?? 1}:${device.deviceId}`,
          t0,
          signalLossPerDay: options.signalLossPerDay ?? 0,
          startBattery: prng.int(40, 100),
        });
        const result = await playPlan(client, timeline, { signal: controller.signal });
        total.published += result.published;
        total.readings += result.readings;
        total.failed += result.failed;
        await client.close().catch(() => undefined);
      }),
    );
  } finally {
    if (timer) clearTimeout(timer);
  }
  options.log?.(
    `healthy: ${total.published} messages, ${total.readings} readings, ${total.failed} failed, until ${iso(Date.now())}`,
  );
  return total;
}

/** Known device types, for flag validation. */
export const DEVICE_TYPE_NAMES = Object.keys(DEVICE_TYPES);
