import { encodeBrokerPacket, type BrokerChanges, type BrokerPacket } from '@lantern/storage';
import { key, queuedCopy } from './persistence-helpers.js';

/**
 * The incoming QoS 2 packets in memory: a client's PUBLISH held from its PUBREC until its PUBREL,
 * per client by message id. Remembers which (client, message id) changed since the last write.
 */
export class IncomingStore {
  private readonly byClient = new Map<string, Map<number, BrokerPacket>>();
  private readonly dirty = new Map<string, { clientId: string; messageId: number }>();

  /** Puts back a packet a previous run stored (not written again). */
  restore(clientId: string, messageId: number, packet: BrokerPacket): void {
    this.of(clientId, true).set(messageId, packet);
  }

  store(clientId: string, packet: BrokerPacket): void {
    const messageId = packet.messageId ?? 0;
    const copy = queuedCopy(packet);
    copy.messageId = packet.messageId;
    this.of(clientId, true).set(messageId, copy);
    this.dirty.set(key(clientId, messageId), { clientId, messageId });
  }

  get(clientId: string, messageId: number): BrokerPacket | undefined {
    return this.of(clientId, false)?.get(messageId);
  }

  /** False when the client holds no such packet. */
  delete(clientId: string, messageId: number): boolean {
    if (!this.of(clientId, false)?.delete(messageId)) return false;
    this.dirty.set(key(clientId, messageId), { clientId, messageId });
    return true;
  }

  /** Drops every packet of the client; false when it held none. */
  clean(clientId: string): boolean {
    const store = this.of(clientId, false);
    if (!store) return false;
    for (const messageId of store.keys()) this.dirty.set(key(clientId, messageId), { clientId, messageId });
    this.byClient.delete(clientId);
    return true;
  }

  hasPending(): boolean {
    return this.dirty.size > 0;
  }

  /** Puts what changed in `changes`, in its current state; the returned function marks it pending again. */
  take(changes: BrokerChanges): () => void {
    const keys = [...this.dirty.values()];
    this.dirty.clear();
    for (const { clientId, messageId } of keys) {
      const packet = this.byClient.get(clientId)?.get(messageId);
      if (packet) changes.incomingUpserts.push({ clientId, messageId, packet: encodeBrokerPacket(packet) });
      else changes.incomingDeletes.push({ clientId, messageId });
    }
    return () => {
      for (const item of keys) this.dirty.set(key(item.clientId, item.messageId), item);
    };
  }

  private of(clientId: string, create: true): Map<number, BrokerPacket>;
  private of(clientId: string, create: false): Map<number, BrokerPacket> | undefined;
  private of(clientId: string, create: boolean): Map<number, BrokerPacket> | undefined {
    let store = this.byClient.get(clientId);
    if (!store && create) {
      store = new Map();
      this.byClient.set(clientId, store);
    }
    return store;
  }
}
