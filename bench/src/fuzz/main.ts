import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runMain, writeJsonReport } from '../infra/harness.js';
import { parseHarnessArgs } from '../infra/harness-args.js';
import { renderFuzzTable } from './fuzz-report.js';
import { DEFAULT_CATEGORY_WEIGHTS, HOSTILE_CATEGORIES, type HostileCategory } from './hostile-payload.generator.js';
import { DEFAULT_FUZZ_OPTIONS, runFuzz } from './fuzz.runner.js';

const d = DEFAULT_FUZZ_OPTIONS;
const FLAGS = {
  messages: { type: 'number', default: d.messages },
  seed: { type: 'number', default: d.seed },
  'hostile-devices': { type: 'number', default: d.hostileDevices },
  'valid-devices': { type: 'number', default: d.validDevices },
  rate: { type: 'number', default: d.rate },
  'valid-rate': { type: 'number', default: d.validRate },
  categories: { type: 'string' },
  window: { type: 'number', default: d.window },
  'probe-interval-ms': { type: 'number', default: d.probeIntervalMs },
  'drain-timeout-sec': { type: 'number', default: d.drainTimeoutMs / 1000 },
  'database-url': { type: 'string' },
  'mqtt-url': { type: 'string' },
  out: { type: 'string' },
  keep: { type: 'boolean' },
} as const;

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
  const flags = parseHarnessArgs(process.argv.slice(2), FLAGS, HELP);
  if (!flags) return 0;
  const only = flags.categories?.split(',');
  const unknown = only?.filter((c) => !(HOSTILE_CATEGORIES as readonly string[]).includes(c)) ?? [];
  if (unknown.length > 0) throw new Error(`unknown categories ${unknown.join(', ')}: ${HOSTILE_CATEGORIES.join(', ')}`);
  const weights =
    only &&
    (Object.fromEntries(
      HOSTILE_CATEGORIES.map((c) => [c, only.includes(c) ? DEFAULT_CATEGORY_WEIGHTS[c] : 0]),
    ) as Record<HostileCategory, number>);
  const report = await runFuzz({
    rootDir: root,
    messages: flags.messages,
    seed: flags.seed,
    hostileDevices: flags['hostile-devices'],
    validDevices: flags['valid-devices'],
    rate: flags.rate,
    validRate: flags['valid-rate'],
    window: flags.window,
    ...(weights ? { weights } : {}),
    probeIntervalMs: flags['probe-interval-ms'],
    minProbeSamples: d.minProbeSamples,
    drainTimeoutMs: flags['drain-timeout-sec'] * 1000,
    databaseUrl: flags['database-url'] ?? (process.env.DATABASE_URL || undefined),
    // A broker with Mosquitto's default queue limits drops QoS 1 messages under a storm, which would
    // read as lost readings: an external broker is used only when named explicitly.
    mqttUrl: flags['mqtt-url'],
    keep: flags.keep,
    log: (line) => console.log(line),
  });
  console.log(renderFuzzTable(report));
  const out = flags.out ?? join(root, 'bench/reports/fuzz-latest.json');
  writeJsonReport(out, report);
  return report.ok ? 0 : 1;
}

runMain('fuzz', main);
