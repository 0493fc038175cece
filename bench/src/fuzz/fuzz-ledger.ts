import { METRIC_KEYS, type MetricKey } from '@lantern/domain';
import type { Expectation } from './fuzz-expectation.js';
import { HOSTILE_CATEGORIES, type HostileCategory, type HostileMessage } from './hostile-payload.generator.js';

/** A growable column of numbers (a million expected readings would be 10× larger as objects). */
class Column<A extends Float64Array | Int32Array> {
  length = 0;
  constructor(private data: A) {}

  push(value: number): void {
    if (this.length === this.data.length) {
      const grown = new (this.data.constructor as new (n: number) => A)(this.data.length * 2);
      grown.set(this.data);
      this.data = grown;
    }
    this.data[this.length++] = value;
  }

  at(i: number): number {
    return this.data[i];
  }
}

/** Per topic: seq-less dead letters due, statuses the codec accepts, messages no subscription matches. */
export interface TopicLedger {
  single: number;
  status: number;
  unrouted: number;
}

/** What the hostile devices sent and the broker acknowledged, with what the database must show for it. */
export class FuzzLedger {
  // `readings` messages: device, seq, whole-message refusal by the codec, category.
  private readonly msgDevice = new Column(new Int32Array(1024));
  private readonly msgSeq = new Column(new Float64Array(1024));
  private readonly msgWhole = new Column(new Int32Array(1024));
  private readonly msgCategory = new Column(new Int32Array(1024));
  // Their readings: message row, index in the message, metric (-1: refused by the codec), time.
  private readonly rdMessage = new Column(new Int32Array(4096));
  private readonly rdIndex = new Column(new Int32Array(4096));
  private readonly rdMetric = new Column(new Int32Array(4096));
  private readonly rdTime = new Column(new Float64Array(4096));

  readonly topics = new Map<string, TopicLedger & { categories: Map<HostileCategory, number> }>();
  /** Acknowledged hostile messages by category and expectation kind. */
  readonly byCategory = new Map<HostileCategory, Record<Expectation['kind'], number>>(
    HOSTILE_CATEGORIES.map((c) => [c, { readings: 0, single: 0, status: 0, unrouted: 0 }]),
  );
  /** Acknowledged hostile messages by category and mutation. */
  readonly variants = new Map<string, number>();
  acknowledged = 0;

  constructor(private readonly deviceIds: readonly string[]) {}

  /** Records a hostile message the broker acknowledged, from device number `device`. */
  add(device: number, message: HostileMessage, topic: string, expectation: Expectation): void {
    this.acknowledged++;
    this.byCategory.get(message.category)![expectation.kind]++;
    const variant = `${message.category}: ${message.variant}`;
    this.variants.set(variant, (this.variants.get(variant) ?? 0) + 1);
    if (expectation.kind === 'readings') {
      const row = this.msgDevice.length;
      this.msgDevice.push(device);
      this.msgSeq.push(expectation.seq);
      this.msgWhole.push(expectation.whole ? 1 : 0);
      this.msgCategory.push(HOSTILE_CATEGORIES.indexOf(message.category));
      for (const r of expectation.readings) {
        this.rdMessage.push(row);
        this.rdIndex.push(r.index);
        this.rdMetric.push(r.metric === undefined ? -1 : METRIC_KEYS.indexOf(r.metric));
        this.rdTime.push(r.time ?? 0);
      }
      return;
    }
    let t = this.topics.get(topic);
    if (!t) this.topics.set(topic, (t = { single: 0, status: 0, unrouted: 0, categories: new Map() }));
    t[expectation.kind]++;
    t.categories.set(message.category, (t.categories.get(message.category) ?? 0) + 1);
  }

  get messageCount(): number {
    return this.msgDevice.length;
  }

  get readingCount(): number {
    return this.rdMessage.length;
  }

  /** `readings` messages from..to as database columns. */
  messageRows(from: number, to: number): { device: string[]; seq: number[]; whole: boolean[]; category: string[] } {
    const out = { device: [] as string[], seq: [] as number[], whole: [] as boolean[], category: [] as string[] };
    for (let i = from; i < Math.min(to, this.msgDevice.length); i++) {
      out.device.push(this.deviceIds[this.msgDevice.at(i)]);
      out.seq.push(this.msgSeq.at(i));
      out.whole.push(this.msgWhole.at(i) === 1);
      out.category.push(HOSTILE_CATEGORIES[this.msgCategory.at(i)]);
    }
    return out;
  }

  /** Expected readings from..to as database columns (metric and time null where the codec refuses the reading). */
  readingRows(
    from: number,
    to: number,
  ): { device: string[]; seq: number[]; index: number[]; metric: (MetricKey | null)[]; time: (string | null)[] } {
    const out = {
      device: [] as string[],
      seq: [] as number[],
      index: [] as number[],
      metric: [] as (MetricKey | null)[],
      time: [] as (string | null)[],
    };
    for (let i = from; i < Math.min(to, this.rdMessage.length); i++) {
      const m = this.rdMessage.at(i);
      const metric = this.rdMetric.at(i);
      out.device.push(this.deviceIds[this.msgDevice.at(m)]);
      out.seq.push(this.msgSeq.at(m));
      out.index.push(this.rdIndex.at(i));
      out.metric.push(metric < 0 ? null : METRIC_KEYS[metric]);
      out.time.push(metric < 0 ? null : new Date(this.rdTime.at(i)).toISOString());
    }
    return out;
  }
}
