/**
 * `npm run demo`: Lantern as `npm start` runs it (the supervisor, embedded servers unless configured),
 * the demo care team (`seed:demo`), and the simulator streaming a mix of healthy patients and named
 * scenarios into it. Prints the dashboard URL and the logins. Ctrl-C stops everything.
 */
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { DeviceTypeKey } from '@lantern/domain';
import { isPortFree } from './port-probe.js';
import { runHealthy, runScenario } from './simulator.runner.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '../../../..');
const env: NodeJS.ProcessEnv = { ...process.env };

/** Scenario per device type for the first patients that have one; everybody else is healthy. */
const SCENARIO_FOR: [DeviceTypeKey, string, number][] = [
  ['pulse_oximeter', 'desaturation', 20],
  ['wearable_patch', 'fever', 40],
  ['bp_monitor', 'hypertensive-crisis', 60],
  ['weight_scale', 'heart-failure-weight-gain', 30],
  ['cgm', 'hypoglycemia', 10],
  ['pulse_oximeter', 'tachycardia', 90],
  ['cgm', 'battery-drain', 120],
];

async function choosePort(variable: string, fallback: number): Promise<number> {
  if (env[variable]) return Number(env[variable]);
  let port = fallback;
  while (!(await isPortFree(port))) port++;
  if (port !== fallback) console.log(`[demo] port ${fallback} is taken: ${variable}=${port}`);
  env[variable] = String(port);
  return port;
}

async function main(): Promise<void> {
  const port = await choosePort('PORT', 3000);
  if (!env.MQTT_URL) await choosePort('EMBEDDED_MQTT_PORT', 1883);
  if (!env.MQTT_URL) await choosePort('EMBEDDED_MQTTS_PORT', 8883);
  if (!env.DATABASE_URL) await choosePort('EMBEDDED_POSTGRES_PORT', 5433);
  // Its own data folder (own embedded PostgreSQL): the demo never mixes with `npm start`'s data.
  env.DATA_DIR ??= resolve(root, '.lantern/demo');
  const passwordFile = join(env.DATA_DIR, 'demo-admin-password');
  if (!env.ADMIN_PASSWORD)
    env.ADMIN_PASSWORD = existsSync(passwordFile)
      ? readFileSync(passwordFile, 'utf8').trim()
      : randomBytes(12).toString('base64url');
  const apiUrl = `http://127.0.0.1:${port}`;

  console.log(`[demo] starting Lantern (npm start) with data in ${env.DATA_DIR}…`);
  const lantern = spawn(process.execPath, [join(root, 'scripts/start.js')], { cwd: root, env, stdio: 'inherit' });
  const controller = new AbortController();
  // Every simulated device and scenario listens on it.
  setMaxListeners(0, controller.signal);
  const stop = () => {
    controller.abort();
    lantern.kill('SIGTERM');
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  const exited = new Promise<void>((done) =>
    lantern.once('exit', (code) => {
      controller.abort();
      if (code) console.error(`[demo] Lantern exited with ${code}`);
      done();
    }),
  );
  try {
    await runDemo(apiUrl, controller.signal);
  } catch (error) {
    console.error(`[demo] ${(error as Error).message}`);
    process.exitCode = 1;
  }
  // Whatever happened, Lantern and its embedded servers are not left running.
  stop();
  await exited;
}

async function runDemo(apiUrl: string, signal: AbortSignal): Promise<void> {
  const dataDir = env.DATA_DIR!;
  const passwordFile = join(dataDir, 'demo-admin-password');

  const deadline = Date.now() + 300_000;
  while (!signal.aborted) {
    if (
      await fetch(`${apiUrl}/health`).then(
        (r) => r.ok,
        () => false,
      )
    )
      break;
    if (Date.now() > deadline) throw new Error(`Lantern did not answer ${apiUrl}/health within 5 minutes`);
    await new Promise((r) => setTimeout(r, 500));
  }
  if (signal.aborted) return;
  // Keep the generated admin password next to the data so the next demo can log in again.
  mkdirSync(dataDir, { recursive: true });
  if (!existsSync(passwordFile)) writeFileSync(passwordFile, env.ADMIN_PASSWORD!, { mode: 0o600 });

  console.log('[demo] seeding the demo care team (npm run seed:demo)…');
  const seedEntry = join(root, 'dist/apps/api/apps/api/src/seed/seed-demo.main.js');
  if (!existsSync(seedEntry)) throw new Error(`${seedEntry} is missing: npm run build`);
  const seed = spawnSync(process.execPath, [seedEntry], {
    cwd: root,
    env: { ...env, LANTERN_URL: apiUrl },
    stdio: 'inherit',
  });
  if (seed.status !== 0)
    throw new Error(
      `seed:demo failed (if ${dataDir} was seeded with another admin password, set ADMIN_PASSWORD to it)`,
    );
  const devicesFile = join(dataDir, 'demo-devices.json');
  const seeded = JSON.parse(readFileSync(devicesFile, 'utf8')) as {
    topicRoot: string;
    devices: { patientId: string; patientName: string; deviceId: string; type: DeviceTypeKey; password: string }[];
  };
  const mqttUrl = env.MQTT_URL ?? `mqtt://127.0.0.1:${env.EMBEDDED_MQTT_PORT}`;
  const broker = { mqttUrl, topicRoot: seeded.topicRoot };

  const used = new Set<string>();
  const scenarios: { name: string; device: (typeof seeded.devices)[number]; delaySec: number }[] = [];
  for (const [type, name, delaySec] of SCENARIO_FOR) {
    const device = seeded.devices.find((d) => d.type === type && !used.has(d.patientId));
    if (!device) continue;
    used.add(device.patientId);
    scenarios.push({ name, device, delaySec });
  }
  const healthy = seeded.devices.filter((d) => !scenarios.some((s) => s.device.deviceId === d.deviceId));
  console.log(
    `\n[demo] dashboard: ${apiUrl}/   admin: ${env.ADMIN_EMAIL ?? 'admin@lantern.local'} / ${env.ADMIN_PASSWORD}`,
  );
  const loginsFile = join(dataDir, 'demo-logins.txt');
  if (existsSync(loginsFile))
    console.log(`[demo] clinician and patient logins (${loginsFile}):\n${readFileSync(loginsFile, 'utf8')}`);
  console.log(
    `[demo] streaming ${healthy.length} healthy devices; scenarios: ${scenarios.map((s) => `${s.name} for ${s.device.patientName} in ${s.delaySec} s`).join('; ')}. Ctrl-C stops.\n`,
  );

  const log = (line: string) => console.log(`[sim] ${line}`);
  await Promise.all([
    runHealthy(
      healthy.map((d) => ({ deviceId: d.deviceId, secret: d.password, type: d.type })),
      broker,
      { seed: 'demo', signalLossPerDay: 2, signal },
    ).catch((e: unknown) => log(`healthy devices stopped: ${(e as Error).message}`)),
    ...scenarios.map(async ({ name, device, delaySec }) => {
      await new Promise((r) => setTimeout(r, delaySec * 1000));
      if (signal.aborted) return;
      log(`${name} starts for ${device.patientName}`);
      await runScenario(name, { deviceId: device.deviceId, secret: device.password }, broker, {
        seed: 'demo',
        signal,
      }).catch((e: unknown) => log(`${name}: ${(e as Error).message}`));
      log(`${name} finished for ${device.patientName}`);
    }),
  ]);
}

main().catch((error: unknown) => {
  console.error(`[demo] ${(error as Error).message}`);
  process.exit(1);
});
