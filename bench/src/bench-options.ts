import { parseHarnessArgs } from './infra/harness-args.js';
import { parseScaling } from './phases/scaling.phase.js';

/*
 * The command line of `npm run bench` (docs/benchmarks.md): its flags, its help and the settings they
 * make, with the defaults that depend on --quick applied.
 */

const HELP = `npm run bench -- [flags]     (docs/benchmarks.md)
  --quick                 seconds-long smoke run (small devices, rates, durations, data)
  --phases LIST           reference,lantern,alert,rss,query,scaling,core (default: all)
  --devices N             simulated devices, each on its own MQTT connection (10000)
  --readings-per-message N  readings in each telemetry message of the load (2)
  --rates LIST            readings/s steps (5000,10000,15000,20000,25000,30000,40000,50000)
  --step-sec S            seconds per step (60)
  --max-drain-sec S       bound on the time to store everything after a step (10)
  --alert-samples N       alert probes (200)      --watchers N   watching sockets (200)
  --alert-rate R          load during the alert phase (default: 50 % of Lantern's sustained rate)
  --query-patients N      (1000)  --query-days D (30)  --query-interval-sec S (300)  --query-samples N (200)
  --core-readings N       streaming-core micro-benchmark size (1000000)
  --scaling LIST          load shapes of the scaling table, DEVICESxREADINGS_PER_MESSAGE[/CONNECTIONS]
                          (1000x2,10000x1,10000x2,10000x10,10000x100,50000x2); steps of at most 20 s;
                          devices share connections when one each is more than ulimit -n allows
  --out-dir DIR           write benchmarks.md and latest.json there (default: docs/ and bench/reports/)
  --database-url URL      server to create the bench database on (DATABASE_URL, else postgres://postgres@127.0.0.1:5432/postgres)
  --tls                   devices connect over TLS (mqtts, self-signed certificate) as in production; Lantern stays on plain loopback
  --keep                  keep the bench database and work folder
  --profile DIR           CPU-profile the ingest and the api (node --cpu-prof into DIR/ingest, DIR/api; open the
                          .cpuprofile files in Chrome DevTools) and add their top functions to the report`;

/** Defaults that depend on --quick are applied in benchOptions. */
const FLAGS = {
  quick: { type: 'boolean' },
  phases: { type: 'string', default: 'reference,lantern,alert,rss,query,scaling,core' },
  devices: { type: 'number' },
  'readings-per-message': { type: 'number', default: 2 },
  rates: { type: 'string' },
  'step-sec': { type: 'number' },
  'max-drain-sec': { type: 'number' },
  'alert-samples': { type: 'number' },
  watchers: { type: 'number' },
  // 0: half of Lantern's measured sustained rate.
  'alert-rate': { type: 'number', default: 0 },
  'query-patients': { type: 'number' },
  'query-days': { type: 'number' },
  'query-interval-sec': { type: 'number', default: 300 },
  'query-samples': { type: 'number' },
  'core-readings': { type: 'number' },
  scaling: { type: 'string' },
  'out-dir': { type: 'string' },
  'database-url': { type: 'string' },
  tls: { type: 'boolean' },
  keep: { type: 'boolean' },
  profile: { type: 'string' },
} as const;

/** The bench's settings from its command line, --quick's defaults applied; undefined after --help. */
export function benchOptions(argv: readonly string[]) {
  const flags = parseHarnessArgs(argv, FLAGS, HELP);
  if (!flags) return undefined;
  const quick = flags.quick;
  return {
    quick,
    phases: new Set(flags.phases.split(',')),
    devices: flags.devices ?? (quick ? 40 : 10_000),
    readingsPerMessage: flags['readings-per-message'],
    rates: (flags.rates ?? (quick ? '200,400' : '5000,10000,15000,20000,25000,30000,40000,50000'))
      .split(',')
      .map(Number),
    stepSec: flags['step-sec'] ?? (quick ? 2 : 60),
    maxDrainSec: flags['max-drain-sec'] ?? (quick ? 5 : 10),
    alertSamples: flags['alert-samples'] ?? (quick ? 5 : 200),
    watchers: flags.watchers ?? (quick ? 5 : 200),
    alertRate: flags['alert-rate'],
    queryPatients: flags['query-patients'] ?? (quick ? 5 : 1000),
    queryDays: flags['query-days'] ?? (quick ? 1 : 30),
    queryIntervalSec: flags['query-interval-sec'],
    querySamples: flags['query-samples'] ?? (quick ? 5 : 200),
    coreReadings: flags['core-readings'] ?? (quick ? 20_000 : 1_000_000),
    scaling: parseScaling(
      flags.scaling ?? (quick ? '10x1,20x10' : '1000x2,10000x1,10000x2,10000x10,10000x100,50000x2'),
    ),
    outDir: flags['out-dir'],
    databaseUrl: flags['database-url'] ?? (process.env.DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/postgres'),
    keep: flags.keep,
    tls: flags.tls,
    profile: flags.profile,
  };
}
