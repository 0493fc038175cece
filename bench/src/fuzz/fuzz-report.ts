import type { CategoryOutcome } from './fuzz-verification.js';
import { HOSTILE_CATEGORIES, type HostileCategory } from './hostile-payload.generator.js';

export interface Invariant {
  readonly name: string;
  readonly ok: boolean;
  readonly measured: string;
}

/** What `npm run fuzz` writes as JSON (docs/reliability.md, "Fuzzing"). */
export interface FuzzReport {
  startedAt: string;
  finishedAt: string;
  ok: boolean;
  invariants: Invariant[];
  settings: {
    messages: number;
    seed: number;
    hostileDevices: number;
    validDevices: number;
    rate: number;
    validRate: number;
    window: number;
    broker: string;
    database: string;
  };
  machine: { cpus: number; cpuModel: string; memoryGiB: number; node: string };
  storm: {
    seconds: number;
    hostileMessagesPerSec: number;
    hostilePublished: number;
    hostileAcknowledged: number;
    hostileRefusedByBroker: number;
    brokerRefusals: string[];
    validMessages: number;
    validPublishFailures: number;
    /** Replies the hostile devices got on their errors topics, and how many refused messages were theirs. */
    errorsReplies: number;
    errorsRepliesDue: number;
  };
  hostile: {
    categories: Record<HostileCategory, CategoryOutcome>;
    /** Acknowledged messages per `category: mutation`. */
    variants: Record<string, number>;
    unaccounted: number;
    examples: {
      deviceId?: string;
      seq?: number;
      topic?: string;
      detail: string;
      category?: string;
      variant?: string;
      payloadHead?: string;
    }[];
    strayDeadLetters: number;
  };
  valid: { readingsExpected: number; readingsStored: number; deadLetters: number; problems: string[] };
  ingest: {
    restarts: number;
    exitOutput: string[];
    pendingAtEnd: number;
    messagesReceived: number;
    messagesRouted: number;
    drainSeconds: number;
    peakRssMiB: number;
    internalErrors: number;
    deadLettersLost: number;
    storageRefused: number;
    payloadBytesDroppedByBudget: number;
  };
  deadLetters: {
    rows: number;
    payloads: number;
    payloadMiBKept: number;
    payloadsDropped: number;
    storageRefused: number;
    totalMiB: number;
  };
  /** Fever alerts of the probe patient, publish → alert event; the figures are of those raised during the storm. */
  probe: { samples: number; samplesAfterStorm: number; timeouts: number; p50Ms: number; p95Ms: number; maxMs: number };
  verifySeconds: number;
}

/** The run's pass/fail conditions: any false one makes `npm run fuzz` exit non-zero. */
export function checkInvariants(r: Omit<FuzzReport, 'invariants' | 'ok'>): Invariant[] {
  const hostileOk = r.hostile.unaccounted === 0 && r.hostile.strayDeadLetters === 0;
  return [
    {
      name: 'every valid reading stored, none dead-lettered',
      ok:
        r.valid.readingsStored === r.valid.readingsExpected &&
        r.valid.problems.length === 0 &&
        r.storm.validPublishFailures === 0,
      measured: `${r.valid.readingsStored} / ${r.valid.readingsExpected} stored, ${r.valid.deadLetters} dead letters, ${r.storm.validPublishFailures} publish failures`,
    },
    {
      name: 'every hostile message stored or dead-lettered',
      ok: hostileOk,
      measured: `${r.storm.hostileAcknowledged - r.hostile.unaccounted} / ${r.storm.hostileAcknowledged} accounted for, ${r.hostile.strayDeadLetters} stray dead letters`,
    },
    {
      name: 'pending messages back to 0',
      ok: r.ingest.pendingAtEnd === 0,
      measured: `${r.ingest.pendingAtEnd} pending after ${r.ingest.drainSeconds} s`,
    },
    { name: 'ingest process restarts', ok: r.ingest.restarts === 0, measured: String(r.ingest.restarts) },
    {
      name: 'no internal errors, no dead letter lost',
      ok: r.ingest.internalErrors === 0 && r.ingest.deadLettersLost === 0,
      measured: `${r.ingest.internalErrors} internal errors, ${r.ingest.deadLettersLost} dead letters lost`,
    },
    {
      name: 'every probe alert delivered',
      ok: r.probe.samples + r.probe.samplesAfterStorm > 0 && r.probe.timeouts === 0,
      measured: `${r.probe.samples + r.probe.samplesAfterStorm} alerts, ${r.probe.timeouts} not within 10 s`,
    },
  ];
}

const pad = (s: string | number, n: number) => String(s).padStart(n);

/** The report as a console table: invariants, figures, and outcomes per category. */
export function renderFuzzTable(r: FuzzReport): string {
  const lines: string[] = [];
  lines.push('', `Fuzz run, seed ${r.settings.seed}: ${r.ok ? 'PASSED' : 'FAILED'}`, '');
  for (const i of r.invariants) lines.push(`  ${i.ok ? '✓' : '✗'} ${i.name}: ${i.measured}`);
  lines.push(
    '',
    `  storm                 ${r.storm.seconds} s, ${r.storm.hostileAcknowledged} hostile messages (${r.storm.hostileMessagesPerSec}/s) from ${r.settings.hostileDevices} devices, ${r.storm.validMessages} valid messages from ${r.settings.validDevices}`,
    `  ingest                peak RSS ${r.ingest.peakRssMiB} MiB, drained in ${r.ingest.drainSeconds} s, ${r.ingest.messagesReceived} messages received`,
    `  dead letters          ${r.deadLetters.rows} rows, ${r.deadLetters.totalMiB} MiB on disk, ${r.deadLetters.payloads} payloads kept (${r.deadLetters.payloadMiBKept} MiB), ${r.deadLetters.payloadsDropped} without payload (budget)`,
    `  probe alert latency   p50 ${r.probe.p50Ms} ms, p95 ${r.probe.p95Ms} ms, max ${r.probe.maxMs} ms (${r.probe.samples} alerts during the storm)`,
    `  storage refusals      ${r.deadLetters.storageRefused}   errors-topic replies ${r.storm.errorsReplies} of ${r.storm.errorsRepliesDue} due   broker refusals ${r.storm.hostileRefusedByBroker}`,
    '',
    `  ${'category'.padEnd(20)} ${pad('messages', 9)} ${pad('stored', 8)} ${pad('partly', 8)} ${pad('dead-let.', 9)} ${pad('status', 8)} ${pad('unrouted', 8)} ${pad('unacc.', 7)}`,
  );
  const total: Record<keyof CategoryOutcome, number> = {
    messages: 0,
    stored: 0,
    partlyStored: 0,
    deadLettered: 0,
    statusApplied: 0,
    notRouted: 0,
    unaccounted: 0,
  };
  const row = (name: string, c: CategoryOutcome) =>
    `  ${name.padEnd(20)} ${pad(c.messages, 9)} ${pad(c.stored, 8)} ${pad(c.partlyStored, 8)} ${pad(c.deadLettered, 9)} ${pad(c.statusApplied, 8)} ${pad(c.notRouted, 8)} ${pad(c.unaccounted, 7)}`;
  for (const category of HOSTILE_CATEGORIES) {
    const c = r.hostile.categories[category];
    for (const k of Object.keys(total) as (keyof CategoryOutcome)[]) total[k] += c[k];
    lines.push(row(category, c));
  }
  lines.push(row('total', total));
  if (r.hostile.examples.length > 0) {
    lines.push('', '  unaccounted hostile messages:');
    for (const e of r.hostile.examples)
      lines.push(
        `    ${e.topic ?? `${e.deviceId} seq ${e.seq}`}${e.category ? ` [${e.category}: ${e.variant}]` : ''}: ${e.detail}${e.payloadHead ? `\n      payload ${e.payloadHead}` : ''}`,
      );
  }
  if (r.valid.problems.length > 0) {
    lines.push('', '  valid devices:');
    for (const p of r.valid.problems) lines.push(`    ${p}`);
  }
  if (r.ingest.exitOutput.length > 0) lines.push('', '  ingest exits:', ...r.ingest.exitOutput.map((o) => `    ${o}`));
  return lines.join('\n');
}
