import { topicsFor } from '@lantern/messaging';
import type { DeviceCredentials } from './device-client.js';
import { LoadConnections } from './load-connections.js';
import { Prng } from './prng.js';

export interface LoadOptions {
  mqttUrl: string;
  topicRoot?: string;
  devices: readonly DeviceCredentials[];
  /** Readings per second over all devices. */
  ratePerSec: number;
  readingsPerMessage?: number;
  /** Stop after this long (seconds, from the moment every device is connected); 0: until aborted. */
  durationSec?: number;
  /** Concurrent connection attempts while ramping up. */
  connectConcurrency?: number;
  /** Publishes awaiting their PUBACK before the generator holds back (protects the simulator's memory). */
  maxInFlight?: number;
  onProgress?: (progress: LoadProgress) => void;
  progressEveryMs?: number;
  signal?: AbortSignal;
  seed?: number;
}

export interface LoadProgress {
  phase: 'connecting' | 'running' | 'draining' | 'done';
  elapsedSec: number;
  devices: number;
  connected: number;
  connectFailures: number;
  /** Messages and readings acknowledged by the broker (QoS 1). */
  acked: number;
  ackedReadings: number;
  sent: number;
  inFlight: number;
  errors: number;
  /** Messages the generator owed but held back because too many were in flight. */
  heldBack: number;
  /** Over the last progress interval. */
  msgsPerSec: number;
  readingsPerSec: number;
  targetReadingsPerSec: number;
}

/**
 * Load mode: each device on its own MQTT connection (username = id, password = secret), all
 * together publishing `ratePerSec` readings/s at QoS 1 with `readingsPerMessage` readings per
 * message, spread evenly over the devices in round-robin. Values are normal (no alert fires).
 * The rate can be changed while running (`setRate`), which is how the bench steps it up.
 * Connections are `LoadConnections` (a socket per device, no mqtt.js client), so 10 000 devices
 * fit in one process.
 */
export class LoadRunner {
  private rate: number;
  private readonly connections: LoadConnections;
  private readonly lastTs: number[] = [];
  private readonly seq: number[] = [];
  private readonly progress: LoadProgress;
  private readonly prng: Prng;
  private readonly perMessage: number;

  constructor(private readonly options: LoadOptions) {
    this.rate = options.ratePerSec;
    this.perMessage = options.readingsPerMessage ?? 2;
    this.prng = new Prng(options.seed ?? 1);
    const t = topicsFor(options.topicRoot ?? 'lantern/v1');
    const topics = options.devices.map((d) => t.telemetry(d.deviceId));
    this.connections = new LoadConnections({
      mqttUrl: options.mqttUrl,
      devices: options.devices,
      topics,
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
      connected: 0,
      connectFailures: 0,
      acked: 0,
      ackedReadings: 0,
      sent: 0,
      inFlight: 0,
      errors: 0,
      heldBack: 0,
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
    const { devices } = this.options;
    const concurrency = this.options.connectConcurrency ?? 200;
    let next = 0;
    const worker = async () => {
      while (next < devices.length && !this.options.signal?.aborted) {
        const i = next++;
        this.lastTs[i] = 0;
        this.seq[i] = 0;
        if (!(await this.connections.connect(i))) this.progress.connectFailures++;
      }
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, devices.length) }, worker));
  }

  private async publishLoop(): Promise<void> {
    const perMessage = this.perMessage;
    const maxInFlight = this.options.maxInFlight ?? 50_000;
    const durationMs = (this.options.durationSec ?? 0) * 1000;
    const start = Date.now();
    let owed = 0;
    let last = start;
    let cursor = 0;
    const n = this.connections.size;
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
        // Round-robin over devices, skipping any that is down or whose socket is backed up.
        let published = false;
        for (let tries = 0; tries < n && !published; tries++) {
          const i = cursor;
          cursor = (cursor + 1) % n;
          if (this.connections.isReady(i)) {
            this.publishOne(i, perMessage, now);
            published = true;
          }
        }
        // No device can take a message now: what is owed this round is dropped, as before, but
        // without scanning every device again for each message.
        if (!published) owed %= 1;
      }
      await new Promise((r) => setTimeout(r, 5));
    }
  }

  private publishOne(i: number, perMessage: number, now: number): void {
    // Event times strictly increase per device, so (device, metric, time) never repeats.
    const ts = Math.max(now, this.lastTs[i] + Math.ceil(perMessage / 2));
    this.lastTs[i] = ts;
    const readings: string[] = [];
    for (let k = 0; k < perMessage; k++) {
      const metric = k % 2 === 0 ? 'heart_rate' : 'spo2';
      const value = metric === 'heart_rate' ? 60 + this.prng.int(0, 35) : 95 + this.prng.int(0, 4);
      readings.push(`{"metric":"${metric}","value":${value},"ts":${ts - Math.floor(k / 2)}}`);
    }
    const payload = `{"seq":${++this.seq[i]},"readings":[${readings.join(',')}]}`;
    this.progress.sent++;
    this.progress.inFlight++;
    this.connections.publish(i, payload, now);
  }
}

/** One human-readable progress line. */
export function formatProgress(p: LoadProgress): string {
  return (
    `[${p.elapsedSec.toFixed(0).padStart(4)} s] ${p.phase.padEnd(10)} devices ${p.connected}/${p.devices} connected` +
    ` · ${Math.round(p.msgsPerSec)} msg/s (${Math.round(p.readingsPerSec)} readings/s of ${p.targetReadingsPerSec})` +
    ` · in flight ${p.inFlight} · errors ${p.errors}${p.connectFailures ? ` (${p.connectFailures} refused)` : ''}${p.heldBack ? ` · held back ${p.heldBack}` : ''}`
  );
}
