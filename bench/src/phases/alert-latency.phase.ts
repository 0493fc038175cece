import {
  LIVE_NAMESPACE,
  METRICS,
  type AlertResource,
  type LiveClientToServerEvents,
  type LiveServerToClientEvents,
  type SubscribeAck,
} from '@lantern/domain';
import mqtt from 'mqtt';
import { io, type Socket } from 'socket.io-client';
import { decodePatientEvent, topicsFor } from '@lantern/messaging/contract';
import { metricValue } from '../infra/ingest-metrics.js';
import { percentile, sleep } from '../infra/processes.js';

type LiveSocket = Socket<LiveServerToClientEvents, LiveClientToServerEvents>;

/**
 * A probe sends two body temperatures within milliseconds (the fever, then the reading that
 * resolves it), but the ingest admits one per device per 900 ms (metric catalog). So each probe
 * device stamps its readings from its own event clock: it starts 10 min back (an alert is `late`
 * only past 15 min), steps 1 s per reading, and the probe waits before a sample rather than let it
 * run more than 4 min ahead of the wall clock (the ingest refuses > 5 min).
 */
const PROBE_STEP_MS = Math.max(1000, METRICS.body_temperature.minIntervalMs);
const PROBE_BACKDATE_MS = 10 * 60_000;
const PROBE_MAX_LEAD_MS = 4 * 60_000;
/**
 * The load generator's CPU priority (nice) while the probes run. Its 10,000 device connections
 * stand in for devices that are elsewhere, yet on the bench machine its process takes a third of a
 * core beside what it measures; at a lower priority it still publishes its rate (checked: the
 * phase fails when it achieved less than LOAD_ACHIEVED_MIN of it, load-process.ts) but no longer delays Lantern,
 * the broker and PostgreSQL in the moments the cores are short (docs/performance.md).
 */
export const LOAD_GENERATOR_NICE = 10;
/**
 * Probes sent before the measured ones and not counted: the first alerts of freshly started
 * processes (statements prepared, code compiled, the watchers' subscriptions settling). In most
 * runs of 2026-12-07 the slowest probes were among the first ten; the report gives their maximum.
 */
export const WARM_UP_PROBES = 10;
/** A probe slower than this is logged with its time of day. */
const SLOW_PROBE_MS = 100;
/** The load runs at least this long before the first probe (a fresh ingest and 10,000 devices connecting). */
const WARM_UP_MS = 10_000;
/** The ingest's canary (every 5 s) must have come back through the broker within this, on every check. */
const CAUGHT_UP_ROUND_TRIP_SEC = 1;
const CAUGHT_UP_CANARY_AGE_SEC = 6;
/** Ten checks a second apart: at least two canaries. */
const CAUGHT_UP_CHECKS = 10;
const CAUGHT_UP_WITHIN_MS = 180_000;

export interface AlertLatencyResult {
  samples: number;
  timeouts: number;
  p50Ms: number;
  p95Ms: number;
  p99Ms: number;
  maxMs: number;
  watchers: number;
  loadReadingsPerSec: number;
  /** What the load generator's devices had acknowledged per second while the probes ran (set by the caller). */
  loadAchievedReadingsPerSec?: number;
  /** The load generator's nice value during the probes (set by the caller; see LOAD_GENERATOR_NICE). */
  loadGeneratorNice?: number;
  /** Seconds from setting the load until the ingest kept up with it and the probes began ({@link untilCaughtUp}). */
  caughtUpAfterSec?: number;
  /** Where the time went, from the alert's own provenance (absent from results stored before it). */
  stages?: AlertLatencyStage[];
  /** The {@link WARM_UP_PROBES} before the measured ones: how many, and the slowest answered (ms); a timeout counts in `timeouts`. */
  warmUp?: { probes: number; maxMs: number };
}

/**
 * One stage of the path, from the opened alert's provenance (contract §4.4) and a subscriber of the
 * alert's broker topic beside the sockets: wall-clock times in ms (one machine, one clock).
 * `inbound`: publish → the ingest has the message (the device's broker hop and the ingest's event
 * loop); `evaluation`: → the core raised the alert; `store`: → the alert event came out of the
 * broker (the alert write and its commit, the ingest's publish, the broker); `relay`: → the socket
 * has it (the api).
 */
export interface AlertLatencyStage {
  name: 'inbound' | 'evaluation' | 'store' | 'relay';
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  /** The stage's share of the slowest 1 % of probes' total (at least one probe). */
  shareOfSlowest: number;
}

/** Wall-clock times of one probe: publish, the alert's receivedAt and raisedAt, its broker event, the socket's event. */
interface ProbeTimes {
  published: number;
  received: number;
  raised: number;
  relayed: number;
  delivered: number;
}

/** The stage table of {@link AlertLatencyResult.stages}; empty when no alert carried its provenance. */
export function alertStages(probes: readonly ProbeTimes[]): AlertLatencyStage[] {
  if (probes.length === 0) return [];
  const spans: Record<AlertLatencyStage['name'], (p: ProbeTimes) => number> = {
    inbound: (p) => p.received - p.published,
    evaluation: (p) => p.raised - p.received,
    store: (p) => p.relayed - p.raised,
    relay: (p) => p.delivered - p.relayed,
  };
  const total = (p: ProbeTimes) => p.delivered - p.published;
  const slowest = [...probes].sort((a, b) => total(b) - total(a)).slice(0, Math.max(1, Math.ceil(probes.length / 100)));
  const slowestTotal = slowest.reduce((sum, p) => sum + total(p), 0);
  return (Object.keys(spans) as AlertLatencyStage['name'][]).map((name) => {
    const values = probes.map(spans[name]);
    return {
      name,
      p50Ms: round(percentile(values, 50)),
      p99Ms: round(percentile(values, 99)),
      maxMs: round(Math.max(...values)),
      shareOfSlowest: slowestTotal > 0 ? slowest.reduce((sum, p) => sum + spans[name](p), 0) / slowestTotal : 0,
    };
  });
}

export interface AlertLatencyOptions {
  apiUrl: string;
  token: string;
  /** Where the probe devices connect; `mqttCa` is the certificate they trust for an mqtts:// URL. */
  mqttUrl: string;
  mqttCa?: Buffer;
  topicRoot: string;
  probes: { deviceId: string; patientId: string }[];
  watchedPatients: string[];
  samples: number;
  loadReadingsPerSec: number;
  log: (line: string) => void;
}

/** Login helper: POST /api/v1/auth/login → access token. */
export async function login(apiUrl: string, email: string, password: string): Promise<string> {
  const response = await fetch(`${apiUrl}/api/v1/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email, password }),
  });
  if (!response.ok)
    throw new Error(`login as ${email} answered ${response.status}: ${(await response.text()).slice(0, 200)}`);
  return ((await response.json()) as { accessToken: string }).accessToken;
}

async function connectSocket(apiUrl: string, token: string): Promise<LiveSocket> {
  const socket: LiveSocket = io(`${apiUrl}${LIVE_NAMESPACE}`, {
    auth: { token },
    transports: ['websocket'],
    reconnection: false,
    forceNew: true,
  });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', () => resolve());
    socket.once('connect_error', (e) => reject(new Error(`socket: ${e.message}`)));
  });
  return socket;
}

async function subscribe(socket: LiveSocket, patientId: string): Promise<void> {
  // socket.io-client types the answer as `any` once timeout() adds the error argument to the ack.
  const answer = (await socket.timeout(10_000).emitWithAck('subscribe', { patientId })) as SubscribeAck;
  if (!answer.ok) throw new Error(`subscribe ${patientId}: ${answer.error}`);
}

/**
 * Publish of a threshold-crossing reading (body temperature 39.4 °C: body_temperature.fever, no
 * delay) → the `alert` event (state open) on a subscribed socket, measured from just before the
 * publish; then a normal reading resolves it before the probe patient is used again. Meanwhile
 * `watchedPatients.length` other sockets each watch one patient of the load (live readings flow).
 */
export async function measureAlertLatency(options: AlertLatencyOptions): Promise<AlertLatencyResult> {
  const watchers: LiveSocket[] = [];
  const probeSocket = await connectSocket(options.apiUrl, options.token);
  const clients: mqtt.MqttClient[] = [];
  try {
    for (const patientId of options.watchedPatients) {
      const socket = await connectSocket(options.apiUrl, options.token);
      await subscribe(socket, patientId);
      watchers.push(socket);
    }
    for (const probe of options.probes) await subscribe(probeSocket, probe.patientId);
    /** The event that answered a probe: when (monotonic, and wall clock for the stage table) and the alert itself. */
    type Answer = { at: number; deliveredAt: number; alert: AlertResource };
    const waiting = new Map<string, { state: AlertResource['state']; resolve: (answer: Answer) => void }>();
    probeSocket.on('alert', (alert) => {
      const w = waiting.get(alert.patientId);
      if (w && alert.rule === 'body_temperature.fever' && alert.state === w.state) {
        waiting.delete(alert.patientId);
        w.resolve({ at: performance.now(), deliveredAt: Date.now(), alert });
      }
    });
    // A subscriber of the probe patients' alert topic, beside the api: when the event came out of the broker.
    const relayedAt = new Map<string, number>();
    const tap = await mqtt.connectAsync(options.mqttUrl, {
      clean: true,
      ...(options.mqttCa && { ca: options.mqttCa }),
    });
    clients.push(tap);
    tap.on('message', (topic, payload) => {
      const event = decodePatientEvent(options.topicRoot, topic, payload);
      if (event?.kind !== 'alerts') return;
      const alert = event.payload;
      if (alert.rule === 'body_temperature.fever' && alert.state === 'open' && !relayedAt.has(alert.patientId))
        relayedAt.set(alert.patientId, Date.now());
    });
    const topics = topicsFor(options.topicRoot);
    await tap.subscribeAsync(
      options.probes.map((p) => topics.patientAlerts(p.patientId)),
      { qos: 0 },
    );
    for (const probe of options.probes) {
      const client = await mqtt.connectAsync(options.mqttUrl, {
        clientId: probe.deviceId, // a device's client id is its id (the broker refuses any other)
        username: probe.deviceId,
        password: 'bench',
        clean: true,
        ...(options.mqttCa && { ca: options.mqttCa }),
      });
      clients.push(client);
    }
    // A wait's timeout removes only its own waiter: an earlier probe's timer must not drop a later
    // probe's (that made probes answered in time count as timeouts).
    const wait = (patientId: string, state: AlertResource['state'], ms: number) =>
      new Promise<Answer | undefined>((resolve) => {
        let timer: NodeJS.Timeout | undefined = undefined;
        const entry = {
          state,
          resolve: (answer: Answer) => {
            clearTimeout(timer);
            resolve(answer);
          },
        };
        timer = setTimeout(() => {
          if (waiting.get(patientId) === entry) waiting.delete(patientId);
          resolve(undefined);
        }, ms);
        waiting.set(patientId, entry);
      });
    const clocks = options.probes.map(() => Date.now() - PROBE_BACKDATE_MS);
    const stamp = (k: number): string => {
      const ts = Math.max(clocks[k], Date.now() - PROBE_BACKDATE_MS);
      clocks[k] = ts + PROBE_STEP_MS;
      return new Date(ts).toISOString();
    };
    const latencies: number[] = [];
    const stageTimes: ProbeTimes[] = [];
    let timeouts = 0;
    const warmUp: number[] = [];
    for (let i = -WARM_UP_PROBES; i < options.samples; i++) {
      const warming = i < 0;
      const k = (i + WARM_UP_PROBES) % options.probes.length;
      const probe = options.probes[k];
      const topic = topics.telemetry(probe.deviceId);
      const ahead = clocks[k] + PROBE_STEP_MS - (Date.now() + PROBE_MAX_LEAD_MS);
      if (ahead > 0) await sleep(ahead);
      relayedAt.delete(probe.patientId);
      const opened = wait(probe.patientId, 'open', 5000);
      const publishedAt = Date.now();
      const t0 = performance.now();
      await clients[k].publishAsync(
        topic,
        JSON.stringify({ ts: stamp(k), readings: [{ metric: 'body_temperature', value: 39.4 }] }),
        { qos: 1 },
      );
      const answer = await opened;
      // An alert that never came is a failure whenever it happens, warm-up or not.
      if (!answer) timeouts++;
      else (warming ? warmUp : latencies).push(answer.at - t0);
      const { receivedAt, raisedAt } = answer?.alert ?? {};
      const relayed = relayedAt.get(probe.patientId);
      const times =
        answer && receivedAt && raisedAt && relayed !== undefined
          ? {
              published: publishedAt,
              received: Date.parse(receivedAt),
              raised: Date.parse(raisedAt),
              relayed,
              delivered: answer.deliveredAt,
            }
          : undefined;
      if (times && !warming) stageTimes.push(times);
      // The tail is what the targets are about: when it happened and in which stage, to lay beside other measurements.
      if (!answer || answer.at - t0 > SLOW_PROBE_MS)
        options.log(
          `    ${warming ? `warm-up probe ${i + WARM_UP_PROBES + 1}` : `probe ${i}`}: ${answer ? `${Math.round(answer.at - t0)} ms` : 'timed out'} (${new Date().toISOString()})` +
            (times
              ? ` inbound ${times.received - times.published}, evaluation ${times.raised - times.received}, store ${times.relayed - times.raised}, relay ${times.delivered - times.relayed} ms`
              : ''),
        );
      const resolved = wait(probe.patientId, 'resolved', 5000);
      await sleep(5);
      await clients[k].publishAsync(
        topic,
        JSON.stringify({ ts: stamp(k), readings: [{ metric: 'body_temperature', value: 36.8 }] }),
        { qos: 1 },
      );
      await resolved;
      // Spread the probes so they sample the load rather than each other.
      await sleep(50);
    }
    if (latencies.length === 0)
      throw new Error(`no alert event arrived within 5 s for any of ${options.samples} probes`);
    options.log(`    ${latencies.length} probes, ${timeouts} timeouts`);
    return {
      samples: latencies.length,
      timeouts,
      p50Ms: round(percentile(latencies, 50)),
      p95Ms: round(percentile(latencies, 95)),
      p99Ms: round(percentile(latencies, 99)),
      maxMs: round(Math.max(...latencies)),
      watchers: watchers.length,
      loadReadingsPerSec: options.loadReadingsPerSec,
      stages: alertStages(stageTimes),
      warmUp: { probes: WARM_UP_PROBES, maxMs: round(Math.max(0, ...warmUp)) },
    };
  } finally {
    probeSocket.disconnect();
    for (const s of watchers) s.disconnect();
    await Promise.all(clients.map((c) => c.endAsync().catch(() => undefined)));
  }
}

/**
 * Waits, with the load on, until the ingest keeps up: a freshly started ingest under 10,000 devices
 * that connect at once can fall seconds behind the broker while its own figures (ack lag, pending
 * messages) look fine — they start at the socket. Only the canary, which the ingest sends itself
 * through the broker every 5 s, sees that queue: on ten checks a second apart the last one must have
 * come back within 1 s of being sent, and within the last 6 s. Returns how long that took, or throws
 * after 3 min.
 */
export async function untilCaughtUp(metricsText: () => Promise<string>): Promise<number> {
  const started = Date.now();
  await sleep(WARM_UP_MS);
  let healthy = 0;
  while (healthy < CAUGHT_UP_CHECKS) {
    if (Date.now() - started > CAUGHT_UP_WITHIN_MS)
      throw new Error(`the ingest did not catch up with the load within ${CAUGHT_UP_WITHIN_MS / 1000} s`);
    const text = await metricsText();
    // Before any canary came back the round trip reads +Inf (metricValue: 0), but the age is then past 6 s.
    const keepsUp =
      metricValue(text, 'lantern_ingest_canary_round_trip_seconds') <= CAUGHT_UP_ROUND_TRIP_SEC &&
      metricValue(text, 'lantern_ingest_canary_age_seconds') <= CAUGHT_UP_CANARY_AGE_SEC;
    healthy = keepsUp ? healthy + 1 : 0;
    await sleep(1000);
  }
  return (Date.now() - started) / 1000;
}

const round = (v: number) => Math.round(v * 10) / 10;
