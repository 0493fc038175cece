import { noBrokerChanges, type BrokerChanges, type BrokerPacket, type StoredBrokerState } from '@lantern/storage';
import { IncomingStore } from './incoming.store.js';
import { OutgoingQueue, QUEUE_WRITE_DELAY_MS } from './outgoing.queue.js';
import { queuedCopy, type BrokerIdentity } from './persistence-helpers.js';
import { PublishJournal, type JournalEntry } from './publish-journal.js';
import { RetainedStore } from './retained.store.js';
import { RowIds } from './row-ids.js';
import { SubscriptionStore } from './subscription.store.js';
import { WillStore } from './will.store.js';
import { WriteBudget } from './write-budget.js';

/** What one write takes from the broker's state, with what to do once it committed or failed. */
export interface StateWrite {
  readonly changes: BrokerChanges;
  /** The journal entries it inserts (their PUBLISHes wait for it). */
  readonly journal: JournalEntry[];
  readonly committed: () => void;
  /** Marks the changes pending again (written in their state then); refuses the journalled PUBLISHes. */
  readonly failed: (error: Error) => void;
  /** Refuses the journalled PUBLISHes of a last write that failed (nothing is pending again). */
  readonly rejectJournal: (failure: Error) => void;
}

/** What {@link BrokerState.restore} put back. */
export interface RestoredBrokerState {
  /** Journalled messages queued again. */
  readonly requeued: number;
  readonly sessions: number;
  readonly queued: number;
}

/**
 * The broker's whole state in memory, one store per kind (subscriptions, retained messages,
 * outgoing queues, the publish journal, incoming QoS 2 packets, wills), put back from what a
 * previous run stored, and taken as one write of what changed since the last one.
 */
export class BrokerState {
  readonly subscriptions = new SubscriptionStore();
  readonly retained = new RetainedStore();
  readonly journal: PublishJournal;
  readonly outgoing: OutgoingQueue;
  readonly incoming = new IncomingStore();
  readonly wills = new WillStore();
  private readonly ids = new RowIds();

  /** @param onChange called when the journal or the queues have something to write */
  constructor(onChange: () => void) {
    this.journal = new PublishJournal(this.ids, onChange);
    this.outgoing = new OutgoingQueue(this.ids, this.journal, onChange);
  }

  /**
   * Puts back what the previous run left, numbered by `broker`, and re-queues the journalled
   * messages it had not queued: their queue rows and the journal rows' deletion are pending.
   */
  restore(state: StoredBrokerState, broker: BrokerIdentity, keepMessageIds: boolean): RestoredBrokerState {
    for (const { clientId, topic, record } of state.subscriptions) this.subscriptions.restore(clientId, topic, record);
    for (const packet of state.retained) this.retained.restore(packet);
    let maxId = 0;
    for (const { id, clientId, packet } of state.outgoing) {
      // Message ids belong to a connection that is gone: aedes numbers them afresh on delivery, so
      // none collides with an id it gives a new message. A PUBREL keeps its id (the client knows it).
      if (packet.cmd === 'publish' && !keepMessageIds) packet.messageId = undefined;
      this.outgoing.restore(id, clientId, packet);
      maxId = Math.max(maxId, id);
    }
    for (const { clientId, messageId, packet } of state.incoming) this.incoming.restore(clientId, messageId, packet);
    for (const { clientId, packet } of state.wills) this.wills.restore(clientId, packet);
    for (const { id } of state.journal) maxId = Math.max(maxId, id);
    this.ids.continueAfter(maxId);

    for (const { id, packet } of state.journal) {
      // Numbered by this broker, as aedes numbers a PUBLISH it queues; one copy per subscriber.
      const origin = queuedCopy({ ...packet, brokerId: undefined, brokerCounter: undefined }, broker);
      // Not deferred: the queue rows and the journal row's deletion go in one statement.
      for (const sub of this.subscriptions.match(packet.topic ?? ''))
        this.outgoing.enqueue(sub.clientId, queuedCopy(origin));
      this.journal.restore(id, packet);
    }
    return {
      requeued: state.journal.length,
      sessions: this.subscriptions.clientCount,
      queued: this.outgoing.size,
    };
  }

  /** Whether a change waits to be written now (deferred queue rows wait for their time). */
  hasPending(): boolean {
    return (
      this.outgoing.hasPending() ||
      this.journal.hasPending() ||
      this.subscriptions.hasPending() ||
      this.retained.hasPending() ||
      this.incoming.hasPending() ||
      this.wills.hasPending()
    );
  }

  /**
   * Takes every pending change as a write, in its current state (deferred ones once due, or all of
   * them with `all`), within one statement's budget. On failure the changes are marked pending
   * again (and written in their state then); journal entries are dropped and their PUBLISH refused
   * instead, so the device keeps the message and sends it again.
   */
  take(all: boolean): StateWrite {
    const changes = noBrokerChanges();
    const dueBefore = all ? Infinity : performance.now() - QUEUE_WRITE_DELAY_MS;
    const budget = new WriteBudget();
    // Journal rows first: their PUBLISHes wait for this commit to be acknowledged.
    const journalInserted = this.journal.takeInserts(changes, budget);
    const queueFailed = this.outgoing.take(changes, budget, dueBefore);
    const journalDeleted = this.journal.takeDeletes(changes);
    const othersFailed = [
      this.subscriptions.take(changes),
      this.retained.take(changes),
      this.incoming.take(changes),
      this.wills.take(changes),
    ];
    return {
      changes,
      journal: journalInserted,
      committed: () => this.journal.committed(journalInserted),
      failed: (error) => {
        queueFailed();
        this.journal.failed(journalInserted, journalDeleted, error);
        for (const markPending of othersFailed) markPending();
      },
      rejectJournal: (failure) => this.journal.reject(journalInserted, failure),
    };
  }

  /** A packet's journal entry, when it is a queued copy of a journalled PUBLISH. */
  journalOf(payload: BrokerPacket['payload']): JournalEntry | undefined {
    return typeof payload === 'object' ? this.journal.forPayload(payload) : undefined;
  }
}
