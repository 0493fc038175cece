import { Readable } from 'node:stream';
import type { Brokers } from 'aedes';
import { encodeBrokerPacket, type BrokerChanges, type BrokerPacket } from '@lantern/storage';

/**
 * The clients' wills in memory, one per client, each marked with the broker that holds its client.
 * Remembers which clients' wills changed since the last write.
 */
export class WillStore {
  private readonly byClient = new Map<string, BrokerPacket>();
  private readonly dirty = new Set<string>();

  /** Puts back a will a previous run stored (not written again). */
  restore(clientId: string, packet: BrokerPacket): void {
    this.byClient.set(clientId, packet);
  }

  /** Keeps the client's will, marked with its client and the broker it is connected to. */
  put(clientId: string, packet: BrokerPacket, brokerId: string | undefined): void {
    packet.brokerId = brokerId;
    packet.clientId = clientId;
    this.byClient.set(clientId, packet);
    this.dirty.add(clientId);
  }

  get(clientId: string): BrokerPacket | undefined {
    return this.byClient.get(clientId);
  }

  /** Removes the client's will and returns it; undefined when it had none. */
  delete(clientId: string): BrokerPacket | undefined {
    const will = this.byClient.get(clientId);
    if (will === undefined) return undefined;
    this.byClient.delete(clientId);
    this.dirty.add(clientId);
    return will;
  }

  /** The wills whose broker is not among the live `brokers`. */
  stream(brokers: Brokers): Readable {
    return Readable.from([...this.byClient.values()].filter((will) => !brokers[will.brokerId ?? '']));
  }

  hasPending(): boolean {
    return this.dirty.size > 0;
  }

  /** Puts what changed in `changes`, in its current state; the returned function marks it pending again. */
  take(changes: BrokerChanges): () => void {
    const clients = [...this.dirty];
    this.dirty.clear();
    for (const clientId of clients) {
      const will = this.byClient.get(clientId);
      if (will) changes.willUpserts.push({ clientId, packet: encodeBrokerPacket(will) });
      else changes.willDeletes.push(clientId);
    }
    return () => {
      for (const clientId of clients) this.dirty.add(clientId);
    };
  }
}
