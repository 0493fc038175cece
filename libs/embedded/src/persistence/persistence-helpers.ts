import type { BrokerPacket } from '@lantern/storage';

/*
 * What the parts of the broker persistence (AedesPostgresPersistence and its stores) share: the
 * broker they number packets for, the trie options of aedes-persistence, the map keys of
 * composite ids, and the copy of a packet aedes-persistence's memory store queues.
 */

/** The part of the aedes broker a persistence sees: its id and the counter that numbers its packets. */
export interface BrokerIdentity {
  readonly id: string;
  counter: number;
}

/** Someone waiting for a write to commit. */
export interface Waiter {
  readonly resolve: () => void;
  readonly reject: (error: Error) => void;
}

/** MQTT topic syntax, as aedes-persistence's trie reads it. */
export const QLOBBER_OPTIONS = { wildcard_one: '+', wildcard_some: '#', separator: '/' } as const;

/** One map key of several parts (a client id and a topic, say). */
export const key = (...parts: (string | number)[]) => parts.join('\u0000');

/** How aedes names a PUBLISH across queues: its broker id and broker counter. */
export const originKey = (packet: BrokerPacket) => key(packet.brokerId ?? '', packet.brokerCounter ?? 0);

export const errorText = (error: unknown) => (error instanceof Error ? error.message : String(error));

/** The copy aedes-persistence's memory store queues (aedes-packet's `new Packet(packet)` without a broker). */
export function queuedCopy(original: BrokerPacket, broker?: BrokerIdentity): BrokerPacket {
  const copy: Record<string, unknown> & BrokerPacket = {};
  for (const field of ['clientId', 'nl', 'properties', 'messageExpiry'])
    if (Object.prototype.hasOwnProperty.call(original, field)) copy[field] = original[field];
  copy.cmd = original.cmd || 'publish';
  copy.brokerId = original.brokerId || broker?.id;
  copy.brokerCounter = original.brokerCounter || (broker ? ++broker.counter : 0);
  copy.topic = original.topic;
  copy.payload = original.payload || Buffer.alloc(0);
  copy.qos = original.qos || 0;
  copy.retain = original.retain || false;
  copy.dup = original.dup || false;
  if (copy.qos > 0 || copy.cmd !== 'publish') copy.messageId = undefined;
  return copy;
}
