import { decodePatientEvent } from '@lantern/messaging/contract';
import { sleep } from '../infra/processes.js';
import type { WindowedPublisher } from './windowed-publisher.js';

const PROBE_TIMEOUT_MS = 10_000;
const FEVER = 39.4;
const NORMAL = 36.8;
const FEVER_RULE = 'body_temperature.fever';

/**
 * The fuzz run's probe patient: while the storm goes on it sends a fever reading, waits for its alert
 * on the patient's alerts topic, then a normal reading and its resolution, again and again; it owns
 * the publish → alert latencies that say whether alerting kept up under the hostile traffic.
 */
export class AlertProbe {
  /** Publish → alert event of the alerts raised while hostile messages were still being sent, ms. */
  readonly latencies: number[] = [];
  /** Alerts the minimum number of samples made it wait for after the storm. */
  afterStorm = 0;
  timeouts = 0;
  /** Probe readings acknowledged by the broker, and those whose publish failed. */
  readings = 0;
  failures = 0;
  private readonly alertWaiters = new Map<string, (at: number) => void>();

  constructor(
    private readonly publisher: WindowedPublisher,
    private readonly telemetryTopic: string,
  ) {}

  /** The observer's message handler: an alert event of the fever rule ends the wait for its state. */
  observe(topicRoot: string, topic: string, payload: Buffer): void {
    const event = decodePatientEvent(topicRoot, topic, payload);
    if (event?.kind !== 'alerts' || event.payload.rule !== FEVER_RULE) return;
    const resolve = this.alertWaiters.get(event.payload.state);
    if (resolve) {
      this.alertWaiters.delete(event.payload.state);
      resolve(performance.now());
    }
  }

  /** Raises and resolves fever alerts until the storm is over and `minSamples` were taken. */
  async run(stormOver: () => boolean, minSamples: number, intervalMs: number): Promise<void> {
    let eventTime = Date.now() - 10 * 60_000;
    const send = async (value: number, state: 'open' | 'resolved'): Promise<number> => {
      eventTime = Math.max(eventTime + 1000, Date.now() - 10 * 60_000);
      // Never ahead of the clock by more than a minute (the ingest refuses over 5).
      while (eventTime > Date.now() + 60_000) await sleep(200);
      const arrived = new Promise<number>((resolve) => {
        const timer = setTimeout(() => {
          this.alertWaiters.delete(state);
          resolve(-1);
        }, PROBE_TIMEOUT_MS);
        this.alertWaiters.set(state, (at) => {
          clearTimeout(timer);
          resolve(at);
        });
      });
      const t0 = performance.now();
      const body = JSON.stringify({
        ts: new Date(eventTime).toISOString(),
        readings: [{ metric: 'body_temperature', value }],
      });
      await this.publisher.send(this.telemetryTopic, body, (error) => {
        if (error) this.failures++;
        else this.readings++;
      });
      const at = await arrived;
      return at < 0 ? -1 : at - t0;
    };
    while (!stormOver() || this.latencies.length + this.afterStorm + this.timeouts < minSamples) {
      const latency = await send(FEVER, 'open');
      if (latency < 0) this.timeouts++;
      else if (stormOver()) this.afterStorm++;
      else this.latencies.push(latency);
      await send(NORMAL, 'resolved');
      await sleep(intervalMs);
    }
    await this.publisher.drain();
  }
}
