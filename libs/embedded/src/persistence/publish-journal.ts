import { encodeBrokerPacket, type BrokerChanges, type BrokerPacket, type EncodedPacket } from '@lantern/storage';
import type { Waiter } from './persistence-helpers.js';
import type { RowIds } from './row-ids.js';
import type { WriteBudget } from './write-budget.js';

/**
 * A client PUBLISH made durable before its PUBACK. Its row may go once aedes has queued the
 * message (`resolved`) and each queued copy has been written or acknowledged (`unsettled` 0).
 */
export interface JournalEntry {
  readonly id: number;
  readonly packet: EncodedPacket;
  stored: boolean;
  resolved: boolean;
  unsettled: number;
}

/**
 * The journal of authorised QoS 1 PUBLISHes: each is written and committed before aedes sends its
 * PUBACK, and its row goes once every copy aedes queued for it is written or acknowledged. Finds
 * the entry of a packet aedes hands back (the same object in `published`, a copy sharing its
 * payload when it queues the message), and tells its waiting PUBLISH whether the row committed.
 */
export class PublishJournal {
  private readonly byPacket = new WeakMap<object, JournalEntry>();
  /**
   * Journal entries by payload: aedes queues a copy of the packet it authorised, which shares the
   * payload Buffer (a fresh one per PUBLISH read from a socket) but not the packet object.
   */
  private readonly byPayload = new WeakMap<object, JournalEntry>();
  private readonly dirty = new Map<number, JournalEntry>();
  private readonly waiters = new Map<JournalEntry, Waiter>();

  constructor(
    private readonly ids: RowIds,
    /** Called when something is to be written. */
    private readonly onChange: () => void,
  ) {}

  /** Journals an authorised PUBLISH; resolves once its row has committed, rejects when that write failed. */
  record(packet: BrokerPacket): Promise<void> {
    const entry: JournalEntry = {
      id: this.ids.take(),
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
    this.byPacket.set(packet, entry);
    // An empty payload may be a shared Buffer: such a PUBLISH is queued with a commit of its own.
    if (Buffer.isBuffer(packet.payload) && packet.payload.length > 0) this.byPayload.set(packet.payload, entry);
    this.dirty.set(entry.id, entry);
    return new Promise((resolve, reject) => {
      this.waiters.set(entry, { resolve, reject });
      this.onChange();
    });
  }

  /** aedes has queued the PUBLISH for every persistent session that wants it. */
  published(packet: object): void {
    const entry = this.byPacket.get(packet);
    if (!entry) return;
    entry.resolved = true;
    if (entry.unsettled === 0) {
      // No persistent session wanted it, or every copy was acknowledged already.
      this.dirty.set(entry.id, entry);
      this.onChange();
    }
  }

  /** The entry of a journalled PUBLISH whose queued copy carries this payload. */
  forPayload(payload: object): JournalEntry | undefined {
    return this.byPayload.get(payload);
  }

  /** Takes back a row a previous run left: its message is queued again, then the row goes. */
  restore(id: number, packet: BrokerPacket): void {
    this.dirty.set(id, { id, packet: encodeBrokerPacket(packet), stored: true, resolved: true, unsettled: 0 });
  }

  /** One more queued copy needs the entry's row until it is written or acknowledged. */
  hold(entry: JournalEntry): void {
    entry.unsettled += 1;
  }

  /** A queued copy no longer needs the entry's row (written, or acknowledged): maybe the row can go. */
  release(entry: JournalEntry): void {
    entry.unsettled -= 1;
    if (entry.resolved && entry.unsettled === 0) {
      this.dirty.set(entry.id, entry);
      this.onChange();
    }
  }

  hasPending(): boolean {
    return this.dirty.size > 0;
  }

  /** Puts the rows to insert in `changes`, as many as fit; first in a write, as their PUBLISHes wait for it. */
  takeInserts(changes: BrokerChanges, budget: WriteBudget): JournalEntry[] {
    const inserted: JournalEntry[] = [];
    for (const entry of this.dirty.values()) {
      if (entry.stored || entry.resolved) continue;
      if (!budget.fits(entry.packet)) break;
      changes.journalInserts.push({ id: entry.id, packet: entry.packet });
      entry.stored = true;
      inserted.push(entry);
      this.dirty.delete(entry.id);
    }
    return inserted;
  }

  /** Puts the rows that may go in `changes`: taken after the queue's part of the same write. */
  takeDeletes(changes: BrokerChanges): JournalEntry[] {
    const deleted: JournalEntry[] = [];
    for (const entry of this.dirty.values()) {
      if (!entry.stored && !entry.resolved) continue; // did not fit: the next statement
      this.dirty.delete(entry.id);
      // Every queued copy is in this statement or an earlier one, or acknowledged. Otherwise its
      // last release() marks it again.
      if (entry.stored && entry.resolved && entry.unsettled === 0) {
        changes.journalDeletes.push(entry.id);
        deleted.push(entry);
      }
    }
    return deleted;
  }

  /** The write with these inserted rows committed: their PUBLISHes may be acknowledged. */
  committed(inserted: JournalEntry[]): void {
    for (const entry of inserted) {
      this.waiters.get(entry)?.resolve();
      this.waiters.delete(entry);
    }
  }

  /**
   * The write failed: its inserted entries are dropped and their PUBLISH refused, so the device
   * keeps the message and sends it again; its deletions are pending again.
   */
  failed(inserted: JournalEntry[], deleted: JournalEntry[], error: Error): void {
    for (const entry of inserted) {
      entry.stored = false;
      this.waiters.get(entry)?.reject(new Error(`the message was not saved: ${error.message}`));
      this.waiters.delete(entry);
    }
    for (const entry of deleted) this.dirty.set(entry.id, entry);
  }

  /** The last write failed while closing: the PUBLISHes of its entries are refused with `failure`. */
  reject(inserted: JournalEntry[], failure: Error): void {
    for (const entry of inserted) this.waiters.get(entry)?.reject(failure);
  }
}
