import { encodeBrokerPacket, type BrokerChanges, type BrokerPacket } from '@lantern/storage';
import { originKey } from './persistence-helpers.js';
import type { JournalEntry, PublishJournal } from './publish-journal.js';
import type { RowIds } from './row-ids.js';
import type { WriteBudget } from './write-budget.js';

/**
 * How long the queue row of a journalled PUBLISH waits before it is written. The ingest
 * acknowledges most messages sooner: those cost the journal insert and delete only, never an
 * outgoing row. A crash meanwhile loses nothing: the journal re-queues the message.
 */
export const QUEUE_WRITE_DELAY_MS = 250;

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
 * The persistent sessions' outgoing queues in memory: per client, the QoS 1/2 packets waiting for
 * delivery or acknowledgement, in queue order, found by row id and by origin (how aedes names a
 * PUBLISH). Decides when each row is written: at once, or after {@link QUEUE_WRITE_DELAY_MS} for a
 * copy of a journalled PUBLISH, and tells the journal when a copy no longer needs its row.
 */
export class OutgoingQueue {
  /** Per client, queued packets by row id (a Map keeps insertion order and deletes in O(1)). */
  private readonly byClient = new Map<string, Map<number, QueuedPacket>>();
  /** Per client, the queued packets of each (broker id, broker counter), in queue order: how aedes names a PUBLISH. */
  private readonly byOrigin = new Map<string, Map<string, QueuedPacket[]>>();
  private readonly byId = new Map<number, QueuedPacket>();
  private readonly dirty = new Set<number>();
  /** Queue rows not written yet on purpose (see QUEUE_WRITE_DELAY_MS), oldest first. */
  private readonly deferred = new Set<number>();

  constructor(
    private readonly ids: RowIds,
    private readonly journal: PublishJournal,
    /** Called when something is to be written. */
    private readonly onChange: () => void,
  ) {}

  /** Packets queued, for every client. */
  get size(): number {
    return [...this.byClient.values()].reduce((sum, queue) => sum + queue.size, 0);
  }

  /** Puts back a row a previous run stored (not written again). */
  restore(id: number, clientId: string, packet: BrokerPacket): void {
    this.add({ id, clientId, packet, stored: true, journal: undefined, queuedAt: 0 });
  }

  /** Queues a packet for the client; a copy of a journalled PUBLISH holds its journal row until written. */
  enqueue(clientId: string, packet: BrokerPacket, journal?: JournalEntry): void {
    const entry: QueuedPacket = {
      id: this.ids.take(),
      clientId,
      packet,
      stored: false,
      journal,
      queuedAt: performance.now(),
    };
    if (journal) this.journal.hold(journal);
    this.add(entry);
    this.dirty.add(entry.id);
    this.onChange();
  }

  /** aedes' update of a queued packet (its message id, or a PUBREL in its place); false when none matches. */
  update(clientId: string, packet: BrokerPacket): boolean {
    const queue = this.byClient.get(clientId);
    if (queue && packet.brokerId !== undefined) {
      const entry = this.byOrigin.get(clientId)?.get(originKey(packet))?.[0];
      if (entry) {
        entry.packet.messageId = packet.messageId;
        this.changed(entry);
        return true;
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
            return true;
          }
        } else if (entry.packet.messageId === packet.messageId) {
          this.unindex(entry);
          entry.packet = packet;
          this.changed(entry);
          return true;
        }
      }
    }
    return false;
  }

  /** Removes the client's first packet with this message id (acknowledged); returns it, if any. */
  clearMessageId(clientId: string, messageId: number | undefined): BrokerPacket | undefined {
    for (const entry of this.byClient.get(clientId)?.values() ?? []) {
      if (entry.packet.messageId === messageId) {
        this.remove(entry);
        return entry.packet;
      }
    }
    return undefined;
  }

  /** The client's queued packets, in queue order (a copy: aedes clears packets while it streams them). */
  packetsOf(clientId: string): BrokerPacket[] {
    return [...(this.byClient.get(clientId)?.values() ?? [])].map((entry) => entry.packet);
  }

  /** Changes to write now (deferred rows wait for {@link nextDeferredDueAt}). */
  hasPending(): boolean {
    return this.dirty.size > 0;
  }

  /** When the oldest deferred row is due (`performance.now()` time); undefined when none waits. */
  nextDeferredDueAt(): number | undefined {
    const next = this.deferred.values().next();
    if (next.done) return undefined;
    return (this.byId.get(next.value)?.queuedAt ?? 0) + QUEUE_WRITE_DELAY_MS;
  }

  /**
   * Puts the queue's changes in `changes`, as many as fit: deferred rows queued before `dueBefore`
   * first, then every other change in its current state. Rows written release their journal entry
   * in the same statement. The returned function marks them all pending again (a failed write).
   */
  take(changes: BrokerChanges, budget: WriteBudget, dueBefore: number): () => void {
    const inserted = new Map<QueuedPacket, JournalEntry | undefined>();
    const ids = [...this.dirty];
    this.dirty.clear();
    const insert = (entry: QueuedPacket): boolean => {
      const packet = encodeBrokerPacket(entry.packet);
      if (!budget.fits(packet)) return false;
      changes.outgoingInserts.push({ id: entry.id, clientId: entry.clientId, packet });
      entry.stored = true;
      inserted.set(entry, entry.journal);
      // Its journal row may go in this same statement (the journal part runs after this one).
      this.settle(entry);
      return true;
    };
    // Due deferred rows first: the set is in queueing order, so the first one not due ends the run.
    for (const id of this.deferred) {
      const entry = this.byId.get(id);
      if (entry && entry.queuedAt >= dueBefore) break;
      if (entry && !entry.stored && !insert(entry)) break;
      this.deferred.delete(id);
    }
    for (const id of ids) {
      const entry = this.byId.get(id);
      if (!entry) changes.outgoingDeletes.push(id);
      else if (entry.stored) {
        if (inserted.has(entry)) continue;
        const packet = encodeBrokerPacket(entry.packet);
        if (budget.fits(packet)) changes.outgoingUpdates.push({ id, packet });
        else this.dirty.add(id);
      } else if (entry.journal && entry.queuedAt >= dueBefore) this.deferred.add(id);
      else if (!insert(entry)) this.dirty.add(id);
    }
    return () => {
      for (const [entry, journal] of inserted) {
        entry.stored = false;
        this.dirty.add(entry.id);
        // Unwritten again: its journal row must stay until it is.
        if (journal && entry.journal === undefined && this.byId.has(entry.id)) {
          entry.journal = journal;
          this.journal.hold(journal);
        }
      }
      for (const id of ids) this.dirty.add(id);
    };
  }

  private add(entry: QueuedPacket): void {
    let queue = this.byClient.get(entry.clientId);
    if (!queue) {
      queue = new Map();
      this.byClient.set(entry.clientId, queue);
    }
    queue.set(entry.id, entry);
    this.byId.set(entry.id, entry);
    if (entry.packet.brokerId !== undefined) {
      let byOrigin = this.byOrigin.get(entry.clientId);
      if (!byOrigin) {
        byOrigin = new Map();
        this.byOrigin.set(entry.clientId, byOrigin);
      }
      const origin = originKey(entry.packet);
      const same = byOrigin.get(origin);
      if (same) same.push(entry);
      else byOrigin.set(origin, [entry]);
    }
  }

  private remove(entry: QueuedPacket): void {
    const queue = this.byClient.get(entry.clientId);
    queue?.delete(entry.id);
    this.unindex(entry);
    if (queue?.size === 0) {
      this.byClient.delete(entry.clientId);
      this.byOrigin.delete(entry.clientId);
    }
    this.byId.delete(entry.id);
    if (entry.stored) {
      this.dirty.add(entry.id);
      this.onChange();
    } else {
      // Acknowledged before its row was written: it never will be.
      this.dirty.delete(entry.id);
      this.deferred.delete(entry.id);
      this.settle(entry);
    }
  }

  /** The queued copy no longer needs its journal row (written, or acknowledged): maybe the row can go. */
  private settle(entry: QueuedPacket): void {
    const journal = entry.journal;
    if (!journal) return;
    entry.journal = undefined;
    this.journal.release(journal);
  }

  /** Drops the entry from the origin index (before its packet changes or it leaves the queue). */
  private unindex(entry: QueuedPacket): void {
    const byOrigin = this.byOrigin.get(entry.clientId);
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
    this.dirty.add(entry.id);
    this.onChange();
  }
}
