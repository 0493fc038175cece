import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runMain, writeJsonReport } from '../infra/harness.js';
import { boolFlag, numberFlag, parseArgs, stringFlag } from '../../../device-simulator/src/cli-args.js';
import { renderFuzzTable } from './fuzz-report.js';
import { DEFAULT_CATEGORY_WEIGHTS, HOSTILE_CATEGORIES, type HostileCategory } from './hostile-payload.generator.js';
import { DEFAULT_FUZZ_OPTIONS, runFuzz } from './fuzz.runner.js';

const HELP = `npm run fuzz -- [flags]     (docs/reliability.md, "Fuzzing")
  --messages N          hostile messages (${DEFAULT_FUZZ_OPTIONS.messages})
  --seed N              generator seed (${DEFAULT_FUZZ_OPTIONS.seed}); the same seed makes the same mutations
  --hostile-devices N   (${DEFAULT_FUZZ_OPTIONS.hostileDevices})   --valid-devices N (${DEFAULT_FUZZ_OPTIONS.validDevices})
  --rate R              hostile messages/s over all hostile devices, 0 = as fast as the broker takes them (${DEFAULT_FUZZ_OPTIONS.rate})
  --valid-rate R        valid telemetry messages/s (${DEFAULT_FUZZ_OPTIONS.validRate})
  --categories LIST     only these categories, e.g. deep_nesting,binary (default: all, heavy ones rarer)
  --window N            unacknowledged publishes per device (${DEFAULT_FUZZ_OPTIONS.window})
  --probe-interval-ms N pause between probe alerts (${DEFAULT_FUZZ_OPTIONS.probeIntervalMs})
  --drain-timeout-sec S bound on the ingest's catching up after the storm (${DEFAULT_FUZZ_OPTIONS.drainTimeoutMs / 1000})
  --database-url URL    server to create the fuzz database on (DATABASE_URL; unset: embedded PostgreSQL)
  --mqtt-url URL        broker to use (unset: a Mosquitto with docker/mosquitto.conf's no-loss limits is started)
  --out FILE            JSON report (bench/reports/fuzz-latest.json)
  --keep               keep the fuzz database`;

const root = join(dirname(fileURLToPath(import.meta.url)), '../../../../..');

async function main(): Promise<number> {
  const args = parseArgs(process.argv.slice(2));
  if (boolFlag(args, 'help')) {
    console.log(HELP);
    return 0;
  }
  const d = DEFAULT_FUZZ_OPTIONS;
  const only = stringFlag(args, 'categories')?.split(',');
  const unknown = only?.filter((c) => !(HOSTILE_CATEGORIES as readonly string[]).includes(c)) ?? [];
  if (unknown.length > 0) throw new Error(`unknown categories ${unknown.join(', ')}: ${HOSTILE_CATEGORIES.join(', ')}`);
  const weights =
    only &&
    (Object.fromEntries(
      HOSTILE_CATEGORIES.map((c) => [c, only.includes(c) ? DEFAULT_CATEGORY_WEIGHTS[c] : 0]),
    ) as Record<HostileCategory, number>);
  const report = await runFuzz({
    rootDir: root,
    messages: numberFlag(args, 'messages', d.messages),
    seed: numberFlag(args, 'seed', d.seed),
    hostileDevices: numberFlag(args, 'hostile-devices', d.hostileDevices),
    validDevices: numberFlag(args, 'valid-devices', d.validDevices),
    rate: numberFlag(args, 'rate', d.rate),
    validRate: numberFlag(args, 'valid-rate', d.validRate),
    window: numberFlag(args, 'window', d.window),
    ...(weights ? { weights } : {}),
    probeIntervalMs: numberFlag(args, 'probe-interval-ms', d.probeIntervalMs),
    minProbeSamples: d.minProbeSamples,
    drainTimeoutMs: numberFlag(args, 'drain-timeout-sec', d.drainTimeoutMs / 1000) * 1000,
    databaseUrl: stringFlag(args, 'database-url', process.env.DATABASE_URL || undefined),
    // A broker with Mosquitto's default queue limits drops QoS 1 messages under a storm, which would
    // read as lost readings: an external broker is used only when named explicitly.
    mqttUrl: stringFlag(args, 'mqtt-url'),
    keep: boolFlag(args, 'keep'),
    log: (line) => console.log(line),
  });
  console.log(renderFuzzTable(report));
  const out = stringFlag(args, 'out') ?? join(root, 'bench/reports/fuzz-latest.json');
  writeJsonReport(out, report);
  return report.ok ? 0 : 1;
}

runMain('fuzz', main);
