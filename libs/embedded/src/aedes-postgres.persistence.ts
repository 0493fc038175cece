import { Readable } from 'node:stream';
import type { AedesOptions, Brokers, Client } from 'aedes';
import type pg from 'pg';
import { QlobberTrue } from 'qlobber';
import QlobberSub from 'qlobber/aedes/qlobber-sub.js';
import {
  AedesPostgresRepository,
  encodeBrokerPacket,
  isEmptyBrokerChange,
  noBrokerChanges,
  type BrokerChanges,
  type BrokerPacket,
  type EncodedPacket,
  type SubscriptionRecord,
} from '@lantern/storage';

export { BrokerSchemaInUseError } from '@lantern/storage';

export interface AedesPostgresPersistenceOptions {
  /** Pool on the database that holds the broker's schema (the caller ends it, after {@link AedesPostgresPersistence.destroy}). */
  readonly pool: pg.Pool;
  /** Schema of the broker's tables, created when missing; default `broker`. */
  readonly schema?: string;
  /** Failed writes, retries and what was recovered at start, one line each. */
  readonly onLog?: (line: string) => void;
  /**
   * Keep the message ids of queued PUBLISHes when loading (default false: they are cleared, and
   * aedes numbers them afresh on delivery). Only for tests that reopen a store within one session.
   */
  readonly keepMessageIds?: boolean;
  /**
   * Take the schema for this instance alone while it runs (default true): a second broker on the
   * same schema fails to start rather than collide with this one. False only for tests that read a
   * store through a second instance.
   */
  readonly exclusive?: boolean;
}

/** The part of the aedes broker a persistence sees: its id and the counter that numbers its packets. */
interface BrokerIdentity {
  readonly id: string;
  counter: number;
}

/** A subscription as aedes hands it over (SUBSCRIBE packet entry). */
interface SubscriptionInput {
  readonly topic: string;
  readonly qos: number;
  readonly rh?: number;
  readonly rap?: boolean;
  readonly nl?: boolean;
  readonly subscriptionIdentifier?: number;
}

type ClientRef = Pick<Client, 'id'>;

/** One packet in a client's outgoing queue; `id` is its row in `outgoing`. */
interface QueuedPacket {
  readonly id: number;
  readonly clientId: string;
  packet: BrokerPacket;
  /** Included in a write that may have committed: a removal must delete the row. */
  stored: boolean;
  /**
   * The journalled PUBLISH this is a copy of: its row may wait {@link QUEUE_WRITE_DELAY_MS}, the
   * journal row keeping the message meanwhile. Cleared once the row is written or the packet acknowledged.
   */
  journal: JournalEntry | undefined;
  readonly queuedAt: number;
}

/**
 * A client PUBLISH made durable before its PUBACK. Its row may go once aedes has queued the
 * message (`resolved`) and each queued copy has been written or acknowledged (`unsettled` 0).
 */
interface JournalEntry {
  readonly id: number;
  readonly packet: EncodedPacket;
  stored: boolean;
  resolved: boolean;
  unsettled: number;
}

interface Waiter {
  readonly resolve: () => void;
  readonly reject: (error: Error) => void;
}

const QLOBBER_OPTIONS = { wildcard_one: '+', wildcard_some: '#', separator: '/' } as const;
const RETRY_MIN_MS = 100;
const RETRY_MAX_MS = 5000;
/**
 * How long the queue row of a journalled PUBLISH waits before it is written. The ingest
 * acknowledges most messages sooner: those cost the journal insert and delete only, never an
 * outgoing row. A crash meanwhile loses nothing: the journal re-queues the message.
 */
const QUEUE_WRITE_DELAY_MS = 250;
/**
 * Bytes of packets one statement carries at most (payloads travel hex-encoded in arrays, twice
 * this): a burst of large PUBLISHes is written in several statements, not one that exhausts memory.
 * What does not fit goes in the next statement, right after.
 */
const MAX_WRITE_BYTES = 8 * 1024 * 1024;

const key = (...parts: (string | number)[]) => parts.join('\u0000');
const originKey = (packet: BrokerPacket) => key(packet.brokerId ?? '', packet.brokerCounter ?? 0);
const errorText = (error: unknown) => (error instanceof Error ? error.message : String(error));

/** The copy aedes-persistence's memory store queues (aedes-packet's `new Packet(packet)` without a broker). */
function queuedCopy(original: BrokerPacket, broker?: BrokerIdentity): BrokerPacket {
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

/**
 * aedes persistence on PostgreSQL (the embedded one, or any): sessions, subscriptions, retained
 * messages, wills, QoS 2 state and queued QoS 1/2 messages survive a restart of the broker.
 *
 * Reads are answered from memory, exactly as aedes-persistence's memory store answers them (it
 * passes that package's abstract test suite): the subscription trie is asked once per PUBLISH and
 * must not cost a query. Every change is also written to PostgreSQL (tables in their own schema,
 * loaded back by `setup`). Writes are group-committed: whatever changed while the previous write
 * was in flight goes out as one statement, and a key changed several times is written once in its
 * latest state. The queue row of a journalled PUBLISH waits {@link QUEUE_WRITE_DELAY_MS} first:
 * most are acknowledged by then and never written.
 *
 * What waits for the commit: session state (subscriptions, retained messages, wills, QoS 2
 * packets) and messages aedes queues on its own (wills, retained deliveries). What does not:
 * client PUBLISHes queued for subscribers, because aedes sends the PUBACK of a QoS 1 PUBLISH
 * before it queues the message — a persistence alone cannot keep what the broker already
 * acknowledged. {@link brokerOptions} closes that gap: it makes each authorised QoS 1 PUBLISH
 * durable in a journal before aedes goes on to acknowledge it, and `setup` re-queues the
 * journalled messages a crash left unqueued. A device's acknowledged message is thus never lost;
 * at worst (a crash between its queueing and the journal's clean-up) it is delivered twice, which
 * the ingest's idempotent writes absorb.
 */
export class AedesPostgresPersistence {
  private readonly repository: AedesPostgresRepository;
  private readonly onLog: (line: string) => void;
  private brokerIdentity: BrokerIdentity | undefined;

  private readonly retained = new Map<string, BrokerPacket>();
  private readonly subscriptions = new Map<string, Map<string, SubscriptionRecord>>();
  private readonly trie = new QlobberSub(QLOBBER_OPTIONS);
  /** Per client, queued packets by row id (a Map keeps insertion order and deletes in O(1)). */
  private readonly outgoing = new Map<string, Map<number, QueuedPacket>>();
  /** Per client, the queued packets of each (broker id, broker counter), in queue order: how aedes names a PUBLISH. */
  private readonly outgoingByOrigin = new Map<string, Map<string, QueuedPacket[]>>();
  private readonly outgoingById = new Map<number, QueuedPacket>();
  private readonly incoming = new Map<string, Map<number, BrokerPacket>>();
  private readonly wills = new Map<string, BrokerPacket>();
  private readonly journalByPacket = new WeakMap<object, JournalEntry>();
  /**
   * Journal entries by payload: aedes queues a copy of the packet it authorised, which shares the
   * payload Buffer (a fresh one per PUBLISH read from a socket) but not the packet object.
   */
  private readonly journalByPayload = new WeakMap<object, JournalEntry>();
  private readonly keepMessageIds: boolean;
  private readonly exclusive: boolean;
  private unlock: (() => Promise<void>) | undefined;
  private nextId = 1;

  private readonly dirtyOutgoing = new Set<number>();
  private readonly dirtyJournal = new Map<number, JournalEntry>();
  /** Queue rows not written yet on purpose (see QUEUE_WRITE_DELAY_MS), oldest first. */
  private readonly deferredOutgoing = new Set<number>();
  /** The next write takes deferred changes too (flush(), destroy()). */
  private writeAll = false;
  private deferTimer: NodeJS.Timeout | undefined;
  private readonly dirtySubscriptions = new Map<string, { clientId: string; topic: string }>();
  private readonly dirtyRetained = new Set<string>();
  private readonly dirtyIncoming = new Map<string, { clientId: string; messageId: number }>();
  private readonly dirtyWills = new Set<string>();
  /** Wait for the next write that includes everything changed so far. */
  private waiters: Waiter[] = [];
  private readonly journalWaiters = new Map<JournalEntry, Waiter>();

  private writing: Promise<void> | undefined;
  private writeScheduled = false;
  private retryTimer: NodeJS.Timeout | undefined;
  private failures = 0;
  private destroying: Promise<void> | undefined;

  constructor(options: AedesPostgresPersistenceOptions) {
    this.repository = new AedesPostgresRepository(options.pool, options.schema ?? 'broker');
    this.onLog = options.onLog ?? (() => undefined);
    this.keepMessageIds = options.keepMessageIds ?? false;
    this.exclusive = options.exclusive ?? true;
  }

  /**
   * Options for `Aedes.createBroker`: this persistence, plus the hooks that journal each authorised
   * QoS 1 PUBLISH from a client before aedes acknowledges it (`authorizePublish` runs before the
   * PUBACK, `published` after the message is queued; both get the same packet object).
   */
  brokerOptions(
    authorizePublish: AedesOptions['authorizePublish'] = allowAllButSys,
  ): Required<Pick<AedesOptions, 'persistence' | 'authorizePublish' | 'published'>> {
    return {
      persistence: this,
      authorizePublish: (client, packet, callback) =>
        authorizePublish(client, packet, (error) => {
          // QoS 2 is already durable before its PUBREC (incomingStorePacket, then a committed enqueue).
          if (error || !client || packet.qos !== 1) return callback(error);
          this.journal(packet as unknown as BrokerPacket).then(
            () => callback(null),
            (failure: unknown) => callback(failure instanceof Error ? failure : new Error(String(failure))),
          );
        }),
      published: (packet, _client, callback) => {
        const entry = this.journalByPacket.get(packet);
        if (entry) {
          entry.resolved = true;
          if (entry.unsettled === 0) {
            // No persistent session wanted it, or every copy was acknowledged already.
            this.dirtyJournal.set(entry.id, entry);
            this.scheduleWrite();
          }
        }
        callback(null);
      },
    };
  }

  /** The broker given to {@link setup} (aedes-persistence's abstract tests read and change its id). */
  get broker(): BrokerIdentity | undefined {
    return this.brokerIdentity;
  }

  /** Resolves once every change made so far has been committed, deferred queue rows included. */
  flush(): Promise<void> {
    this.writeAll = true;
    return this.committed();
  }

  /** Creates the schema when missing and loads what the previous run left; re-queues journalled messages. */
  async setup(broker: BrokerIdentity): Promise<void> {
    this.brokerIdentity = broker;
    await this.repository.ensureSchema();
    if (this.exclusive) this.unlock = await this.repository.lock();
    let state: Awaited<ReturnType<AedesPostgresRepository['load']>>;
    try {
      state = await this.repository.load();
    } catch (error) {
      await this.unlock?.().catch(() => undefined);
      this.unlock = undefined;
      throw error;
    }
    for (const { clientId, topic, record } of state.subscriptions) this.putSubscription(clientId, topic, record);
    for (const packet of state.retained) if (packet.topic !== undefined) this.retained.set(packet.topic, packet);
    let maxId = 0;
    for (const { id, clientId, packet } of state.outgoing) {
      // Message ids belong to a connection that is gone: aedes numbers them afresh on delivery, so
      // none collides with an id it gives a new message. A PUBREL keeps its id (the client knows it).
      if (packet.cmd === 'publish' && !this.keepMessageIds) packet.messageId = undefined;
      this.addQueued({ id, clientId, packet, stored: true, journal: undefined, queuedAt: 0 });
      maxId = Math.max(maxId, id);
    }
    for (const { clientId, messageId, packet } of state.incoming)
      this.incomingOf(clientId, true).set(messageId, packet);
    for (const { clientId, packet } of state.wills) this.wills.set(clientId, packet);
    for (const { id } of state.journal) maxId = Math.max(maxId, id);
    this.nextId = maxId + 1;

    for (const { id, packet } of state.journal) {
      // Numbered by this broker, as aedes numbers a PUBLISH it queues; one copy per subscriber.
      const origin = queuedCopy({ ...packet, brokerId: undefined, brokerCounter: undefined }, broker);
      // Not deferred: the queue rows and the journal row's deletion go in one statement.
      for (const sub of this.trie.match(packet.topic ?? '')) this.enqueue(sub.clientId, queuedCopy(origin));
      this.dirtyJournal.set(id, { id, packet: encodeBrokerPacket(packet), stored: true, resolved: true, unsettled: 0 });
    }
    const queued = [...this.outgoing.values()].reduce((sum, queue) => sum + queue.size, 0);
    if (state.journal.length > 0)
      this.onLog(`re-queued ${state.journal.length} acknowledged message(s) that the previous run had not queued yet`);
    if (queued > 0 || this.subscriptions.size > 0)
      this.onLog(`restored ${this.subscriptions.size} session(s) and ${queued} queued message(s)`);
    await this.committed();
  }

  async storeRetained(packet: BrokerPacket): Promise<void> {
    const copy = { ...packet };
    const topic = copy.topic ?? '';
    if (copy.payload === undefined || copy.payload.length === 0) this.retained.delete(topic);
    else this.retained.set(topic, copy);
    this.dirtyRetained.add(topic);
    await this.committed();
  }

  createRetainedStreamCombi(patterns: string[]): Readable {
    const retained = this.retained;
    return Readable.from(
      (function* () {
        for (const pattern of patterns) yield* matching(retained, pattern);
      })(),
    );
  }

  createRetainedStream(pattern: string): Readable {
    return Readable.from(matching(this.retained, pattern));
  }

  async addSubscriptions(client: ClientRef, subs: SubscriptionInput[]): Promise<void> {
    for (const sub of subs) {
      const record: SubscriptionRecord = {
        qos: sub.qos,
        rh: sub.rh,
        rap: sub.rap,
        nl: sub.nl,
        ...(sub.subscriptionIdentifier !== undefined && { subscriptionIdentifier: sub.subscriptionIdentifier }),
      };
      this.putSubscription(client.id, sub.topic, record);
      this.dirtySubscriptions.set(key(client.id, sub.topic), { clientId: client.id, topic: sub.topic });
    }
    await this.committed();
  }

  async removeSubscriptions(client: ClientRef, topics: string[]): Promise<void> {
    const stored = this.subscriptions.get(client.id);
    if (!stored) return;
    for (const topic of topics) {
      const record = stored.get(topic);
      if (record === undefined) continue;
      if (record.qos > 0) this.trie.remove(topic, { clientId: client.id, topic });
      stored.delete(topic);
      this.dirtySubscriptions.set(key(client.id, topic), { clientId: client.id, topic });
    }
    if (stored.size === 0) this.subscriptions.delete(client.id);
    await this.committed();
  }

  subscriptionsByClient(client: ClientRef): Promise<({ topic: string } & SubscriptionRecord)[]> {
    return Promise.resolve(
      [...(this.subscriptions.get(client.id) ?? [])].map(([topic, record]) => ({ topic, ...record })),
    );
  }

  countOffline(): Promise<{ subsCount: number; clientsCount: number }> {
    return Promise.resolve({ subsCount: this.trie.subscriptionsCount, clientsCount: this.subscriptions.size });
  }

  /** Asked by aedes for every QoS 1/2 PUBLISH: answered from the in-memory trie, never a query. */
  subscriptionsByTopic(topic: string): Promise<ReturnType<QlobberSub['match']>> {
    return Promise.resolve(this.trie.match(topic));
  }

  async cleanSubscriptions(client: ClientRef): Promise<void> {
    const stored = this.subscriptions.get(client.id);
    if (!stored) return;
    for (const [topic, record] of stored) {
      if (record.qos > 0) this.trie.remove(topic, { clientId: client.id, topic });
      this.dirtySubscriptions.set(key(client.id, topic), { clientId: client.id, topic });
    }
    this.subscriptions.delete(client.id);
    await this.committed();
  }

  async outgoingEnqueue(sub: { clientId: string }, packet: BrokerPacket): Promise<void> {
    await this.outgoingEnqueueCombi([sub], packet);
  }

  async outgoingEnqueueCombi(subs: { clientId: string }[], packet: BrokerPacket): Promise<void> {
    // A client's PUBLISH is in the journal already; anything else aedes queues (a will, a retained
    // message for a new subscriber, a QoS 2 message before its PUBREC) is durable once this commits.
    const journal = typeof packet.payload === 'object' ? this.journalByPayload.get(packet.payload) : undefined;
    for (const sub of subs) this.enqueue(sub.clientId, queuedCopy(packet), journal);
    if (!journal && subs.length > 0) await this.committed();
  }

  outgoingUpdate(client: ClientRef, packet: BrokerPacket): Promise<void> {
    const queue = this.outgoing.get(client.id);
    if (queue && packet.brokerId !== undefined) {
      const entry = this.outgoingByOrigin.get(client.id)?.get(originKey(packet))?.[0];
      if (entry) {
        entry.packet.messageId = packet.messageId;
        this.changed(entry);
        return Promise.resolve();
      }
    }
    // aedes-persistence's rule for the rest: a PUBREL takes the place of the PUBLISH with its
    // message id. Never a PUBLISH we do not hold: a packet queued on an earlier connection (or by
    // an earlier broker) can share a message id with a new one, and would silently vanish.
    if (queue && packet.cmd !== 'publish') {
      for (const entry of queue.values()) {
        if (entry.packet.brokerId === packet.brokerId) {
          if (entry.packet.brokerCounter === packet.brokerCounter) {
            entry.packet.messageId = packet.messageId;
            this.changed(entry);
            return Promise.resolve();
          }
        } else if (entry.packet.messageId === packet.messageId) {
          this.unindex(entry);
          entry.packet = packet;
          this.changed(entry);
          return Promise.resolve();
        }
      }
    }
    return Promise.reject(new Error('no such packet'));
  }

  outgoingClearMessageId(client: ClientRef, packet: BrokerPacket): Promise<BrokerPacket | undefined> {
    for (const entry of this.outgoing.get(client.id)?.values() ?? []) {
      if (entry.packet.messageId === packet.messageId) {
        this.removeQueued(entry);
        return Promise.resolve(entry.packet);
      }
    }
    return Promise.resolve(undefined);
  }

  outgoingStream(client: ClientRef): Readable {
    // A copy: aedes clears packets from the queue while it streams them.
    return Readable.from([...(this.outgoing.get(client.id)?.values() ?? [])].map((entry) => entry.packet));
  }

  async incomingStorePacket(client: ClientRef, packet: BrokerPacket): Promise<void> {
    const messageId = packet.messageId ?? 0;
    const copy = queuedCopy(packet);
    copy.messageId = packet.messageId;
    this.incomingOf(client.id, true).set(messageId, copy);
    this.dirtyIncoming.set(key(client.id, messageId), { clientId: client.id, messageId });
    await this.committed();
  }

  incomingGetPacket(client: ClientRef, packet: BrokerPacket): Promise<BrokerPacket> {
    const stored = this.incomingOf(client.id, false)?.get(packet.messageId ?? 0);
    return stored ? Promise.resolve(stored) : Promise.reject(new Error('no such packet'));
  }

  async incomingDelPacket(client: ClientRef, packet: BrokerPacket): Promise<void> {
    const messageId = packet.messageId ?? 0;
    const store = this.incomingOf(client.id, false);
    if (!store?.delete(messageId)) throw new Error('no such packet');
    this.dirtyIncoming.set(key(client.id, messageId), { clientId: client.id, messageId });
    await this.committed();
  }

  async cleanIncoming(client: ClientRef): Promise<void> {
    const store = this.incomingOf(client.id, false);
    if (!store) return;
    for (const messageId of store.keys())
      this.dirtyIncoming.set(key(client.id, messageId), { clientId: client.id, messageId });
    this.incoming.delete(client.id);
    await this.committed();
  }

  async putWill(client: ClientRef, packet: BrokerPacket): Promise<void> {
    packet.brokerId = this.brokerIdentity?.id;
    packet.clientId = client.id;
    this.wills.set(client.id, packet);
    this.dirtyWills.add(client.id);
    await this.committed();
  }

  getWill(client: ClientRef): Promise<BrokerPacket | undefined> {
    return Promise.resolve(this.wills.get(client.id));
  }

  async delWill(client: ClientRef): Promise<BrokerPacket | undefined> {
    const will = this.wills.get(client.id);
    if (will === undefined) return undefined;
    this.wills.delete(client.id);
    this.dirtyWills.add(client.id);
    await this.committed();
    return will;
  }

  streamWill(brokers: Brokers = {}): Readable {
    return Readable.from([...this.wills.values()].filter((will) => !brokers[will.brokerId ?? '']));
  }

  getClientList(topic: string): Readable {
    return Readable.from(
      [...this.subscriptions].filter(([, stored]) => stored.has(topic)).map(([clientId]) => clientId),
    );
  }

  /** Writes what is still pending and stops; rejects when that last write fails (then it is lost). */
  destroy(): Promise<void> {
    this.destroying ??= (async () => {
      try {
        await this.writing;
        clearTimeout(this.retryTimer);
        clearTimeout(this.deferTimer);
        this.retryTimer = this.deferTimer = undefined;
        // Several statements when a burst is bigger than one may carry.
        for (;;) {
          const batch = this.snapshot(true);
          if (isEmptyBrokerChange(batch.changes)) {
            batch.committed();
            return;
          }
          try {
            await this.repository.write(batch.changes);
            batch.committed();
          } catch (error) {
            const failure = new Error(`the broker's last changes were not saved: ${errorText(error)}`);
            for (const waiter of [...batch.waiters, ...batch.journal.map((e) => this.journalWaiters.get(e))])
              waiter?.reject(failure);
            throw failure;
          }
        }
      } finally {
        await this.unlock?.().catch(() => undefined);
        this.unlock = undefined;
      }
    })();
    return this.destroying;
  }

  // --- memory state -------------------------------------------------------------------------

  private putSubscription(clientId: string, topic: string, record: SubscriptionRecord): void {
    let stored = this.subscriptions.get(clientId);
    if (!stored) {
      stored = new Map();
      this.subscriptions.set(clientId, stored);
    }
    const previous = stored.get(topic);
    if (record.qos > 0)
      this.trie.add(topic, { clientId, topic, qos: record.qos, rh: record.rh, rap: record.rap, nl: record.nl });
    else if (previous !== undefined && previous.qos > 0) this.trie.remove(topic, { clientId, topic });
    stored.set(topic, record);
  }

  private enqueue(clientId: string, packet: BrokerPacket, journal?: JournalEntry): void {
    const entry: QueuedPacket = {
      id: this.nextId++,
      clientId,
      packet,
      stored: false,
      journal,
      queuedAt: performance.now(),
    };
    if (journal) journal.unsettled += 1;
    this.addQueued(entry);
    this.dirtyOutgoing.add(entry.id);
    this.scheduleWrite();
  }

  private addQueued(entry: QueuedPacket): void {
    let queue = this.outgoing.get(entry.clientId);
    if (!queue) {
      queue = new Map();
      this.outgoing.set(entry.clientId, queue);
    }
    queue.set(entry.id, entry);
    this.outgoingById.set(entry.id, entry);
    if (entry.packet.brokerId !== undefined) {
      let byOrigin = this.outgoingByOrigin.get(entry.clientId);
      if (!byOrigin) {
        byOrigin = new Map();
        this.outgoingByOrigin.set(entry.clientId, byOrigin);
      }
      const origin = originKey(entry.packet);
      const same = byOrigin.get(origin);
      if (same) same.push(entry);
      else byOrigin.set(origin, [entry]);
    }
  }

  private removeQueued(entry: QueuedPacket): void {
    const queue = this.outgoing.get(entry.clientId);
    queue?.delete(entry.id);
    this.unindex(entry);
    if (queue?.size === 0) {
      this.outgoing.delete(entry.clientId);
      this.outgoingByOrigin.delete(entry.clientId);
    }
    this.outgoingById.delete(entry.id);
    if (entry.stored) {
      this.dirtyOutgoing.add(entry.id);
      this.scheduleWrite();
    } else {
      // Acknowledged before its row was written: it never will be.
      this.dirtyOutgoing.delete(entry.id);
      this.deferredOutgoing.delete(entry.id);
      this.settle(entry);
    }
  }

  /** The queued copy no longer needs its journal row (written, or acknowledged): maybe the row can go. */
  private settle(entry: QueuedPacket): void {
    const journal = entry.journal;
    if (!journal) return;
    entry.journal = undefined;
    journal.unsettled -= 1;
    if (journal.resolved && journal.unsettled === 0) {
      this.dirtyJournal.set(journal.id, journal);
      this.scheduleWrite();
    }
  }

  /** Drops the entry from the origin index (before its packet changes or it leaves the queue). */
  private unindex(entry: QueuedPacket): void {
    const byOrigin = this.outgoingByOrigin.get(entry.clientId);
    if (entry.packet.brokerId === undefined || !byOrigin) return;
    const origin = originKey(entry.packet);
    const same = byOrigin.get(origin);
    if (!same) return;
    // Almost always one entry: the same origin twice means a client subscribed twice to a topic.
    const index = same.indexOf(entry);
    if (index >= 0) same.splice(index, 1);
    if (same.length === 0) byOrigin.delete(origin);
  }

  private changed(entry: QueuedPacket): void {
    this.dirtyOutgoing.add(entry.id);
    this.scheduleWrite();
  }

  private incomingOf(clientId: string, create: true): Map<number, BrokerPacket>;
  private incomingOf(clientId: string, create: false): Map<number, BrokerPacket> | undefined;
  private incomingOf(clientId: string, create: boolean): Map<number, BrokerPacket> | undefined {
    let store = this.incoming.get(clientId);
    if (!store && create) {
      store = new Map();
      this.incoming.set(clientId, store);
    }
    return store;
  }

  private journal(packet: BrokerPacket): Promise<void> {
    const entry: JournalEntry = {
      id: this.nextId++,
      packet: encodeBrokerPacket({
        cmd: 'publish',
        topic: packet.topic,
        payload: packet.payload,
        qos: 1,
        retain: packet.retain,
      }),
      stored: false,
      resolved: false,
      unsettled: 0,
    };
    this.journalByPacket.set(packet, entry);
    // An empty payload may be a shared Buffer: such a PUBLISH is queued with a commit of its own.
    if (Buffer.isBuffer(packet.payload) && packet.payload.length > 0) this.journalByPayload.set(packet.payload, entry);
    this.dirtyJournal.set(entry.id, entry);
    return new Promise((resolve, reject) => {
      this.journalWaiters.set(entry, { resolve, reject });
      this.scheduleWrite();
    });
  }

  // --- group commit -------------------------------------------------------------------------

  /** Resolves once a write that includes every change made so far has committed. */
  private committed(): Promise<void> {
    if (this.destroying) return Promise.reject(new Error('the broker persistence is closed'));
    return new Promise((resolve, reject) => {
      this.waiters.push({ resolve, reject });
      this.scheduleWrite();
    });
  }

  private scheduleWrite(): void {
    if (this.writing || this.writeScheduled || this.retryTimer || this.destroying) return;
    this.writeScheduled = true;
    // One turn of the event loop gathers what the same socket reads changed.
    setImmediate(() => {
      this.writeScheduled = false;
      // One write at a time, in order: a running one schedules the next when it ends.
      if (this.writing || this.destroying) return;
      this.writing = this.writeOnce().finally(() => {
        this.writing = undefined;
        if (this.hasPendingWrites()) this.scheduleWrite();
        else this.scheduleDeferred();
      });
    });
  }

  /** Wakes the writer when the oldest deferred change is due. */
  private scheduleDeferred(): void {
    if (this.deferTimer || this.destroying) return;
    const next = this.deferredOutgoing.values().next();
    if (next.done) return;
    const oldest = this.outgoingById.get(next.value)?.queuedAt ?? 0;
    this.deferTimer = setTimeout(
      () => {
        this.deferTimer = undefined;
        this.scheduleWrite();
      },
      Math.max(1, oldest + QUEUE_WRITE_DELAY_MS - performance.now()),
    );
    this.deferTimer.unref();
  }

  private hasPendingWrites(): boolean {
    return (
      this.waiters.length > 0 ||
      this.dirtyOutgoing.size > 0 ||
      this.dirtyJournal.size > 0 ||
      this.dirtySubscriptions.size > 0 ||
      this.dirtyRetained.size > 0 ||
      this.dirtyIncoming.size > 0 ||
      this.dirtyWills.size > 0
    );
  }

  private async writeOnce(): Promise<void> {
    const all = this.writeAll;
    this.writeAll = false;
    const batch = this.snapshot(all);
    if (isEmptyBrokerChange(batch.changes)) {
      batch.committed();
      return;
    }
    try {
      await this.repository.write(batch.changes);
      if (this.failures > 0) this.onLog(`broker persistence: writing again after ${this.failures} failed attempt(s)`);
      this.failures = 0;
      batch.committed();
    } catch (error) {
      this.failures += 1;
      batch.failed(error instanceof Error ? error : new Error(String(error)));
      if (all) this.writeAll = true;
      const delay = Math.min(RETRY_MAX_MS, RETRY_MIN_MS * 2 ** (this.failures - 1));
      this.onLog(`broker persistence: write failed (${errorText(error)}); retrying in ${delay} ms`);
      this.retryTimer = setTimeout(() => {
        this.retryTimer = undefined;
        this.scheduleWrite();
      }, delay);
      this.retryTimer.unref();
    }
  }

  /**
   * Takes every pending change as a write, in its current state (deferred ones once due, or all of
   * them with `all`). On failure the changes are marked pending again (and written in their state
   * then); journal entries are dropped and their PUBLISH refused instead, so the device keeps the
   * message and sends it again.
   */
  private snapshot(all: boolean): {
    changes: BrokerChanges;
    waiters: Waiter[];
    journal: JournalEntry[];
    committed: () => void;
    failed: (error: Error) => void;
  } {
    const changes = noBrokerChanges();
    const waiters = this.waiters;
    this.waiters = [];
    const dueBefore = all ? Infinity : performance.now() - QUEUE_WRITE_DELAY_MS;

    let budget = MAX_WRITE_BYTES;
    /** Whether `packet` still fits in this statement (the first one always does). */
    const fits = (packet: EncodedPacket) => {
      if (budget <= 0) return false;
      budget -= packet.json.length + (packet.payload?.length ?? 0);
      return true;
    };

    // Journal rows first: their PUBLISHes wait for this commit to be acknowledged.
    const journalInserted: JournalEntry[] = [];
    for (const entry of this.dirtyJournal.values()) {
      if (entry.stored || entry.resolved) continue;
      if (!fits(entry.packet)) break;
      changes.journalInserts.push({ id: entry.id, packet: entry.packet });
      entry.stored = true;
      journalInserted.push(entry);
      this.dirtyJournal.delete(entry.id);
    }

    const insertedQueued = new Map<QueuedPacket, JournalEntry | undefined>();
    const outgoingIds = [...this.dirtyOutgoing];
    this.dirtyOutgoing.clear();
    const insert = (entry: QueuedPacket): boolean => {
      const packet = encodeBrokerPacket(entry.packet);
      if (!fits(packet)) return false;
      changes.outgoingInserts.push({ id: entry.id, clientId: entry.clientId, packet });
      entry.stored = true;
      insertedQueued.set(entry, entry.journal);
      // Its journal row may go in this same statement (the journal part below runs after this one).
      this.settle(entry);
      return true;
    };
    // Due deferred rows first: the set is in queueing order, so the first one not due ends the run.
    for (const id of this.deferredOutgoing) {
      const entry = this.outgoingById.get(id);
      if (entry && entry.queuedAt >= dueBefore) break;
      if (entry && !entry.stored && !insert(entry)) break;
      this.deferredOutgoing.delete(id);
    }
    for (const id of outgoingIds) {
      const entry = this.outgoingById.get(id);
      if (!entry) changes.outgoingDeletes.push(id);
      else if (entry.stored) {
        if (insertedQueued.has(entry)) continue;
        const packet = encodeBrokerPacket(entry.packet);
        if (fits(packet)) changes.outgoingUpdates.push({ id, packet });
        else this.dirtyOutgoing.add(id);
      } else if (entry.journal && entry.queuedAt >= dueBefore) this.deferredOutgoing.add(id);
      else if (!insert(entry)) this.dirtyOutgoing.add(id);
    }

    const journalDeleted: JournalEntry[] = [];
    for (const entry of this.dirtyJournal.values()) {
      if (!entry.stored && !entry.resolved) continue; // did not fit: the next statement
      this.dirtyJournal.delete(entry.id);
      // Every queued copy is in this statement or an earlier one, or acknowledged. Otherwise its
      // last settle() marks it again.
      if (entry.stored && entry.resolved && entry.unsettled === 0) {
        changes.journalDeletes.push(entry.id);
        journalDeleted.push(entry);
      }
    }

    const subscriptionKeys = [...this.dirtySubscriptions.values()];
    this.dirtySubscriptions.clear();
    for (const { clientId, topic } of subscriptionKeys) {
      const record = this.subscriptions.get(clientId)?.get(topic);
      if (record) changes.subscriptionUpserts.push({ clientId, topic, record });
      else changes.subscriptionDeletes.push({ clientId, topic });
    }
    const retainedTopics = [...this.dirtyRetained];
    this.dirtyRetained.clear();
    for (const topic of retainedTopics) {
      const packet = this.retained.get(topic);
      if (packet) changes.retainedUpserts.push({ topic, packet: encodeBrokerPacket(packet) });
      else changes.retainedDeletes.push(topic);
    }
    const incomingKeys = [...this.dirtyIncoming.values()];
    this.dirtyIncoming.clear();
    for (const { clientId, messageId } of incomingKeys) {
      const packet = this.incoming.get(clientId)?.get(messageId);
      if (packet) changes.incomingUpserts.push({ clientId, messageId, packet: encodeBrokerPacket(packet) });
      else changes.incomingDeletes.push({ clientId, messageId });
    }
    const willClients = [...this.dirtyWills];
    this.dirtyWills.clear();
    for (const clientId of willClients) {
      const will = this.wills.get(clientId);
      if (will) changes.willUpserts.push({ clientId, packet: encodeBrokerPacket(will) });
      else changes.willDeletes.push(clientId);
    }

    return {
      changes,
      waiters,
      journal: journalInserted,
      committed: () => {
        for (const waiter of waiters) waiter.resolve();
        for (const entry of journalInserted) {
          this.journalWaiters.get(entry)?.resolve();
          this.journalWaiters.delete(entry);
        }
      },
      failed: (error) => {
        for (const [entry, journal] of insertedQueued) {
          entry.stored = false;
          this.dirtyOutgoing.add(entry.id);
          // Unwritten again: its journal row must stay until it is.
          if (journal && entry.journal === undefined && this.outgoingById.has(entry.id)) {
            entry.journal = journal;
            journal.unsettled += 1;
          }
        }
        for (const id of outgoingIds) this.dirtyOutgoing.add(id);
        for (const entry of journalInserted) {
          entry.stored = false;
          this.journalWaiters.get(entry)?.reject(new Error(`the message was not saved: ${error.message}`));
          this.journalWaiters.delete(entry);
        }
        for (const entry of journalDeleted) this.dirtyJournal.set(entry.id, entry);
        for (const item of subscriptionKeys) this.dirtySubscriptions.set(key(item.clientId, item.topic), item);
        for (const topic of retainedTopics) this.dirtyRetained.add(topic);
        for (const item of incomingKeys) this.dirtyIncoming.set(key(item.clientId, item.messageId), item);
        for (const clientId of willClients) this.dirtyWills.add(clientId);
        // Those waiting for session state wait for the retry.
        this.waiters.unshift(...waiters);
      },
    };
  }
}

/** aedes' own default: anyone may publish anywhere but under `$SYS/`. */
function allowAllButSys(...[, packet, callback]: Parameters<NonNullable<AedesOptions['authorizePublish']>>): void {
  callback(packet.topic.startsWith('$SYS/') ? new Error('$SYS/ topic is reserved') : null);
}

function* matching(retained: Map<string, BrokerPacket>, pattern: string): Generator<BrokerPacket> {
  const matcher = new QlobberTrue(QLOBBER_OPTIONS);
  matcher.add(pattern);
  for (const [topic, packet] of retained) if (matcher.test(topic)) yield packet;
}
