import type { BrokerPacket, EncodedPacket } from './broker-packet.codec.js';

/*
 * What the embedded broker's persistence writes and reads back: the change set of one flush and
 * the state a previous run left, each kind of state in its own lists.
 */

/** A subscription of a persistent session, as aedes-persistence keeps it (undefined options stay undefined). */
export interface SubscriptionRecord {
  readonly qos: number;
  readonly rh: number | undefined;
  readonly rap: boolean | undefined;
  readonly nl: boolean | undefined;
  readonly subscriptionIdentifier?: number;
}

/** Everything one flush writes, in one statement (one transaction). A key appears in one list at most. */
export interface BrokerChanges {
  readonly journalInserts: { readonly id: number; readonly packet: EncodedPacket }[];
  readonly journalDeletes: number[];
  readonly outgoingInserts: { readonly id: number; readonly clientId: string; readonly packet: EncodedPacket }[];
  readonly outgoingUpdates: { readonly id: number; readonly packet: EncodedPacket }[];
  readonly outgoingDeletes: number[];
  readonly subscriptionUpserts: {
    readonly clientId: string;
    readonly topic: string;
    readonly record: SubscriptionRecord;
  }[];
  readonly subscriptionDeletes: { readonly clientId: string; readonly topic: string }[];
  readonly retainedUpserts: { readonly topic: string; readonly packet: EncodedPacket }[];
  readonly retainedDeletes: string[];
  readonly incomingUpserts: { readonly clientId: string; readonly messageId: number; readonly packet: EncodedPacket }[];
  readonly incomingDeletes: { readonly clientId: string; readonly messageId: number }[];
  readonly willUpserts: { readonly clientId: string; readonly packet: EncodedPacket }[];
  readonly willDeletes: string[];
}

/** What a previous run left, in the order it was written. */
export interface StoredBrokerState {
  readonly subscriptions: { readonly clientId: string; readonly topic: string; readonly record: SubscriptionRecord }[];
  readonly retained: BrokerPacket[];
  readonly outgoing: { readonly id: number; readonly clientId: string; readonly packet: BrokerPacket }[];
  readonly incoming: { readonly clientId: string; readonly messageId: number; readonly packet: BrokerPacket }[];
  readonly wills: { readonly clientId: string; readonly packet: BrokerPacket }[];
  readonly journal: { readonly id: number; readonly packet: BrokerPacket }[];
}

/** Creates an empty change set. */
export function noBrokerChanges(): BrokerChanges {
  return {
    journalInserts: [],
    journalDeletes: [],
    outgoingInserts: [],
    outgoingUpdates: [],
    outgoingDeletes: [],
    subscriptionUpserts: [],
    subscriptionDeletes: [],
    retainedUpserts: [],
    retainedDeletes: [],
    incomingUpserts: [],
    incomingDeletes: [],
    willUpserts: [],
    willDeletes: [],
  };
}

/** True when the change set writes nothing. */
export function isEmptyBrokerChange(changes: BrokerChanges): boolean {
  return Object.values(changes).every((list: unknown[]) => list.length === 0);
}
