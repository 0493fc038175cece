/**
 * Broker memory after an overload, and what bounding it costs (docs/performance.md, "Broker memory").
 *
 * Mosquitto queues every QoS 1 message for the ingest's persistent session while the ingest is
 * stopped or behind. docker/mosquitto.conf sets no queue limit, so nothing the broker acknowledged
 * to a device is dropped, and the broker's memory grows with the backlog. This harness measures,
 * for each configuration below, a backlog built while the ingest's session is offline: how much
 * the devices got acknowledged, how much of that the ingest then received (the rest was dropped
 * after the broker had acknowledged it: lost), how much was refused to the devices (not
 * acknowledged: still the device's to resend), and the broker's resident memory at the peak and
 * after the ingest drained the queue.
 *
 *   npx nest build bench && node dist/bench/bench/src/broker-memory.js [--messages 1000000]
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import mqtt from 'mqtt';
import { runMain } from './infra/harness.js';
import { parseHarnessArgs } from './infra/harness-args.js';
import { noLossSettings, startMosquitto } from './infra/mosquitto.js';
import { freePort, peakRss, sleep } from './infra/processes.js';

const HELP = `node dist/bench/bench/src/broker-memory.js [flags]     (after nest build bench)
  --messages N      messages the devices try to publish while the ingest is offline (1000000)
  --devices N       publishing connections (100)
  --window N        unacknowledged publishes per device connection (50)
  --only TEXT       only the configurations whose name contains TEXT`;

const FLAGS = {
  messages: { type: 'number', default: 1_000_000 },
  devices: { type: 'number', default: 100 },
  window: { type: 'number', default: 50 },
  only: { type: 'string', default: '' },
} as const;

const root = join(dirname(fileURLToPath(import.meta.url)), '../../../..');
const MiB = 1024 * 1024;
const FILTER = 'bench/devices/+/telemetry';

/** The configurations compared: the shipped one and two ways of bounding the broker. */
const VARIANTS: readonly { name: string; lines: readonly string[] }[] = [
  { name: 'no limit (docker/mosquitto.conf)', lines: [] },
  { name: 'max_queued_bytes 64 MiB', lines: [`max_queued_bytes ${64 * MiB}`] },
  { name: 'max_queued_bytes 256 MiB', lines: [`max_queued_bytes ${256 * MiB}`] },
  { name: 'memory_limit 256 MiB', lines: [`memory_limit ${256 * MiB}`] },
];

interface Outcome {
  variant: string;
  attempted: number;
  /** PUBACKed to the devices. */
  acknowledged: number;
  /** Not acknowledged (the connection was refused or closed first): the device still holds them. */
  refused: number;
  /** Acknowledged messages the ingest received once back. */
  delivered: number;
  lost: number;
  rssPeakMiB: number;
  rssAfterDrainMiB: number;
  drainSec: number;
}

function rssMiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Math.round(Number(m[1]) / 1024) : NaN;
}

/** A telemetry message of the simulator's shape (two readings, about 150 bytes), numbered. */
function payload(seq: number): string {
  const ts = new Date().toISOString();
  return JSON.stringify({
    seq,
    ts,
    readings: [
      { metric: 'heart_rate', value: 72 },
      { metric: 'spo2', value: 97 },
    ],
  });
}

/** The ingest's session: one that never expires and takes up to 65,535 messages in flight, like the ingest's. */
const INGEST_SESSION: mqtt.IClientOptions = {
  clientId: 'bench-broker-memory-ingest',
  protocolVersion: 5,
  clean: false,
  properties: { sessionExpiryInterval: 0xffffffff, receiveMaximum: 65535 },
  reconnectPeriod: 0,
};

/** Each device publishes its share at QoS 1 with `window` in flight; a refused or closed connection ends its share. */
async function publishBacklog(
  url: string,
  options: { messages: number; devices: number; window: number },
): Promise<{ acknowledged: Set<number>; refused: number }> {
  const acknowledged = new Set<number>();
  let next = 0;
  await Promise.all(
    Array.from({ length: options.devices }, async (_, d) => {
      let client: mqtt.MqttClient;
      try {
        client = await mqtt.connectAsync(url, { clientId: `bench-device-${d}`, clean: true, reconnectPeriod: 0 });
      } catch {
        return;
      }
      let closed = false;
      client.on('close', () => (closed = true));
      client.on('error', () => (closed = true));
      const topic = `bench/devices/device-${d}/telemetry`;
      for (;;) {
        const batch: number[] = [];
        while (batch.length < options.window && next < options.messages) batch.push(next++);
        if (batch.length === 0) break;
        if (closed) continue;
        // A broker out of memory may neither acknowledge nor close: a window unanswered for 10 s
        // ends the device's share (what it had not got acknowledged is still its own).
        let timer: NodeJS.Timeout | undefined;
        const stalled = new Promise<'stalled'>((resolve) => (timer = setTimeout(() => resolve('stalled'), 10_000)));
        const answered = Promise.all(
          batch.map((seq) =>
            client.publishAsync(topic, payload(seq), { qos: 1 }).then(
              () => void acknowledged.add(seq),
              () => undefined,
            ),
          ),
        );
        if ((await Promise.race([answered, stalled])) === 'stalled') closed = true;
        clearTimeout(timer);
      }
      client.end(true);
    }),
  );
  // Whatever was not acknowledged was refused: it is still the device's to send again.
  return { acknowledged, refused: options.messages - acknowledged.size };
}

async function measure(
  variant: (typeof VARIANTS)[number],
  options: { messages: number; devices: number; window: number },
): Promise<Outcome> {
  const work = mkdtempSync(join(tmpdir(), 'lantern-broker-memory-'));
  const port = await freePort();
  const overridden = new Set(variant.lines.map((line) => line.split(' ')[0]));
  const broker = await startMosquitto(join(work, 'mosquitto.conf'), {
    port,
    extra: [
      ...noLossSettings(join(root, 'docker/mosquitto.conf')).filter((line) => !overridden.has(line.split(' ')[0])),
      ...variant.lines,
    ],
  });
  const url = `mqtt://127.0.0.1:${port}`;
  try {
    const ingest = await mqtt.connectAsync(url, INGEST_SESSION);
    await ingest.subscribeAsync(FILTER, { qos: 1 });
    await ingest.endAsync();
    const { acknowledged, refused } = await publishBacklog(url, options);
    const rssPeakMiB = Math.round((peakRss(broker.pid) ?? NaN) / MiB);
    // The ingest comes back and takes the queue.
    const delivered = new Set<number>();
    const started = Date.now();
    let last = Date.now();
    // Connected without waiting, so that the handler is in place before the first queued message.
    const back = mqtt.connect(url, INGEST_SESSION);
    back.on('message', (_topic, body) => {
      delivered.add((JSON.parse(body.toString()) as { seq: number }).seq);
      last = Date.now();
    });
    while (Date.now() - last < 3000) await sleep(250);
    const drainSec = Math.round((last - started) / 100) / 10;
    await back.endAsync();
    const lost = [...acknowledged].filter((seq) => !delivered.has(seq)).length;
    return {
      variant: variant.name,
      attempted: options.messages,
      acknowledged: acknowledged.size,
      refused,
      delivered: delivered.size,
      lost,
      rssPeakMiB,
      rssAfterDrainMiB: rssMiB(broker.pid),
      drainSec,
    };
  } finally {
    await broker.stop();
    rmSync(work, { recursive: true, force: true });
  }
}

async function main(): Promise<number> {
  const flags = parseHarnessArgs(process.argv.slice(2), FLAGS, HELP);
  if (!flags) return 0;
  const outcomes: Outcome[] = [];
  for (const variant of VARIANTS.filter((v) => v.name.includes(flags.only))) {
    console.log(`▶ ${variant.name}`);
    const outcome = await measure(variant, flags);
    console.log(`  ${JSON.stringify(outcome)}`);
    outcomes.push(outcome);
  }
  console.log(
    '\n| broker configuration | attempted | acknowledged to devices | refused (device keeps it) | delivered to the ingest | lost after acknowledgement | RSS peak MiB | RSS after drain MiB | drain s |',
  );
  console.log('|---|---|---|---|---|---|---|---|---|');
  for (const o of outcomes)
    console.log(
      `| ${o.variant} | ${o.attempted} | ${o.acknowledged} | ${o.refused} | ${o.delivered} | ${o.lost} | ${o.rssPeakMiB} | ${o.rssAfterDrainMiB} | ${o.drainSec} |`,
    );
  return 0;
}

runMain('broker-memory', main);
