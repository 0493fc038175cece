import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { parseHarnessArgs } from '../infra/harness-args.js';
import {
  DexcomLikeAlgorithm,
  LANTERN_TARGETS,
  LanternAlgorithm,
  NightscoutLikeAlgorithm,
  type AlertAlgorithm,
} from './alert-algorithms.js';
import {
  markdownTable,
  RULE_HEADER,
  ruleMatrixRow,
  ruleRows,
  SUMMARY_HEADER,
  summaryRow,
  URGENT_MISS_HEADER,
  urgentMissRow,
} from './alert-report.js';
import { accuracyRow, ACCURACY_HEADER, sensorAccuracy } from './sensor-accuracy.js';
import { checkTargets } from './alert-targets.js';
import { SENSOR_MODELS, type SensorModelName } from './cgm-sensor.js';
import { buildCorpus, DEFAULT_CORPUS } from './corpus.js';
import { evaluate, GROUPS } from './eval-runner.js';
import { changeSteps, REJECTED } from './lantern-variants.js';

const d = DEFAULT_CORPUS;
const LANTERN_RULES = Object.keys(LANTERN_TARGETS);
const HELP = `npm run eval:alerts -- [flags]     (docs/alert-quality.md)
  --seed N        corpus seed (${d.seed}); the same flags make the same corpus and the same numbers
  --adults N      (${d.adults})   --children N (${d.children})   --days N (${d.days})
  --interval MIN  minutes between CGM readings (${d.intervalMin})
  --sensor NAME   modern (default: Dexcom G6/G7-class accuracy), legacy (Breton & Kovatchev 2008, noisier at
                  lows) or ideal (no error, only the interstitial lag: the floor for any rule on readings)
  --ack-min MIN   a clinician acknowledges open high/medium alerts this long after they are raised (5)
  --rejected      also measure the rule variants that were tried and not kept
  --out FILE      also write the report (Markdown) there`;

const FLAGS = {
  seed: { type: 'number', default: d.seed },
  adults: { type: 'number', default: d.adults },
  children: { type: 'number', default: d.children },
  days: { type: 'number', default: d.days },
  interval: { type: 'number', default: d.intervalMin },
  sensor: { type: 'string' },
  'ack-min': { type: 'number', default: 5 },
  rejected: { type: 'boolean' },
  out: { type: 'string' },
} as const;

function sensorFlag(value: string | undefined): SensorModelName {
  if (value === undefined) return d.sensor;
  if (value in SENSOR_MODELS) return value as SensorModelName;
  throw new Error(`--sensor: one of ${Object.keys(SENSOR_MODELS).join(', ')} (got ${value})`);
}

function main(): number {
  const flags = parseHarnessArgs(process.argv.slice(2), FLAGS, HELP);
  if (!flags) return 0;
  const started = Date.now();
  const options = {
    seed: flags.seed,
    adults: flags.adults,
    children: flags.children,
    days: flags.days,
    intervalMin: flags.interval,
    start: d.start,
    sensor: sensorFlag(flags.sensor),
  };
  const corpus = buildCorpus(options);
  const readings = corpus.reduce((sum, t) => sum + t.readingTimes.length, 0);
  const lantern = { acknowledgeAfterMin: flags['ack-min'], latencyMs: 2000 };
  const variants = [...changeSteps(), ...(flags.rejected ? REJECTED : [])];
  const algorithms: AlertAlgorithm[] = [
    ...variants.map((v) => new LanternAlgorithm(v.name, { ...lantern, overrides: v.overrides })),
    new NightscoutLikeAlgorithm(),
    new DexcomLikeAlgorithm(),
  ];
  const results = evaluate(corpus, algorithms);
  const before = results[0];
  const now = results[changeSteps().length - 1];
  const references = results.slice(-2);
  const lines = [
    `Corpus: seed ${options.seed}, ${options.sensor} sensor, ${options.adults} adults + ${options.children} children × ${options.days} days, ` +
      `a reading every ${options.intervalMin} min (${readings} readings); clinician acknowledges after ${lantern.acknowledgeAfterMin} min.`,
    '',
    `### Sensor accuracy (${options.sensor} model) against the true glucose`,
    '',
    markdownTable(
      ACCURACY_HEADER,
      (['adult', 'child', 'all'] as const).map((g) => accuracyRow(sensorAccuracy(corpus, g))),
    ),
    '',
    '### All patients',
    '',
    markdownTable(
      SUMMARY_HEADER,
      results.map((r) => summaryRow(r.name, 'all', r.metrics.all)),
    ),
    '',
    '### Per group',
    '',
    markdownTable(
      SUMMARY_HEADER,
      [before, now, ...references].flatMap((r) =>
        GROUPS.filter((g) => g !== 'all').map((g) => summaryRow(r.name, g, r.metrics[g])),
      ),
    ),
    '',
    '### Per rule (all patients): before and now',
    '',
    markdownTable(
      RULE_HEADER,
      [before, now, ...references].flatMap((r) => ruleRows(r.name, r.metrics.all)),
    ),
    '',
    '### Per rule, every Lantern row: alerts per patient-day (share followed by the event it warns of)',
    '',
    markdownTable(
      ['algorithm', ...LANTERN_RULES.map((rule) => rule.replace('glucose.', ''))],
      results.slice(0, variants.length).map((r) => [r.name, ...ruleMatrixRow(r.metrics.all, LANTERN_RULES)]),
    ),
    '',
    '### Urgent-class alarms not followed by a level-2 event: what the true glucose did in the hour after',
    '',
    markdownTable(
      URGENT_MISS_HEADER,
      results.map((r) => urgentMissRow(r.name, r.metrics.all.urgentMisses)),
    ),
    '',
    '### Targets (issue 19), current rules against before',
    '',
    markdownTable(
      ['target', 'met', 'measured'],
      checkTargets(before.metrics.all, now.metrics.all).map((c) => [c.target, c.ok ? 'yes' : 'no', c.measured]),
    ),
    '',
    `${corpus.length} patients simulated and evaluated by ${algorithms.length} algorithms in ${((Date.now() - started) / 1000).toFixed(1)} s.`,
  ];
  const report = lines.join('\n');
  console.log(report);
  const out = flags.out;
  if (out) {
    mkdirSync(dirname(out), { recursive: true });
    writeFileSync(out, `${report}\n`);
  }
  return 0;
}

process.exitCode = main();
