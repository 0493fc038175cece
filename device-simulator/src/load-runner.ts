import { METRICS } from '@lantern/domain';
import { MAX_FUTURE_SKEW_MS, topicsFor } from '@lantern/messaging/contract';
import type { DeviceCredentials } from './device-client.js';
import { LoadConnections } from './load-connections.js';
import { Prng } from './prng.js';

export interface LoadOptions {
  mqttUrl: string;
  /** Trusted CA certificate(s) for an mqtts:// URL. */
  ca?: Buffer;
  topicRoot?: string;
  devices: readonly DeviceCredentials[];
  /** Readings per second over all devices. */
  ratePerSec: number;
  readingsPerMessage?: number;
  /** Stop after this long (seconds, from the moment every device is connected); 0: until aborted. */
  durationSec?: number;
  /** Concurrent connection attempts while ramping up. */
  connectConcurrency?: number;
  /**
   * MQTT connections to share the devices over (device i publishes on connection i mod this; each
   * connects with the credentials of its first device). Default: one per device, as real devices do.
   * Fewer lets more devices run than the process may open sockets, on a broker that does not confine
   * a connection to its own device's topics (the bench's; Lantern's broker hooks refuse it).
   */
  connections?: number;
  /** Publishes awaiting their PUBACK before the generator holds back (protects the simulator's memory). */
  maxInFlight?: number;
  onProgress?: (progress: LoadProgress) => void;
  progressEveryMs?: number;
  signal?: AbortSignal;
  seed?: number;
  /**
   * How far behind the wall clock each device's event clock starts, and the most it ever lags
   * (default LOAD_BACKDATE_MS). Must stay within the ingest's INGEST_MAX_BACKFILL (default 30 days).
   */
  backdateMs?: number;
}

/** Default back-dating of the devices' event clocks: the head room that lets a device send faster than 1 Hz. */
export const LOAD_BACKDATE_MS = 3 * 3_600_000;
/**
 * Event-time step between two readings of one metric of a device: a real oximeter's 1 Hz, which
 * the ingest's admission accepts (heart_rate and spo2 need ≥ 900 ms, metric catalog).
 */
export const LOAD_READING_STEP_MS = Math.max(1000, METRICS.heart_rate.minIntervalMs, METRICS.spo2.minIntervalMs);
/** A device's clock never runs further ahead of the wall clock than this (the ingest refuses > 5 min; 1 min of margin for skew). */
const MAX_LEAD_MS = MAX_FUTURE_SKEW_MS - 60_000;

export interface LoadProgress {
  phase: 'connecting' | 'running' | 'draining' | 'done';
  elapsedSec: number;
  devices: number;
  /** MQTT connections the devices share: one each unless `LoadOptions.connections` says fewer. */
  connections: number;
  /** Connections with an accepted session right now. */
  connected: number;
  /** Connections whose first attempt failed. */
  connectFailures: number;
  /** Messages and readings acknowledged by the broker (QoS 1). */
  acked: number;
  ackedReadings: number;
  sent: number;
  inFlight: number;
  errors: number;
  /** Messages the generator owed but held back because too many were in flight. */
  heldBack: number;
  /**
   * Messages the generator owed but dropped because every ready device's event clock had caught up
   * with the wall clock + 4 min: the rate per device exceeded 1 Hz for longer than the back-dating covers.
   */
  clockLimited: number;
  /** Over the last progress interval. */
  msgsPerSec: number;
  readingsPerSec: number;
  targetReadingsPerSec: number;
}

/**
 * Load mode: each device on its own MQTT connection (username = id, password = secret; or the
 * devices shared over `connections`), all
 * together publishing `ratePerSec` readings/s at QoS 1 with `readingsPerMessage` readings per
 * message, spread evenly over the devices in round-robin. Values are normal (no alert fires).
 * The rate can be changed while running (`setRate`), which is how the bench steps it up.
 *
 * Readings must pass the ingest's admission (one heart_rate and one spo2 per device at most every
 * 900 ms), yet the bench asks several readings per second of each device. So each device has its own
 * event clock: it starts `backdateMs` in the past (a store-and-forward upload, as far as the ingest
 * can tell) and advances by `LOAD_READING_STEP_MS` per reading pair, never lagging more than
 * `backdateMs` behind the wall clock nor running more than 4 min ahead of it. At R readings/s per
 * device (R/2 pairs) the clock gains R/2 − 1 s per second: 3 h of back-dating lasts 3 h at 4
 * readings/s, 45 min at 10. A device whose clock has caught up is skipped (`clockLimited` counts
 * what no device could take).
 * Connections are `LoadConnections` (a socket each, no mqtt.js client), so 10 000 devices
 * fit in one process.
 */
export class LoadRunner {
  private rate: number;
  private readonly connections: LoadConnections;
  /** Per device: its telemetry topic. */
  private readonly topics: string[];
  /** Device i publishes on connection i mod this. */
  private readonly connectionCount: number;
  /** Per device: the event time its next reading pair may take at the earliest. */
  private readonly clock: number[];
  private readonly backdateMs: number;
  private readonly seq: number[];
  private readonly progress: LoadProgress;
  private readonly prng: Prng;
  private readonly perMessage: number;

  constructor(private readonly options: LoadOptions) {
    this.rate = options.ratePerSec;
    this.perMessage = options.readingsPerMessage ?? 2;
    this.backdateMs = options.backdateMs ?? LOAD_BACKDATE_MS;
    this.prng = new Prng(options.seed ?? 1);
    const t = topicsFor(options.topicRoot ?? 'lantern/v1');
    this.topics = options.devices.map((d) => t.telemetry(d.deviceId));
    this.clock = new Array<number>(this.topics.length).fill(-Infinity);
    this.seq = new Array<number>(this.topics.length).fill(0);
    this.connectionCount = Math.min(options.connections ?? options.devices.length, options.devices.length);
    if (options.devices.length > 0 && !(Number.isInteger(this.connectionCount) && this.connectionCount >= 1))
      throw new Error(`connections must be a whole number of at least 1 (got ${options.connections})`);
    this.connections = new LoadConnections({
      mqttUrl: options.mqttUrl,
      ca: options.ca,
      devices: options.devices.slice(0, this.connectionCount),
      keepaliveSec: 60,
      reconnectPeriodMs: 2000,
      connectTimeoutMs: 30_000,
      onSettled: (acked) => {
        this.progress.inFlight--;
        if (acked) {
          this.progress.acked++;
          this.progress.ackedReadings += this.perMessage;
        } else this.progress.errors++;
      },
      onError: () => this.progress.errors++,
    });
    this.progress = {
      phase: 'connecting',
      elapsedSec: 0,
      devices: options.devices.length,
      connections: this.connectionCount,
      connected: 0,
      connectFailures: 0,
      acked: 0,
      ackedReadings: 0,
      sent: 0,
      inFlight: 0,
      errors: 0,
      heldBack: 0,
      clockLimited: 0,
      msgsPerSec: 0,
      readingsPerSec: 0,
      targetReadingsPerSec: this.rate,
    };
  }

  setRate(ratePerSec: number): void {
    this.rate = ratePerSec;
    this.progress.targetReadingsPerSec = ratePerSec;
  }

  snapshot(): LoadProgress {
    return { ...this.progress };
  }

  /** Connects every device, publishes until the duration ends or the signal aborts, waits for outstanding acks, disconnects. */
  async run(): Promise<LoadProgress> {
    const started = Date.now();
    const every = this.options.progressEveryMs ?? 1000;
    let lastAcked = 0;
    let lastAckedReadings = 0;
    let lastReport = started;
    const report = () => {
      const now = Date.now();
      const dt = Math.max(1, now - lastReport) / 1000;
      this.progress.elapsedSec = (now - started) / 1000;
      this.progress.connected = this.connections.connectedCount();
      this.progress.msgsPerSec = (this.progress.acked - lastAcked) / dt;
      this.progress.readingsPerSec = (this.progress.ackedReadings - lastAckedReadings) / dt;
      lastAcked = this.progress.acked;
      lastAckedReadings = this.progress.ackedReadings;
      lastReport = now;
      this.options.onProgress?.(this.snapshot());
    };
    const reporter = setInterval(report, every);
    try {
      await this.connectAll();
      if (!this.options.signal?.aborted) {
        this.progress.phase = 'running';
        await this.publishLoop();
      }
      this.progress.phase = 'draining';
      const deadline = Date.now() + 30_000;
      while (this.progress.inFlight > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    } finally {
      clearInterval(reporter);
      await this.connections.close();
      this.progress.phase = 'done';
      report();
    }
    return this.snapshot();
  }

  private async connectAll(): Promise<void> {
    const concurrency = this.options.connectConcurrency ?? 200;
    let next = 0;
    const worker = async () => {
      while (next < this.connectionCount && !this.options.signal?.aborted) {
        if (!(await this.connections.connect(next++))) this.progress.connectFailures++;
      }
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, this.connectionCount) }, worker));
  }

  private async publishLoop(): Promise<void> {
    const perMessage = this.perMessage;
    const pairs = Math.ceil(perMessage / 2);
    const maxInFlight = this.options.maxInFlight ?? 50_000;
    const durationMs = (this.options.durationSec ?? 0) * 1000;
    const start = Date.now();
    let owed = 0;
    let last = start;
    let cursor = 0;
    const n = this.topics.length;
    if (n === 0) return;
    while (!this.options.signal?.aborted && (durationMs === 0 || Date.now() - start < durationMs)) {
      const now = Date.now();
      owed += ((now - last) / 1000) * (this.rate / perMessage);
      last = now;
      while (owed >= 1) {
        owed--;
        if (this.progress.inFlight >= maxInFlight) {
          this.progress.heldBack++;
          continue;
        }
        // Round-robin over devices, skipping any that is down, whose socket is backed up, or whose
        // event clock has caught up with the wall clock.
        let published = false;
        let clockBound = false;
        for (let tries = 0; tries < n && !published; tries++) {
          const i = cursor;
          cursor = (cursor + 1) % n;
          if (!this.connections.isReady(i % this.connectionCount)) continue;
          if (this.nextTs(i, now) + (pairs - 1) * LOAD_READING_STEP_MS > now + MAX_LEAD_MS) {
            clockBound = true;
            continue;
          }
          this.publishOne(i, perMessage, now);
          published = true;
        }
        // No device can take a message now: what is owed this round is dropped, as before, but
        // without scanning every device again for each message.
        if (!published) {
          if (clockBound) this.progress.clockLimited += Math.floor(owed) + 1;
          owed %= 1;
        }
      }
      await new Promise((r) => setTimeout(r, 5));
    }
  }

  /**
   * The event time of device i's next reading pair: its clock, but never more than `backdateMs`
   * behind now. On whole steps since the epoch, so that a restarted simulator's readings fall on the
   * previous run's grid: duplicates or a full step apart, never refused as too frequent.
   */
  private nextTs(i: number, now: number): number {
    const floor = Math.ceil((now - this.backdateMs) / LOAD_READING_STEP_MS) * LOAD_READING_STEP_MS;
    return Math.max(this.clock[i], floor);
  }

  private publishOne(i: number, perMessage: number, now: number): void {
    // Reading pair j (a heart_rate and an spo2) is stamped ts + j steps: per device and metric the
    // times strictly increase by the step, so (device, metric, time) never repeats and admission
    // takes every reading.
    const ts = this.nextTs(i, now);
    const readings: string[] = [];
    for (let k = 0; k < perMessage; k++) {
      const metric = k % 2 === 0 ? 'heart_rate' : 'spo2';
      const value = metric === 'heart_rate' ? 60 + this.prng.int(0, 35) : 95 + this.prng.int(0, 4);
      readings.push(`{"metric":"${metric}","value":${value},"ts":${ts + Math.floor(k / 2) * LOAD_READING_STEP_MS}}`);
    }
    this.clock[i] = ts + Math.ceil(perMessage / 2) * LOAD_READING_STEP_MS;
    const payload = `{"seq":${++this.seq[i]},"readings":[${readings.join(',')}]}`;
    this.progress.sent++;
    this.progress.inFlight++;
    this.connections.publish(i % this.connectionCount, this.topics[i], payload, now);
  }
}

/** One human-readable progress line. */
export function formatProgress(p: LoadProgress): string {
  return (
    `[${p.elapsedSec.toFixed(0).padStart(4)} s] ${p.phase.padEnd(10)} ` +
    (p.connections === p.devices
      ? `devices ${p.connected}/${p.devices} connected`
      : `${p.devices} devices on ${p.connected}/${p.connections} connections`) +
    ` · ${Math.round(p.msgsPerSec)} msg/s (${Math.round(p.readingsPerSec)} readings/s of ${p.targetReadingsPerSec})` +
    ` · in flight ${p.inFlight} · errors ${p.errors}${p.connectFailures ? ` (${p.connectFailures} refused)` : ''}${p.heldBack ? ` · held back ${p.heldBack}` : ''}` +
    (p.clockLimited ? ` · clock-limited ${p.clockLimited}` : '')
  );
}
