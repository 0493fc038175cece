import { LOAD_ACHIEVED_MIN } from './load-process.js';
import type { AlertLatencyResult } from './phases/alert-latency.phase.js';
import type { QueryResult } from './phases/query.phase.js';
import type { ProfileSummary } from './infra/cpu-profile.js';
import type { SustainedResult } from './phases/sustained-ingest.phase.js';
import { scalingSection, type ScalingRow } from './phases/scaling.phase.js';

export type PhaseOutcome<T> =
  | { status: 'ok'; result: T; note?: string }
  | { status: 'failed'; error: string }
  | { status: 'skipped'; reason: string };

export interface BenchReport {
  startedAt: string;
  finishedAt: string;
  quick: boolean;
  machine: { cpus: number; cpuModel: string; memoryGiB: number; node: string; postgres?: string; mosquitto?: string };
  settings: Record<string, unknown>;
  phases: {
    reference: PhaseOutcome<SustainedResult>;
    lantern: PhaseOutcome<SustainedResult>;
    scaling: PhaseOutcome<ScalingRow[]>;
    alertLatency: PhaseOutcome<AlertLatencyResult>;
    streamingCore: PhaseOutcome<CoreResult>;
    rss: PhaseOutcome<{
      devices: number;
      /** What load the steady peaks were taken under. */
      window: string;
      /** Peak RSS under the steady load alone (the target's figure). */
      steadyPeakMiB: Record<string, number | null>;
      /** Peak RSS over the whole run, the overload steps of the sustained-ingest phases included. */
      wholeRunPeakMiB: Record<string, number | null>;
    }>;
    query: PhaseOutcome<QueryResult>;
  };
  targets: TargetCheck[];
  /** With --profile: each profiled process's top functions by self time. */
  profiles?: Record<string, ProfileSummary>;
}

type CoreResult = {
  patients: number;
  readings: number;
  nsPerReading: number;
  /** Cheapest and dearest of the timed rounds (absent from reports made before rounds). */
  nsPerReadingRange?: readonly [number, number];
  rounds?: number;
  readingsPerSecond: number;
  /** Each fresh process's median round (absent from reports made in the harness's own process). */
  perProcess?: readonly number[];
};

export interface TargetCheck {
  name: string;
  target: string;
  measured: string;
  met: boolean | null;
  note?: string;
}

/** Issue 18's targets (issue 7's where issue 18 names none: the broker's and simulator's memory, the queries). */
const SUSTAINED_RATIO = 1;
const ALERT_P99_MS = 50;
const ALERT_MAX_MS = 200;
const CORE_NS_PER_READING = 300;
const RSS_LIMIT_MB: Readonly<Record<string, number>> = { ingest: 300, api: 200 };
const RSS_LIMIT_DEFAULT_MB = 400;

/** Compares the results with the targets; a target whose phase did not produce numbers is "not measured" (met: null). */
export function checkTargets(report: Omit<BenchReport, 'targets'>): TargetCheck[] {
  const out: TargetCheck[] = [];
  const { reference, lantern, alertLatency, rss, query, streamingCore } = report.phases;
  const sustainedTarget = `≥ ${SUSTAINED_RATIO * 100} %`;
  if (reference.status === 'ok' && lantern.status === 'ok' && reference.result.sustainedReadingsPerSec > 0) {
    const ratio = lantern.result.sustainedReadingsPerSec / reference.result.sustainedReadingsPerSec;
    out.push({
      name: 'Sustained ingest vs reference',
      target: sustainedTarget,
      measured: `${(ratio * 100).toFixed(0)} % (${lantern.result.sustainedReadingsPerSec} vs ${reference.result.sustainedReadingsPerSec} readings/s)`,
      met: ratio >= SUSTAINED_RATIO,
      note:
        [
          ratio >= SUSTAINED_RATIO
            ? undefined
            : `short by ${((SUSTAINED_RATIO - ratio) * 100).toFixed(0)} points; Lantern's first failed step: ${lantern.result.steps.find((s) => !s.passed)?.why ?? '—'}`,
          reference.result.steps.every((s) => s.passed)
            ? 'the reference passed every step, so its rate is a lower bound and the ratio an upper bound'
            : undefined,
          /simulator reached only/.test(reference.result.steps.find((s) => !s.passed)?.why ?? '')
            ? 'the reference stopped where the simulator could publish no faster on the shared cores: its rate is a lower bound'
            : undefined,
        ]
          .filter(Boolean)
          .join('; ') || undefined,
    });
  } else
    out.push({
      name: 'Sustained ingest vs reference',
      target: sustainedTarget,
      measured: 'not measured',
      met: null,
      note: failure(reference) ?? failure(lantern),
    });
  if (alertLatency.status === 'ok') {
    const r = alertLatency.result;
    out.push({
      name: 'Alert latency p99',
      target: `≤ ${ALERT_P99_MS} ms`,
      measured: `${r.p99Ms} ms`,
      met: r.p99Ms <= ALERT_P99_MS && r.timeouts === 0,
      note:
        r.p99Ms <= ALERT_P99_MS
          ? r.timeouts
            ? `${r.timeouts} probes timed out`
            : undefined
          : `over by ${(r.p99Ms - ALERT_P99_MS).toFixed(0)} ms`,
    });
    out.push({
      name: 'Alert latency max',
      target: `≤ ${ALERT_MAX_MS} ms`,
      measured: `${r.maxMs} ms`,
      met: r.maxMs <= ALERT_MAX_MS && r.timeouts === 0,
      note: r.maxMs <= ALERT_MAX_MS ? undefined : `over by ${(r.maxMs - ALERT_MAX_MS).toFixed(0)} ms`,
    });
  } else
    for (const name of ['Alert latency p99', 'Alert latency max'])
      out.push({
        name,
        target: name.endsWith('p99') ? `≤ ${ALERT_P99_MS} ms` : `≤ ${ALERT_MAX_MS} ms`,
        measured: 'not measured',
        met: null,
        note: failure(alertLatency),
      });
  out.push(
    streamingCore.status === 'ok'
      ? {
          name: 'Streaming core per reading',
          target: `≤ ${CORE_NS_PER_READING} ns`,
          measured: `${streamingCore.result.nsPerReading.toFixed(0)} ns`,
          met: streamingCore.result.nsPerReading <= CORE_NS_PER_READING,
        }
      : {
          name: 'Streaming core per reading',
          target: `≤ ${CORE_NS_PER_READING} ns`,
          measured: 'not measured',
          met: null,
          note: failure(streamingCore),
        },
  );
  if (rss.status === 'ok') {
    for (const [name, mib] of Object.entries(rss.result.steadyPeakMiB)) {
      const limit = RSS_LIMIT_MB[name] ?? RSS_LIMIT_DEFAULT_MB;
      out.push({
        name: `Peak RSS ${name}`,
        target: `≤ ${limit} MB`,
        measured:
          mib === null
            ? 'not measured'
            : `${mib} MiB at ${rss.result.devices} devices (${rss.result.wholeRunPeakMiB[name] ?? '—'} MiB over the whole run, overload included)`,
        met: mib === null ? null : mib * 1.048576 <= limit,
      });
    }
  } else
    out.push({
      name: 'Peak RSS',
      target: `ingest ≤ ${RSS_LIMIT_MB.ingest} MB, api ≤ ${RSS_LIMIT_MB.api} MB, others ≤ ${RSS_LIMIT_DEFAULT_MB} MB`,
      measured: 'not measured',
      met: null,
      note: failure(rss),
    });
  if (query.status === 'ok') {
    const q = query.result;
    out.push({
      name: 'Query 24 h of 1-min buckets p99',
      target: '≤ 50 ms',
      measured: `${q.minute24h.p99Ms} ms`,
      met: q.minute24h.p99Ms <= 50,
    });
    out.push({
      name: 'Query 90 d of 1-h buckets p99',
      target: '≤ 50 ms',
      measured: `${q.hour90d.p99Ms} ms`,
      met: q.hour90d.p99Ms <= 50,
    });
  } else
    out.push({
      name: 'Bucketed query p99',
      target: '≤ 50 ms',
      measured: 'not measured',
      met: null,
      note: failure(query),
    });
  return out;
}

function failure(outcome: PhaseOutcome<unknown>): string | undefined {
  return outcome.status === 'failed'
    ? `failed: ${outcome.error.split('\n')[0]}`
    : outcome.status === 'skipped'
      ? `skipped: ${outcome.reason}`
      : undefined;
}

/** docs/benchmarks.md: the numbers of the last run, what they mean and how they were measured. */
export function renderMarkdown(report: BenchReport): string {
  const p = report.phases;
  const lines: string[] = [];
  lines.push('# Benchmarks', '');
  lines.push(
    `Generated by \`npm run bench${report.quick ? ' -- --quick' : ''}\` on ${report.finishedAt.slice(0, 16).replace('T', ' ')} UTC; the raw numbers are in \`bench/reports/latest.json\`.`,
  );
  if (report.quick)
    lines.push(
      '',
      '> **Quick (smoke) run**: tiny loads and durations. These numbers only show that the harness works; they are not the benchmark.',
    );
  lines.push(
    '',
    `Machine: ${report.machine.cpus} × ${report.machine.cpuModel}, ${report.machine.memoryGiB} GiB RAM, Node ${report.machine.node}${report.machine.postgres ? `, ${report.machine.postgres}` : ''}${report.machine.mosquitto ? `, ${report.machine.mosquitto}` : ''}. Everything (database, broker, both Lantern processes, the simulator, the harness) shares these cores.`,
  );
  lines.push('', '## Targets', '', '| | target | measured | met |', '|---|---|---|---|');
  for (const t of report.targets)
    lines.push(
      `| ${t.name} | ${t.target} | ${t.measured} | ${t.met === null ? '—' : t.met ? 'yes' : '**no**'}${t.note ? ` — ${t.note}` : ''} |`,
    );
  const why = explainMisses(report);
  if (why.length > 0) lines.push('', '## Why targets were missed', '', ...why.map((w) => `- ${w}`));
  const ingestTable = (title: string, outcome: PhaseOutcome<SustainedResult>) => {
    lines.push('', `### ${title}`, '');
    if (outcome.status !== 'ok')
      return lines.push(
        outcome.status === 'failed' ? `**Failed**: ${fence(outcome.error)}` : `Skipped: ${outcome.reason}`,
      );
    lines.push(`Sustained: **${outcome.result.sustainedReadingsPerSec} readings/s**.`, '');
    lines.push(
      '| target readings/s | published/s | stored / published | drain s | max ack lag s | CPU µs/reading: process + database | result |',
      '|---|---|---|---|---|---|---|',
    );
    for (const s of outcome.result.steps) {
      const cpu = s.cpuMicrosPerReading;
      lines.push(
        `| ${s.targetReadingsPerSec} | ${s.publishedReadingsPerSec} | ${s.stored} / ${s.published} | ${s.drainSec ?? '—'} | ${s.maxAckLagSec?.toFixed(2) ?? '—'} | ${cpu?.process ?? '—'} + ${cpu?.database ?? '—'} | ${s.passed ? 'ok' : `fail: ${s.why}`} |`,
      );
    }
    return undefined;
  };
  lines.push('', '## Sustained ingest', '');
  lines.push(
    `QoS 1, ${Number(report.settings.readingsPerMessage ?? 2)} readings per message, ${String(report.settings.devices)} simulated devices each on its own MQTT connection${report.settings.tls === true ? ' over TLS (mqtts, `--tls`)' : ''} (the simulator's load mode, one process). ` +
      `Each step runs ${String(report.settings.stepSec)} s at a target rate, then the load pauses; a step passes when every reading the broker acknowledged to the devices is in the database within ${String(report.settings.maxDrainSec)} s ` +
      `(no loss, bounded lag) and the simulator achieved ≥ ${LOAD_ACHIEVED_MIN * 100} % of the target. The rate steps up until a step fails.`,
  );
  ingestTable('Reference pipeline (bench/src/reference-pipeline.ts)', p.reference);
  ingestTable('Lantern (apps/ingest)', p.lantern);
  lines.push(
    '',
    '### Scaling: devices × readings per message',
    '',
    ...scalingSection(p.scaling, report.settings.stepSec),
  );
  lines.push('', '## Alert latency', '');
  if (p.alertLatency.status === 'ok') {
    const r = p.alertLatency.result;
    lines.push(
      `From just before the publish of a threshold-crossing reading (body temperature 39.4 °C) to the \`alert\` event on a subscribed Socket.IO client, while the simulator publishes ${r.loadReadingsPerSec} readings/s and ${r.watchers} other sockets watch patients of the load.` +
        (r.caughtUpAfterSec === undefined
          ? ''
          : ` The probes began once the ingest kept up with that load (its canary through the broker and back within 1 s, ten checks a second apart): ${r.caughtUpAfterSec} s after the load was set.`) +
        (r.loadAchievedReadingsPerSec === undefined
          ? ''
          : ` The simulator, which stands in for devices that are elsewhere, ran at nice ${r.loadGeneratorNice ?? 0} while the probes ran and achieved ${r.loadAchievedReadingsPerSec} readings/s meanwhile (the phase fails below ${LOAD_ACHIEVED_MIN * 100} % of the rate).`),
      '',
    );
    lines.push(
      '| samples | p50 ms | p95 ms | p99 ms | max ms | timeouts |',
      '|---|---|---|---|---|---|',
      `| ${r.samples} | ${r.p50Ms} | ${r.p95Ms} | ${r.p99Ms} | ${r.maxMs} | ${r.timeouts} |`,
    );
    if (r.warmUp)
      lines.push(
        '',
        `Before them, ${r.warmUp.probes} warm-up probes, not counted: the first alerts of the freshly started ingest and api (statements prepared, code compiled, the watchers' subscriptions settling). The slowest answered in ${r.warmUp.maxMs} ms (a timeout among them counts in the table's).`,
      );
    if (r.stages?.length)
      lines.push(
        '',
        "Where the time went, from each opened alert's provenance (`receivedAt`, `raisedAt`) and a subscriber of its broker topic beside the api (wall clock, ms): inbound is the publish until the ingest has the message (the broker hop and the ingest's event loop), evaluation until the core raised the alert, store until its event came out of the broker (the alert write and commit, the ingest's publish, the broker), relay until the socket has it (the api).",
        '',
        '| stage | p50 ms | p99 ms | max ms | share of the slowest 1 % |',
        '|---|---|---|---|---|',
        ...r.stages.map(
          (s) => `| ${s.name} | ${s.p50Ms} | ${s.p99Ms} | ${s.maxMs} | ${Math.round(s.shareOfSlowest * 100)} % |`,
        ),
      );
  } else
    lines.push(
      p.alertLatency.status === 'failed'
        ? `**Failed**: ${fence(p.alertLatency.error)}`
        : `Skipped: ${p.alertLatency.reason}`,
    );
  lines.push('', '## Streaming core', '');
  if (p.streamingCore.status === 'ok') {
    const r = p.streamingCore.result;
    lines.push(
      `Full default rule set, ${r.patients} patients, ${r.readings} readings (bench \`benchmarkEvaluation\`): **${r.nsPerReading.toFixed(0)} ns per reading** (${Math.round(r.readingsPerSecond)} readings/s on one core)${coreSpread(r)}.`,
    );
  } else
    lines.push(
      p.streamingCore.status === 'failed'
        ? `**Failed**: ${fence(p.streamingCore.error)}`
        : `Skipped: ${p.streamingCore.reason}`,
    );
  for (const [role, profile] of Object.entries(report.profiles ?? {})) {
    lines.push(
      '',
      `## CPU profile: ${role} (--profile)`,
      '',
      `\`node --cpu-prof\` over the whole run: ${(profile.busyMs / 1000).toFixed(1)} s busy of ${(profile.totalMs / 1000).toFixed(1)} s sampled. Self time of the costliest functions, as a share of the busy time:`,
      '',
      '| function | self s | share |',
      '|---|---|---|',
      ...profile.top.map((f) => `| \`${f.fn}\` | ${(f.selfMs / 1000).toFixed(2)} | ${(f.share * 100).toFixed(1)} % |`),
    );
  }
  lines.push('', '## Peak memory', '');
  if (p.rss.status === 'ok') {
    const r = p.rss.result;
    lines.push(
      `Peak resident set size (VmHWM) of each process with ${r.devices} devices connected, each on its own MQTT connection: under steady load (${r.window}; each peak taken from the window's start), and over the whole run, which includes the sustained-ingest steps that overloaded the system.`,
      '',
      '| process | steady peak MiB | whole-run peak MiB |',
      '|---|---|---|',
    );
    for (const [name, mib] of Object.entries(r.wholeRunPeakMiB))
      lines.push(`| ${name} | ${r.steadyPeakMiB[name] ?? '—'} | ${mib ?? 'not measured'} |`);
  } else lines.push(p.rss.status === 'failed' ? `**Failed**: ${fence(p.rss.error)}` : `Skipped: ${p.rss.reason}`);
  lines.push('', '## Query latency', '');
  if (p.query.status === 'ok') {
    const q = p.query.result;
    lines.push(
      `${q.patients} patients with ${q.days} days of heart rate every ${q.intervalSec} s (${q.rows} rows, rollups included), bucketed REST queries for one patient at a time, sequential.`,
      '',
    );
    lines.push('| query | buckets | samples | p50 ms | p99 ms | max ms |', '|---|---|---|---|---|---|');
    lines.push(
      `| 24 h of 1-min buckets | ${q.minute24h.buckets} | ${q.minute24h.samples} | ${q.minute24h.p50Ms} | ${q.minute24h.p99Ms} | ${q.minute24h.maxMs} |`,
    );
    lines.push(
      `| 90 days of 1-h buckets | ${q.hour90d.buckets} | ${q.hour90d.samples} | ${q.hour90d.p50Ms} | ${q.hour90d.p99Ms} | ${q.hour90d.maxMs} |`,
    );
  } else lines.push(p.query.status === 'failed' ? `**Failed**: ${fence(p.query.error)}` : `Skipped: ${p.query.reason}`);
  lines.push('', '## How to run', '');
  lines.push(
    '```',
    'npm run bench                  # the full run (tens of minutes): writes this page and bench/reports/latest.json',
    'npm run bench -- --quick       # seconds: smoke run of every phase (what the test suite runs)',
    'npm run bench -- --help        # every flag: phases, devices, rates, durations, data sizes',
    '```',
  );
  lines.push(
    '',
    'Measurements made apart from `npm run bench` (CPU profiles and their changes, the streaming core on a quiet machine, the start-up rebuild) are in [performance.md](performance.md); this page is regenerated by every run.',
    '',
    "The harness starts its own Mosquitto (the no-loss limits of docker/mosquitto.conf, anonymous access), creates a fresh database on `DATABASE_URL`'s server, seeds devices directly in the tables, and runs the built `apps/ingest` and `apps/api` as processes. A phase whose part of the system is missing or broken fails in this report with its error; it never reports invented numbers.",
    '',
  );
  return lines.join('\n');
}

/** Facts from the run that bear on each miss (measured, not guessed; hypotheses are marked as such). */
function explainMisses(report: BenchReport): string[] {
  const out: string[] = [];
  const p = report.phases;
  const overloaded = p.lantern.status === 'ok' && p.lantern.result.steps.some((s) => !s.passed);
  const failedStep = p.lantern.status === 'ok' ? p.lantern.result.steps.find((s) => !s.passed) : undefined;
  for (const t of report.targets.filter((t) => t.met === false)) {
    if (t.name === 'Sustained ingest vs reference' && p.lantern.status === 'ok' && p.reference.status === 'ok') {
      const cost = (steps: SustainedResult['steps']) => {
        const step = steps.filter((x) => x.passed).at(-1);
        const cpu = step?.cpuMicrosPerReading;
        return step && cpu?.process !== undefined
          ? `${cpu.process} µs in the process + ${cpu.database ?? '—'} µs in PostgreSQL per reading at ${step.targetReadingsPerSec}/s`
          : 'not measured';
      };
      out.push(
        `Sustained ingest: Lantern ${p.lantern.result.sustainedReadingsPerSec} vs reference ${p.reference.result.sustainedReadingsPerSec} readings/s. ` +
          `CPU: Lantern ${cost(p.lantern.result.steps)}, the reference ${cost(p.reference.result.steps)}. ` +
          'Per reading Lantern does what the reference skips: validation against the metric catalog, unit conversion, the streaming core, dead letters, device presence, metrics, and the rollups. ' +
          "Everything shares the machine's cores, so every microsecond either pipeline spends is taken from PostgreSQL, Mosquitto and the simulator; a step also fails when the simulator cannot publish the target rate beside them. " +
          'docs/performance.md has the profiles and what each change bought.',
      );
    }
    if (
      t.name.startsWith('Alert latency') &&
      p.alertLatency.status === 'ok' &&
      !out.some((o) => o.startsWith('Alert latency'))
    ) {
      const r = p.alertLatency.result;
      out.push(
        `Alert latency: the median is ${r.p50Ms} ms and p95 ${r.p95Ms} ms, so the path itself is fast; the tail (p99 ${r.p99Ms} ms, max ${r.maxMs} ms, ${r.timeouts} probes over 5 s) ` +
          `appears under ${r.loadReadingsPerSec} readings/s with ${r.watchers} watching sockets, while PostgreSQL, Mosquitto, both Lantern processes and ${String(report.settings.devices)} simulated connections share ${report.machine.cpus} cores. ` +
          'The stage table (Alert latency, below) says where the slowest probes spent their time. Inside Lantern no stage waits behind telemetry: evaluation and the alert write have their own lane and database connection, and the events their own broker connection (docs/performance.md, "The alert\'s way back"); what is left is the broker\'s queue in front of the ingest and CPU contention on every hop.',
      );
    }
    if (t.name === 'Peak RSS simulator' && p.rss.status === 'ok') {
      const mib = p.rss.result.steadyPeakMiB.simulator ?? 0;
      out.push(
        `Simulator memory: ${mib} MiB for ${p.rss.result.devices} mqtt.js clients is about ${Math.round((mib * 1024) / p.rss.result.devices)} KiB per connection; meeting 400 MB needs a lighter client for load mode (raw MQTT packets over one socket per device instead of a full mqtt.js client each).`,
      );
    }
    if (t.name === 'Peak RSS broker' && p.rss.status === 'ok')
      out.push(
        `Broker memory: Mosquitto is not restarted for the steady window (that would drop the sessions), so its steady peak (${p.rss.result.steadyPeakMiB.broker} MiB) is the size it kept from the run before${overloaded && failedStep ? `, where the overload step at ${failedStep.targetReadingsPerSec} readings/s left ${failedStep.lost} readings queued for the lagging ingest session` : ''}: docker/mosquitto.conf sets no queue caps (nothing is dropped), and Mosquitto keeps memory it grew. A cap (max_queued_bytes) bounds it by dropping messages already acknowledged to devices: docs/ingest.md, "Broker memory", has what each choice costs.`,
      );
    if (t.name === 'Peak RSS ingest' && p.rss.status === 'ok') {
      out.push(
        `Ingest memory: ${p.rss.result.steadyPeakMiB.ingest} MiB under ${p.rss.result.window}, ${p.rss.result.wholeRunPeakMiB.ingest} MiB over the whole run${overloaded && failedStep ? `, whose overload step at ${failedStep.targetReadingsPerSec} readings/s left a backlog of unacknowledged messages (${failedStep.lost} readings still unstored ${String(report.settings.maxDrainSec)} s after it), bounded by INGEST_MAX_PENDING_MESSAGES` : ''}.`,
      );
    }
    if (t.name.startsWith('Query') && p.query.status === 'ok') {
      const q = p.query.result;
      const which = t.name.includes('1-min') ? q.minute24h : q.hour90d;
      out.push(
        `${t.name.replace(' p99', '')}: p50 ${which.p50Ms} ms, p99 ${which.p99Ms} ms, max ${which.maxMs} ms for ${which.buckets} buckets over REST (HTTP, auth, visibility check, JSON included), measured right after seeding ${q.rows} rows with both apps running.`,
      );
    }
  }
  return out;
}

/** How the streaming core's figure was taken: rounds, and the processes they ran in. */
function coreSpread(r: CoreResult): string {
  if (!r.nsPerReadingRange) return '';
  const rounds = `${r.nsPerReadingRange[0].toFixed(0)}–${r.nsPerReadingRange[1].toFixed(0)} ns`;
  if (!r.perProcess || r.perProcess.length < 2)
    return `, the median of ${r.rounds} timed rounds (${rounds})${r.perProcess ? ', in a fresh process before the other phases' : ''}`;
  return `, the median of ${r.perProcess.length} fresh processes run one after another before the other phases, each the median of its ${r.rounds} timed rounds (processes ${r.perProcess.map((ns) => ns.toFixed(0)).join(', ')} ns; rounds ${rounds})`;
}

function fence(text: string): string {
  return `\n\n\`\`\`\n${text.slice(0, 1500)}\n\`\`\``;
}
