import type { Topics } from '@lantern/messaging/contract';
import type { MqttClient } from 'mqtt';
import { sleep } from '../infra/processes.js';
import { expectationOf, topicOnTheWire } from './fuzz-expectation.js';
import { FuzzLedger } from './fuzz-ledger.js';
import type { CategoryOutcome } from './fuzz-verification.js';
import {
  generateHostileMessage,
  SLOT_MS,
  type GeneratorContext,
  type HostileCategory,
  type HostileDevice,
} from './hostile-payload.generator.js';
import { WindowedPublisher } from './windowed-publisher.js';

/** What the storm needs to make the same messages again: the generator's seed, topics and weights. */
export interface StormSettings {
  readonly seed: number;
  readonly topics: Topics;
  readonly weights?: Readonly<Record<HostileCategory, number>>;
  /** INGEST_MAX_BACKFILL of the ingest under test, which the generator's times respect. */
  readonly maxBackfillMs: number;
}

/**
 * The hostile devices of a fuzz run and what they sent: each publishes its generated messages through
 * its own window, every message the broker acknowledges goes into the ledger with what the ingest must
 * make of it, and the replies on the devices' errors topics are counted.
 */
export class HostileStorm {
  readonly ledger: FuzzLedger;
  /** Publishes the broker refused (the first 1000). */
  readonly brokerRefused: string[] = [];
  /** Replies on the hostile devices' errors topics. */
  errorsReplies = 0;
  private readonly publishers: WindowedPublisher[] = [];
  /** Event time of slot 0 of every hostile device. */
  private slotBase = 0;

  constructor(
    readonly devices: readonly HostileDevice[],
    private readonly settings: StormSettings,
  ) {
    this.ledger = new FuzzLedger(devices.map((d) => d.deviceId));
  }

  /**
   * Connects the hostile devices, each subscribed to its errors topic. Counted and compared with what
   * is due, not an invariant: the ingest answers each refused message on the device's errors topic at
   * QoS 1, fire-and-forget. The device's own publishes to that topic (an unexpected-topic mutation)
   * come back too and are not replies.
   */
  async connect(connect: (deviceId: string) => Promise<MqttClient>, window: number): Promise<void> {
    for (const d of this.devices) {
      const client = await connect(d.deviceId);
      client.on('message', (_topic, payload) => {
        if (isErrorsReply(payload)) this.errorsReplies++;
      });
      await client.subscribeAsync(this.settings.topics.errors(d.deviceId), { qos: 1 });
      this.publishers.push(new WindowedPublisher(client, window));
    }
  }

  /** The generator's context for messages made at `now`. */
  private context(now: number): GeneratorContext {
    const { seed, topics, weights } = this.settings;
    return { seed, topics, now, slotTime: (s) => this.slotBase + s * SLOT_MS, weights };
  }

  /** Publishes `messages` hostile messages round robin at `rate` a second (0: as fast as acknowledged). */
  async run(
    messages: number,
    rate: number,
    stormStart: number,
    slotBase: number,
    log: (line: string) => void,
  ): Promise<void> {
    this.slotBase = slotBase;
    const { topics, maxBackfillMs } = this.settings;
    const hostileDevices = this.devices;
    let lastReport = performance.now();
    for (let i = 0; i < messages; i++) {
      if (rate > 0) {
        const wait = stormStart + (i / rate) * 1000 - performance.now();
        if (wait > 1) await sleep(wait);
      }
      const d = i % hostileDevices.length;
      const device = hostileDevices[d];
      const seq = Math.floor(i / hostileDevices.length) + 1;
      const now = Date.now();
      const message = generateHostileMessage(this.context(now), device, seq);
      const expectation = expectationOf(message, {
        topics,
        deviceId: device.deviceId,
        receivedAt: now,
        maxBackfillMs,
      });
      const topic = topicOnTheWire(message.topic);
      await this.publishers[d].send(message.topic, message.payload, (error) => {
        if (!error) this.ledger.add(d, message, topic, expectation);
        else if (this.brokerRefused.length < 1000)
          this.brokerRefused.push(
            `${device.deviceId} seq ${seq} (${message.category}: ${message.variant}): ${error.message}`,
          );
      });
      if (performance.now() - lastReport > 10_000) {
        lastReport = performance.now();
        log(`  ${i + 1} hostile messages sent`);
      }
    }
    await Promise.all(this.publishers.map((p) => p.drain()));
  }

  /** Acknowledged messages of one expectation kind, over every category. */
  sumKinds(kind: 'single' | 'status' | 'unrouted' | 'readings'): number {
    let n = 0;
    for (const k of this.ledger.byCategory.values()) n += k[kind];
    return n;
  }

  /** Replies due: one per refused message on a hostile device's own topics (others name nobody listening). */
  repliesDue(categories: Readonly<Record<HostileCategory, CategoryOutcome>>): number {
    const { topics } = this.settings;
    const ownTopics = new Set(this.devices.flatMap((d) => [topics.telemetry(d.deviceId), topics.status(d.deviceId)]));
    let repliesDue = 0;
    for (const c of Object.values(categories)) repliesDue += c.deadLettered + c.partlyStored;
    for (const [topic, t] of this.ledger.topics) if (!ownTopics.has(topic)) repliesDue -= t.single;
    return repliesDue;
  }

  /** The message an unaccounted (device, seq) was, made again from the seed: category, mutation, payload head. */
  describe(deviceId: string, seq: number): { category: string; variant: string; topic: string; payloadHead: string } {
    const device = this.devices.find((d) => d.deviceId === deviceId);
    if (!device) return { category: '?', variant: '?', topic: '?', payloadHead: '' };
    // Times depend on the clock when it was made; the mutation and structure do not.
    const m = generateHostileMessage(this.context(Date.now()), device, seq);
    return {
      category: m.category,
      variant: m.variant,
      topic: m.topic,
      payloadHead: JSON.stringify(m.payload.subarray(0, 300).toString('utf8')),
    };
  }
}

function isErrorsReply(payload: Buffer): boolean {
  try {
    const body: unknown = JSON.parse(payload.toString('utf8'));
    return typeof body === 'object' && body !== null && Array.isArray((body as { errors?: unknown }).errors);
  } catch {
    return false;
  }
}
