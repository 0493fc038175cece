import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { isDeviceTypeKey, type DeviceTypeKey } from '@lantern/domain';
import { boolFlag, numberFlag, parseArgs, stringFlag, type ParsedArgs } from './cli-args.js';
import type { DeviceCredentials } from './device-client.js';
import { formatProgress, LOAD_BACKDATE_MS, LoadRunner } from './load-runner.js';
import { SCENARIOS, scenarioByName } from './scenarios.js';
import {
  healthyDeviceMix,
  provisionPatient,
  runHealthy,
  runScenario,
  type ApiLogin,
  type BrokerOptions,
} from './simulator.runner.js';

const USAGE = `Lantern device simulator — see docs/simulator.md

  npm run sim -- scenario <name> [--api URL --email E --password P | --device-id ID --secret S] [--speed N] [--seed S]
  npm run sim -- healthy --patients N [--api URL --email E --password P] [--duration SEC] [--signal-loss-per-day K]
  npm run sim -- load --devices N --rate R [--connections C] [--duration SEC] [--backdate-hours H] [--devices-file F | --api URL --email E --password P] [--json]
  npm run sim -- list

Common: --mqtt URL (MQTT_URL, default mqtt://127.0.0.1:1883; mqtts://host:8883 for TLS),
        --ca FILE (MQTT_CA_FILE: the CA or self-signed broker certificate to trust for mqtts://),
        --root PREFIX (MQTT_TOPIC_ROOT, default lantern/v1)`;

function broker(args: ParsedArgs): BrokerOptions {
  const caFile = stringFlag(args, 'ca', process.env.MQTT_CA_FILE || undefined);
  return {
    mqttUrl: stringFlag(args, 'mqtt', process.env.MQTT_URL || 'mqtt://127.0.0.1:1883')!,
    topicRoot: stringFlag(args, 'root', process.env.MQTT_TOPIC_ROOT || 'lantern/v1')!,
    ...(caFile !== undefined && { ca: readFileSync(caFile) }),
  };
}

function apiLogin(args: ParsedArgs): ApiLogin | undefined {
  const apiUrl = stringFlag(args, 'api');
  if (!apiUrl) return undefined;
  const email = stringFlag(args, 'email', process.env.ADMIN_EMAIL || 'admin@lantern.local')!;
  const password = stringFlag(args, 'password', process.env.ADMIN_PASSWORD);
  if (!password) throw new Error('--api needs --password (or ADMIN_PASSWORD) of an admin or clinician');
  return { apiUrl, email, password };
}

const log = (line: string) => console.log(line);

async function scenarioCommand(args: ParsedArgs, signal: AbortSignal): Promise<number> {
  const name = args.positional[1];
  if (!name) throw new Error(`scenario needs a name: ${Object.keys(SCENARIOS).join(', ')}`);
  const scenario = scenarioByName(name);
  let device: DeviceCredentials;
  const deviceId = stringFlag(args, 'device-id');
  if (deviceId) {
    const secret = stringFlag(args, 'secret');
    if (!secret) throw new Error('--device-id needs --secret');
    device = { deviceId, secret };
  } else {
    const login = apiLogin(args);
    if (!login) throw new Error('give --api URL (with --email/--password) to provision, or --device-id and --secret');
    const patient = await provisionPatient(
      login,
      stringFlag(args, 'patient-name', `Sim ${name} ${new Date().toISOString().slice(11, 19)}`)!,
      [scenario.deviceType],
    );
    log(`provisioned patient ${patient.patientId} with ${scenario.deviceType} ${patient.devices[0].deviceId}`);
    device = patient.devices[0]!;
  }
  const result = await runScenario(name, device, broker(args), {
    speed: numberFlag(args, 'speed', 1),
    seed: stringFlag(args, 'seed', '1'),
    signal,
    log,
  });
  log(`done: ${result.published} messages (${result.readings} readings), ${result.failed} failed`);
  return 0;
}

async function healthyCommand(args: ParsedArgs, signal: AbortSignal): Promise<number> {
  const login = apiLogin(args);
  if (!login) throw new Error('healthy needs --api URL with --email/--password to provision its patients');
  const patients = numberFlag(args, 'patients', 5);
  const only = stringFlag(args, 'types')?.split(',');
  if (only?.some((t) => !isDeviceTypeKey(t))) throw new Error(`--types: unknown device type in '${only.join(',')}'`);
  const devices: (DeviceCredentials & { type: DeviceTypeKey })[] = [];
  for (let i = 0; i < patients; i++) {
    const p = await provisionPatient(
      login,
      `Sim healthy ${i + 1}`,
      (only as DeviceTypeKey[] | undefined) ?? healthyDeviceMix(i),
    );
    devices.push(...p.devices);
    log(`provisioned patient ${p.patientId}: ${p.devices.map((d) => d.type).join(', ')}`);
  }
  await runHealthy(devices, broker(args), {
    seed: stringFlag(args, 'seed', '1'),
    durationSec: numberFlag(args, 'duration', 0) || undefined,
    signalLossPerDay: numberFlag(args, 'signal-loss-per-day', 2),
    signal,
    log,
  });
  return 0;
}

async function loadCommand(args: ParsedArgs, signal: AbortSignal): Promise<number> {
  const json = boolFlag(args, 'json');
  let devices: DeviceCredentials[];
  const file = stringFlag(args, 'devices-file');
  if (file) {
    devices = JSON.parse(readFileSync(file, 'utf8')) as DeviceCredentials[];
    const limit = numberFlag(args, 'devices', devices.length);
    devices = devices.slice(0, limit);
  } else {
    const login = apiLogin(args);
    if (!login) throw new Error('load needs --devices-file F or --api URL (with --email/--password) to provision');
    const n = numberFlag(args, 'devices', 100);
    devices = [];
    for (let i = 0; i < n; i++)
      devices.push(...(await provisionPatient(login, `Load ${i + 1}`, ['pulse_oximeter'])).devices);
  }
  const runner = new LoadRunner({
    ...broker(args),
    devices,
    ratePerSec: numberFlag(args, 'rate', 1000),
    readingsPerMessage: numberFlag(args, 'readings-per-message', 2),
    durationSec: numberFlag(args, 'duration', 0),
    connectConcurrency: numberFlag(args, 'connect-concurrency', 200),
    connections: numberFlag(args, 'connections', devices.length),
    backdateMs: numberFlag(args, 'backdate-hours', LOAD_BACKDATE_MS / 3_600_000) * 3_600_000,
    signal,
    onProgress: (p) => {
      if (json)
        process.stdout.write(`${JSON.stringify({ type: 'progress', rssBytes: process.memoryUsage.rss(), ...p })}\n`);
      else process.stderr.write(`\r${formatProgress(p)}   `);
    },
  });
  // Control on stdin (used by the bench to step the rate up without reconnecting): "rate 20000", "stop".
  if (!process.stdin.isTTY) {
    const lines = createInterface({ input: process.stdin });
    lines.on('line', (line) => {
      const [cmd, value] = line.trim().split(/\s+/);
      if (cmd === 'rate' && Number.isFinite(Number(value))) runner.setRate(Number(value));
      if (cmd === 'stop') controller.abort();
    });
  }
  const final = await runner.run();
  if (json)
    process.stdout.write(`${JSON.stringify({ type: 'final', rssBytes: process.memoryUsage.rss(), ...final })}\n`);
  else process.stderr.write(`\n${formatProgress(final)}\n`);
  return final.connectFailures === devices.length && devices.length > 0 ? 1 : 0;
}

const controller = new AbortController();
for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => controller.abort());

async function main(argv: string[]): Promise<number> {
  const args = parseArgs(argv);
  switch (args.positional[0]) {
    case 'scenario':
      return scenarioCommand(args, controller.signal);
    case 'healthy':
      return healthyCommand(args, controller.signal);
    case 'load':
      return loadCommand(args, controller.signal);
    case 'list':
      for (const s of Object.values(SCENARIOS)) log(`${s.name.padEnd(26)} ${s.deviceType.padEnd(15)} ${s.description}`);
      return 0;
    default:
      console.log(USAGE);
      return args.positional[0] === undefined || args.positional[0] === 'help' ? 0 : 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(`sim: ${(error as Error).message}`);
    process.exit(1);
  },
);
