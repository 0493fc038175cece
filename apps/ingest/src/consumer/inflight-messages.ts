import type { Logger } from '@nestjs/common';
import type { LanternConfig } from '@lantern/config';
import type { IngestMetrics } from '../metrics/ingest-metrics.js';
import { OrderedAcks } from './ordered-acks.js';
import { PendingMessage } from './pending-message.js';

/**
 * How PUBACKs are sent. `held` (the default): mqtt.js reads on at once and the PUBACKs wait, in
 * arrival order, for their messages to commit. `naive`: mqtt.js's own flow, holding its read loop
 * until the message commits — one message in flight per connection (kept for measurement only).
 */
export type AckMode = 'held' | 'naive';
export const INGEST_ACK_MODE = Symbol('INGEST_ACK_MODE');

/**
 * Where held PUBACKs go: the current connection, through the packet writer mqtt.js would have used
 * (IngestMqttConnection implements it; this file does not load mqtt.js).
 */
export interface PubackChannel {
  /** Whether PUBACKs can be sent now (connected). */
  isOpen(): boolean;
  /** Starts one socket write for a run of PUBACKs. */
  cork(): void;
  send(messageId: number): void;
  /** Ends the run's socket write. */
  uncork(): void;
}

/**
 * The messages taken in and not yet done with, and their acknowledgement: QoS 1 ones are
 * acknowledged after commit in arrival order (OrderedAcks), QoS 0 ones only counted (they hold
 * memory all the same). Says whether there is room for another (INGEST_MAX_PENDING_MESSAGES and
 * INGEST_MAX_PENDING_BYTES) and calls `onSettled` when messages are done with, so that a paused
 * reader can resume.
 */
export class InflightMessages {
  private readonly acks = new OrderedAcks((run) => this.sendAcks(run));
  private readonly naiveCallbacks = new WeakMap<PendingMessage, () => void>();
  /** QoS 0 messages whose work is not yet committed (counted against INGEST_MAX_PENDING_MESSAGES). */
  private unsettledQos0 = 0;
  private unsettledQos0Bytes = 0;
  private channel: PubackChannel | undefined;

  constructor(
    private readonly mode: AckMode,
    private readonly config: LanternConfig,
    private readonly metrics: IngestMetrics,
    private readonly logger: Logger,
    private readonly onSettled: () => void,
  ) {}

  /**
   * Messages taken in and not yet done with: QoS 1 ones awaiting their PUBACK, and QoS 0 ones whose
   * readings are not yet committed (nothing to acknowledge, but they hold memory all the same).
   */
  get pendingMessages(): number {
    return this.acks.pending + this.unsettledQos0;
  }

  /** Payload bytes of the messages taken in and not yet done with (see `pendingMessages`). */
  get pendingBytes(): number {
    return this.acks.pendingBytes + this.unsettledQos0Bytes;
  }

  /** Receive time of the oldest unacknowledged QoS 1 message. */
  get oldestUnackedAt(): number | undefined {
    return this.acks.oldestReceivedAt;
  }

  /**
   * Whether another message may be read: fewer than INGEST_MAX_PENDING_MESSAGES and
   * INGEST_MAX_PENDING_BYTES unfinished. Bytes too, as a message of 1000 readings holds a thousand
   * times the memory of one of a single reading.
   */
  hasRoom(): boolean {
    return (
      this.pendingMessages < this.config.ingestMaxPendingMessages &&
      this.pendingBytes < this.config.ingestMaxPendingBytes
    );
  }

  /** Where held PUBACKs are sent from now on (the connection, once created). */
  attach(channel: PubackChannel): void {
    this.channel = channel;
  }

  /**
   * Starts tracking a message that just arrived. In naive mode a QoS 1 message's `naiveAck` (mqtt.js's
   * own callback, which sends the PUBACK and reads on) is called once it is acknowledged in turn.
   */
  begin(
    qos: number,
    messageId: number | undefined,
    receivedAt: number,
    bytes: number,
    naiveAck: () => void,
  ): PendingMessage {
    const pending = qos > 0 ? this.acks.begin(messageId, receivedAt, bytes) : this.beginQos0(receivedAt, bytes);
    if (this.mode === 'naive' && qos > 0) this.naiveCallbacks.set(pending, naiveAck);
    return pending;
  }

  /**
   * The connection closed: its unacknowledged messages will be redelivered on the next one, so
   * their PUBACKs are never sent (see OrderedAcks.connectionLost).
   */
  connectionLost(): void {
    const dropped = this.acks.connectionLost();
    if (dropped > 0) {
      this.metrics.redeliveryDrops.inc(dropped);
      this.logger.warn(`Connection lost with ${dropped} unacknowledged messages; the broker will redeliver them`);
    }
  }

  /** Samples the pending and ack-lag gauges for /metrics. */
  sampleLag(): void {
    const oldest = this.acks.oldestReceivedAt;
    this.metrics.pendingMessages.set(this.pendingMessages);
    this.metrics.pendingBytes.set(this.pendingBytes);
    this.metrics.oldestUnackedSeconds.set(oldest === undefined ? 0 : (Date.now() - oldest) / 1000);
  }

  private beginQos0(receivedAt: number, bytes: number): PendingMessage {
    this.unsettledQos0 += 1;
    this.unsettledQos0Bytes += bytes;
    return new PendingMessage(
      undefined,
      this.acks.currentGeneration,
      receivedAt,
      () => {
        this.unsettledQos0 -= 1;
        this.unsettledQos0Bytes -= bytes;
        this.onSettled();
      },
      bytes,
    );
  }

  private sendAcks(run: readonly PendingMessage[]): void {
    const now = Date.now();
    if (this.mode === 'naive') {
      for (const m of run) {
        this.metrics.ackLagSeconds.observe((now - m.receivedAt) / 1000);
        this.naiveCallbacks.get(m)?.();
      }
      return;
    }
    const channel = this.channel;
    if (channel?.isOpen()) {
      // One write for the whole run rather than a syscall per PUBACK.
      channel.cork();
      for (const m of run) {
        if (m.messageId === undefined || m.generation !== this.acks.currentGeneration) continue;
        channel.send(m.messageId);
        this.metrics.ackLagSeconds.observe((now - m.receivedAt) / 1000);
      }
      channel.uncork();
    }
    this.onSettled();
  }
}
