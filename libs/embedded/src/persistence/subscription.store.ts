import QlobberSub from 'qlobber/aedes/qlobber-sub.js';
import type { BrokerChanges, SubscriptionRecord } from '@lantern/storage';
import { key, QLOBBER_OPTIONS } from './persistence-helpers.js';

/** A subscription as aedes hands it over (SUBSCRIBE packet entry). */
export interface SubscriptionInput {
  readonly topic: string;
  readonly qos: number;
  readonly rh?: number;
  readonly rap?: boolean;
  readonly nl?: boolean;
  readonly subscriptionIdentifier?: number;
}

/**
 * The persistent sessions' subscriptions in memory: per client, its topic filters; and the trie
 * aedes asks once per PUBLISH (QoS 1/2 subscriptions only, as aedes-persistence's memory store
 * keeps it). Remembers which (client, topic) changed since the last write.
 */
export class SubscriptionStore {
  private readonly byClient = new Map<string, Map<string, SubscriptionRecord>>();
  private readonly trie = new QlobberSub(QLOBBER_OPTIONS);
  private readonly dirty = new Map<string, { clientId: string; topic: string }>();

  /** Clients with at least one subscription. */
  get clientCount(): number {
    return this.byClient.size;
  }

  /** Subscriptions in the trie. */
  get subscriptionCount(): number {
    return this.trie.subscriptionsCount;
  }

  /** Puts back a subscription a previous run stored (not written again). */
  restore(clientId: string, topic: string, record: SubscriptionRecord): void {
    this.put(clientId, topic, record);
  }

  add(clientId: string, subs: SubscriptionInput[]): void {
    for (const sub of subs) {
      const record: SubscriptionRecord = {
        qos: sub.qos,
        rh: sub.rh,
        rap: sub.rap,
        nl: sub.nl,
        ...(sub.subscriptionIdentifier !== undefined && { subscriptionIdentifier: sub.subscriptionIdentifier }),
      };
      this.put(clientId, sub.topic, record);
      this.dirty.set(key(clientId, sub.topic), { clientId, topic: sub.topic });
    }
  }

  /** Removes the client's subscriptions to `topics`; false when the client had none at all. */
  remove(clientId: string, topics: string[]): boolean {
    const stored = this.byClient.get(clientId);
    if (!stored) return false;
    for (const topic of topics) {
      const record = stored.get(topic);
      if (record === undefined) continue;
      if (record.qos > 0) this.trie.remove(topic, { clientId, topic });
      stored.delete(topic);
      this.dirty.set(key(clientId, topic), { clientId, topic });
    }
    if (stored.size === 0) this.byClient.delete(clientId);
    return true;
  }

  /** Removes every subscription of the client; false when it had none. */
  clean(clientId: string): boolean {
    const stored = this.byClient.get(clientId);
    if (!stored) return false;
    for (const [topic, record] of stored) {
      if (record.qos > 0) this.trie.remove(topic, { clientId, topic });
      this.dirty.set(key(clientId, topic), { clientId, topic });
    }
    this.byClient.delete(clientId);
    return true;
  }

  ofClient(clientId: string): ({ topic: string } & SubscriptionRecord)[] {
    return [...(this.byClient.get(clientId) ?? [])].map(([topic, record]) => ({ topic, ...record }));
  }

  /** The QoS 1/2 subscriptions matching a topic: answered from the trie, never a query. */
  match(topic: string): ReturnType<QlobberSub['match']> {
    return this.trie.match(topic);
  }

  /** The clients subscribed to exactly this topic filter. */
  clientsOf(topic: string): string[] {
    return [...this.byClient].filter(([, stored]) => stored.has(topic)).map(([clientId]) => clientId);
  }

  hasPending(): boolean {
    return this.dirty.size > 0;
  }

  /** Puts what changed in `changes`, in its current state; the returned function marks it pending again. */
  take(changes: BrokerChanges): () => void {
    const keys = [...this.dirty.values()];
    this.dirty.clear();
    for (const { clientId, topic } of keys) {
      const record = this.byClient.get(clientId)?.get(topic);
      if (record) changes.subscriptionUpserts.push({ clientId, topic, record });
      else changes.subscriptionDeletes.push({ clientId, topic });
    }
    return () => {
      for (const item of keys) this.dirty.set(key(item.clientId, item.topic), item);
    };
  }

  private put(clientId: string, topic: string, record: SubscriptionRecord): void {
    let stored = this.byClient.get(clientId);
    if (!stored) {
      stored = new Map();
      this.byClient.set(clientId, stored);
    }
    const previous = stored.get(topic);
    if (record.qos > 0)
      this.trie.add(topic, { clientId, topic, qos: record.qos, rh: record.rh, rap: record.rap, nl: record.nl });
    else if (previous !== undefined && previous.qos > 0) this.trie.remove(topic, { clientId, topic });
    stored.set(topic, record);
  }
}
