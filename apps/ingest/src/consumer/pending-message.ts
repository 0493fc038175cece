import type { InboundMessage } from './inbound-message.js';

/**
 * One QoS 1 message between its arrival and its acknowledgement. Each piece of work done for it
 * (a reading in a batch, its dead letters, its status update) holds it; when the last is released
 * (committed) and the dispatcher has sealed it, the message is complete and may be acknowledged.
 */
export class PendingMessage {
  private holds = 0;
  private sealed = false;
  private completed = false;
  /** Set when its connection closed before it was acknowledged: the broker will redeliver it. */
  abandoned = false;
  /**
   * The message as the pipeline received it, kept so that an item the database refuses can be
   * dead-lettered with its topic and payload (StorageRefusals). A field, not a WeakMap entry: one
   * is made per message, and WeakMap insertion cost 3 % of the ingest's CPU (docs/performance.md).
   * Dropped once the message is complete: OrderedAcks keeps acknowledged messages until it next
   * compacts its queue, and their payloads should not outlive the young generation with them.
   */
  inbound: InboundMessage | undefined = undefined;

  constructor(
    /** MQTT packet id; undefined for QoS 0 (nothing to acknowledge). */
    readonly messageId: number | undefined,
    /** Connection it arrived on: acknowledgements never cross connections. */
    readonly generation: number,
    readonly receivedAt: number,
    private readonly onComplete: (message: PendingMessage) => void,
    /** Payload size: what the message holds in memory until acknowledged (backpressure counts it). */
    readonly bytes = 0,
  ) {}

  get isComplete(): boolean {
    return this.completed;
  }

  /** Adds one piece of outstanding work. */
  hold(): void {
    if (this.sealed && this.holds === 0) throw new Error('hold() after the message completed');
    this.holds += 1;
  }

  /** One piece of work is durably done. */
  release(): void {
    this.holds -= 1;
    this.check();
  }

  /** All work has been handed out; completes at once when nothing is outstanding. */
  seal(): void {
    this.sealed = true;
    this.check();
  }

  private check(): void {
    if (this.sealed && this.holds === 0 && !this.completed) {
      this.completed = true;
      this.inbound = undefined;
      this.onComplete(this);
    }
  }
}
