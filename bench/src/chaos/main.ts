import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runMain, writeJsonReport } from '../infra/harness.js';
import { parseHarnessArgs } from '../infra/harness-args.js';
import { renderChaosTable } from './chaos-report.js';
import { CHAOS_FAULTS, DEFAULT_CHAOS_OPTIONS, runChaos, type ChaosFault } from './chaos.runner.js';

const d = DEFAULT_CHAOS_OPTIONS;
const HELP = `npm run chaos -- [flags]     (docs/reliability.md, "Chaos")
  --faults LIST         faults in order (${CHAOS_FAULTS.join(',')})
  --ingest-kills N      kill -9 of the ingest (${d.ingestKills})
  --db-outage-sec S     database unreachable this long (${d.dbOutageSec})
  --broker-down-sec S   broker stopped this long in broker-restart (${d.brokerDownSec})
  --broker KIND         mosquitto (persistence on) or embedded (aedes, sessions in PostgreSQL) (${d.broker})
  --rate R              load, readings/s (${d.rate})   --load-devices N (${d.loadDevices})
  --scenario-patients N hypoglycaemia patients per fault (${d.scenarioPatients})
  --settle-sec S        load before and between faults (${d.settleSec})
  --database-url URL    server to create the chaos database on (DATABASE_URL; unset: embedded PostgreSQL)
  --out FILE            JSON report (bench/reports/chaos-latest.json)`;

const FLAGS = {
  faults: { type: 'string', default: CHAOS_FAULTS.join(',') },
  'ingest-kills': { type: 'number', default: d.ingestKills },
  'db-outage-sec': { type: 'number', default: d.dbOutageSec },
  'broker-down-sec': { type: 'number', default: d.brokerDownSec },
  broker: { type: 'string', default: d.broker },
  rate: { type: 'number', default: d.rate },
  'load-devices': { type: 'number', default: d.loadDevices },
  'scenario-patients': { type: 'number', default: d.scenarioPatients },
  'settle-sec': { type: 'number', default: d.settleSec },
  'database-url': { type: 'string' },
  out: { type: 'string' },
} as const;

const root = join(dirname(fileURLToPath(import.meta.url)), '../../../../..');

async function main(): Promise<number> {
  const flags = parseHarnessArgs(process.argv.slice(2), FLAGS, HELP);
  if (!flags) return 0;
  const faults = flags.faults.split(',');
  const unknown = faults.filter((f) => !(CHAOS_FAULTS as readonly string[]).includes(f));
  if (unknown.length > 0) throw new Error(`unknown faults ${unknown.join(', ')}: ${CHAOS_FAULTS.join(', ')}`);
  const broker = flags.broker;
  if (broker !== 'mosquitto' && broker !== 'embedded')
    throw new Error(`--broker is mosquitto or embedded, not ${broker}`);
  const report = await runChaos({
    rootDir: root,
    faults: faults as ChaosFault[],
    ingestKills: flags['ingest-kills'],
    dbOutageSec: flags['db-outage-sec'],
    brokerDownSec: flags['broker-down-sec'],
    broker,
    rate: flags.rate,
    loadDevices: flags['load-devices'],
    scenarioPatients: flags['scenario-patients'],
    settleSec: flags['settle-sec'],
    drainTimeoutMs: d.drainTimeoutMs,
    databaseUrl: flags['database-url'] ?? (process.env.DATABASE_URL || undefined),
    log: (line) => console.log(line),
  });
  console.log(renderChaosTable(report));
  const out = flags.out ?? join(root, 'bench/reports/chaos-latest.json');
  writeJsonReport(out, report);
  return report.ok ? 0 : 1;
}

runMain('chaos', main);
