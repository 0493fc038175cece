import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runMain, writeJsonReport } from '../infra/harness.js';
import { boolFlag, numberFlag, parseArgs, stringFlag } from '../../../device-simulator/src/cli-args.js';
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

const root = join(dirname(fileURLToPath(import.meta.url)), '../../../../..');

async function main(): Promise<number> {
  const args = parseArgs(process.argv.slice(2));
  if (boolFlag(args, 'help')) {
    console.log(HELP);
    return 0;
  }
  const faults = (stringFlag(args, 'faults') ?? CHAOS_FAULTS.join(',')).split(',');
  const unknown = faults.filter((f) => !(CHAOS_FAULTS as readonly string[]).includes(f));
  if (unknown.length > 0) throw new Error(`unknown faults ${unknown.join(', ')}: ${CHAOS_FAULTS.join(', ')}`);
  const broker = stringFlag(args, 'broker', d.broker);
  if (broker !== 'mosquitto' && broker !== 'embedded')
    throw new Error(`--broker is mosquitto or embedded, not ${broker}`);
  const report = await runChaos({
    rootDir: root,
    faults: faults as ChaosFault[],
    ingestKills: numberFlag(args, 'ingest-kills', d.ingestKills),
    dbOutageSec: numberFlag(args, 'db-outage-sec', d.dbOutageSec),
    brokerDownSec: numberFlag(args, 'broker-down-sec', d.brokerDownSec),
    broker,
    rate: numberFlag(args, 'rate', d.rate),
    loadDevices: numberFlag(args, 'load-devices', d.loadDevices),
    scenarioPatients: numberFlag(args, 'scenario-patients', d.scenarioPatients),
    settleSec: numberFlag(args, 'settle-sec', d.settleSec),
    drainTimeoutMs: d.drainTimeoutMs,
    databaseUrl: stringFlag(args, 'database-url', process.env.DATABASE_URL || undefined),
    log: (line) => console.log(line),
  });
  console.log(renderChaosTable(report));
  const out = stringFlag(args, 'out') ?? join(root, 'bench/reports/chaos-latest.json');
  writeJsonReport(out, report);
  return report.ok ? 0 : 1;
}

runMain('chaos', main);
