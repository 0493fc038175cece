import { Readable } from 'node:stream';
import { QlobberTrue } from 'qlobber';
import { encodeBrokerPacket, type BrokerChanges, type BrokerPacket } from '@lantern/storage';
import { QLOBBER_OPTIONS } from './persistence-helpers.js';

/**
 * The retained messages in memory, one per topic (an empty payload clears it), streamed to new
 * subscribers by topic filter. Remembers which topics changed since the last write.
 */
export class RetainedStore {
  private readonly byTopic = new Map<string, BrokerPacket>();
  private readonly dirty = new Set<string>();

  /** Puts back a retained message a previous run stored (not written again). */
  restore(packet: BrokerPacket): void {
    if (packet.topic !== undefined) this.byTopic.set(packet.topic, packet);
  }

  store(packet: BrokerPacket): void {
    const copy = { ...packet };
    const topic = copy.topic ?? '';
    if (copy.payload === undefined || copy.payload.length === 0) this.byTopic.delete(topic);
    else this.byTopic.set(topic, copy);
    this.dirty.add(topic);
  }

  /** The retained messages matching any of the patterns (each pattern's matches in turn). */
  streamAll(patterns: string[]): Readable {
    const retained = this.byTopic;
    return Readable.from(
      (function* () {
        for (const pattern of patterns) yield* matching(retained, pattern);
      })(),
    );
  }

  stream(pattern: string): Readable {
    return Readable.from(matching(this.byTopic, pattern));
  }

  hasPending(): boolean {
    return this.dirty.size > 0;
  }

  /** Puts what changed in `changes`, in its current state; the returned function marks it pending again. */
  take(changes: BrokerChanges): () => void {
    const topics = [...this.dirty];
    this.dirty.clear();
    for (const topic of topics) {
      const packet = this.byTopic.get(topic);
      if (packet) changes.retainedUpserts.push({ topic, packet: encodeBrokerPacket(packet) });
      else changes.retainedDeletes.push(topic);
    }
    return () => {
      for (const topic of topics) this.dirty.add(topic);
    };
  }
}

function* matching(retained: Map<string, BrokerPacket>, pattern: string): Generator<BrokerPacket> {
  const matcher = new QlobberTrue(QLOBBER_OPTIONS);
  matcher.add(pattern);
  for (const [topic, packet] of retained) if (matcher.test(topic)) yield packet;
}
