import { PendingMessage } from './pending-message.js';

/**
 * Keeps QoS 1 acknowledgements in arrival order: MQTT requires PUBACKs in the order the PUBLISHes
 * came, but messages complete out of order (readings, dead letters and statuses commit in different
 * batches). A completed message is acknowledged once every message before it is.
 */
export class OrderedAcks {
  private readonly queue: PendingMessage[] = [];
  private head = 0;
  private generation = 0;
  private bytes = 0;

  constructor(
    /** Sends the PUBACKs of a run of completed messages (same connection, in order). */
    private readonly sendAcks: (messages: readonly PendingMessage[]) => void,
  ) {}

  /** Messages received and not yet acknowledged (or abandoned). */
  get pending(): number {
    return this.queue.length - this.head;
  }

  /** Payload bytes of the messages received and not yet acknowledged (or abandoned). */
  get pendingBytes(): number {
    return this.bytes;
  }

  /** Receive time of the oldest unacknowledged message (for the ack-lag gauge). */
  get oldestReceivedAt(): number | undefined {
    return this.queue[this.head]?.receivedAt;
  }

  get currentGeneration(): number {
    return this.generation;
  }

  /** Starts tracking a message that just arrived on the current connection. */
  begin(messageId: number | undefined, receivedAt: number, bytes = 0): PendingMessage {
    const message = new PendingMessage(messageId, this.generation, receivedAt, () => this.flush(), bytes);
    this.bytes += bytes;
    this.queue.push(message);
    return message;
  }

  /**
   * The connection closed: its unacknowledged messages will be redelivered on the next one, so they
   * are dropped here (their work may still commit; storage is idempotent). Returns how many.
   */
  connectionLost(): number {
    const dropped = this.pending;
    for (let i = this.head; i < this.queue.length; i++) this.queue[i].abandoned = true;
    this.queue.length = 0;
    this.head = 0;
    this.bytes = 0;
    this.generation += 1;
    return dropped;
  }

  private flush(): void {
    const start = this.head;
    while (this.head < this.queue.length && this.queue[this.head].isComplete) this.head += 1;
    if (this.head === start) return;
    const run = this.queue.slice(start, this.head);
    for (const m of run) this.bytes -= m.bytes;
    // Compact now and then rather than shifting on every acknowledgement.
    if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue.splice(0, this.head);
      this.head = 0;
    }
    this.sendAcks(run);
  }
}
