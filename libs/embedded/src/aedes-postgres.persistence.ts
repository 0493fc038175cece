import { Readable } from 'node:stream';
import type { AedesOptions, Brokers, Client } from 'aedes';
import type pg from 'pg';
import { AedesPostgresRepository, type BrokerPacket, type SubscriptionRecord } from '@lantern/storage';
import { BrokerState } from './persistence/broker-state.js';
import { GroupCommit } from './persistence/group-commit.js';
import { queuedCopy, type BrokerIdentity } from './persistence/persistence-helpers.js';
import type { SubscriptionInput } from './persistence/subscription.store.js';

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

type ClientRef = Pick<Client, 'id'>;

/**
 * aedes persistence on PostgreSQL (the embedded one, or any): sessions, subscriptions, retained
 * messages, wills, QoS 2 state and queued QoS 1/2 messages survive a restart of the broker.
 *
 * Reads are answered from memory, exactly as aedes-persistence's memory store answers them (it
 * passes that package's abstract test suite): the subscription trie is asked once per PUBLISH and
 * must not cost a query. Every change is also written to PostgreSQL (tables in their own schema,
 * loaded back by `setup`). Writes are group-committed: whatever changed while the previous write
 * was in flight goes out as one statement, and a key changed several times is written once in its
 * latest state. The queue row of a journalled PUBLISH waits QUEUE_WRITE_DELAY_MS first:
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
 *
 * This class is the face aedes sees: the state lives in {@link BrokerState} (one store per kind,
 * under ./persistence/), its writes in {@link GroupCommit}.
 */
export class AedesPostgresPersistence {
  private readonly repository: AedesPostgresRepository;
  private readonly state: BrokerState;
  private readonly commits: GroupCommit;
  private readonly onLog: (line: string) => void;
  private readonly keepMessageIds: boolean;
  private readonly exclusive: boolean;
  private brokerIdentity: BrokerIdentity | undefined;
  private unlock: (() => Promise<void>) | undefined;
  private destroying: Promise<void> | undefined;

  constructor(options: AedesPostgresPersistenceOptions) {
    this.repository = new AedesPostgresRepository(options.pool, options.schema ?? 'broker');
    this.onLog = options.onLog ?? (() => undefined);
    this.keepMessageIds = options.keepMessageIds ?? false;
    this.exclusive = options.exclusive ?? true;
    this.state = new BrokerState(() => this.commits.scheduleWrite());
    this.commits = new GroupCommit(this.state, this.repository, this.onLog);
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
          this.state.journal.record(packet as unknown as BrokerPacket).then(
            () => callback(null),
            (failure: unknown) => callback(failure instanceof Error ? failure : new Error(String(failure))),
          );
        }),
      published: (packet, _client, callback) => {
        this.state.journal.published(packet);
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
    return this.commits.flush();
  }

  /** Creates the schema when missing and loads what the previous run left; re-queues journalled messages. */
  async setup(broker: BrokerIdentity): Promise<void> {
    this.brokerIdentity = broker;
    await this.repository.ensureSchema();
    if (this.exclusive) this.unlock = await this.repository.lock();
    let stored: Awaited<ReturnType<AedesPostgresRepository['load']>>;
    try {
      stored = await this.repository.load();
    } catch (error) {
      await this.unlock?.().catch(() => undefined);
      this.unlock = undefined;
      throw error;
    }
    const { requeued, sessions, queued } = this.state.restore(stored, broker, this.keepMessageIds);
    if (requeued > 0)
      this.onLog(`re-queued ${requeued} acknowledged message(s) that the previous run had not queued yet`);
    if (queued > 0 || sessions > 0) this.onLog(`restored ${sessions} session(s) and ${queued} queued message(s)`);
    await this.commits.committed();
  }

  async storeRetained(packet: BrokerPacket): Promise<void> {
    this.state.retained.store(packet);
    await this.commits.committed();
  }

  createRetainedStreamCombi(patterns: string[]): Readable {
    return this.state.retained.streamAll(patterns);
  }

  createRetainedStream(pattern: string): Readable {
    return this.state.retained.stream(pattern);
  }

  async addSubscriptions(client: ClientRef, subs: SubscriptionInput[]): Promise<void> {
    this.state.subscriptions.add(client.id, subs);
    await this.commits.committed();
  }

  async removeSubscriptions(client: ClientRef, topics: string[]): Promise<void> {
    if (this.state.subscriptions.remove(client.id, topics)) await this.commits.committed();
  }

  subscriptionsByClient(client: ClientRef): Promise<({ topic: string } & SubscriptionRecord)[]> {
    return Promise.resolve(this.state.subscriptions.ofClient(client.id));
  }

  countOffline(): Promise<{ subsCount: number; clientsCount: number }> {
    const { subscriptions } = this.state;
    return Promise.resolve({ subsCount: subscriptions.subscriptionCount, clientsCount: subscriptions.clientCount });
  }

  /** Asked by aedes for every QoS 1/2 PUBLISH: answered from the in-memory trie, never a query. */
  subscriptionsByTopic(topic: string): Promise<ReturnType<BrokerState['subscriptions']['match']>> {
    return Promise.resolve(this.state.subscriptions.match(topic));
  }

  async cleanSubscriptions(client: ClientRef): Promise<void> {
    if (this.state.subscriptions.clean(client.id)) await this.commits.committed();
  }

  async outgoingEnqueue(sub: { clientId: string }, packet: BrokerPacket): Promise<void> {
    await this.outgoingEnqueueCombi([sub], packet);
  }

  async outgoingEnqueueCombi(subs: { clientId: string }[], packet: BrokerPacket): Promise<void> {
    // A client's PUBLISH is in the journal already; anything else aedes queues (a will, a retained
    // message for a new subscriber, a QoS 2 message before its PUBREC) is durable once this commits.
    const journal = this.state.journalOf(packet.payload);
    for (const sub of subs) this.state.outgoing.enqueue(sub.clientId, queuedCopy(packet), journal);
    if (!journal && subs.length > 0) await this.commits.committed();
  }

  outgoingUpdate(client: ClientRef, packet: BrokerPacket): Promise<void> {
    return this.state.outgoing.update(client.id, packet)
      ? Promise.resolve()
      : Promise.reject(new Error('no such packet'));
  }

  outgoingClearMessageId(client: ClientRef, packet: BrokerPacket): Promise<BrokerPacket | undefined> {
    return Promise.resolve(this.state.outgoing.clearMessageId(client.id, packet.messageId));
  }

  outgoingStream(client: ClientRef): Readable {
    return Readable.from(this.state.outgoing.packetsOf(client.id));
  }

  async incomingStorePacket(client: ClientRef, packet: BrokerPacket): Promise<void> {
    this.state.incoming.store(client.id, packet);
    await this.commits.committed();
  }

  incomingGetPacket(client: ClientRef, packet: BrokerPacket): Promise<BrokerPacket> {
    const stored = this.state.incoming.get(client.id, packet.messageId ?? 0);
    return stored ? Promise.resolve(stored) : Promise.reject(new Error('no such packet'));
  }

  async incomingDelPacket(client: ClientRef, packet: BrokerPacket): Promise<void> {
    if (!this.state.incoming.delete(client.id, packet.messageId ?? 0)) throw new Error('no such packet');
    await this.commits.committed();
  }

  async cleanIncoming(client: ClientRef): Promise<void> {
    if (this.state.incoming.clean(client.id)) await this.commits.committed();
  }

  async putWill(client: ClientRef, packet: BrokerPacket): Promise<void> {
    this.state.wills.put(client.id, packet, this.brokerIdentity?.id);
    await this.commits.committed();
  }

  getWill(client: ClientRef): Promise<BrokerPacket | undefined> {
    return Promise.resolve(this.state.wills.get(client.id));
  }

  async delWill(client: ClientRef): Promise<BrokerPacket | undefined> {
    const will = this.state.wills.delete(client.id);
    if (will === undefined) return undefined;
    await this.commits.committed();
    return will;
  }

  streamWill(brokers: Brokers = {}): Readable {
    return this.state.wills.stream(brokers);
  }

  getClientList(topic: string): Readable {
    return Readable.from(this.state.subscriptions.clientsOf(topic));
  }

  /** Writes what is still pending and stops; rejects when that last write fails (then it is lost). */
  destroy(): Promise<void> {
    this.destroying ??= (async () => {
      try {
        await this.commits.close();
      } finally {
        await this.unlock?.().catch(() => undefined);
        this.unlock = undefined;
      }
    })();
    return this.destroying;
  }
}

/** aedes' own default: anyone may publish anywhere but under `$SYS/`. */
function allowAllButSys(...[, packet, callback]: Parameters<NonNullable<AedesOptions['authorizePublish']>>): void {
  callback(packet.topic.startsWith('$SYS/') ? new Error('$SYS/ topic is reserved') : null);
}
