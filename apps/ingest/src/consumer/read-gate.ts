import type { Logger } from '@nestjs/common';
import type { IngestMetrics } from '../metrics/ingest-metrics.js';

/**
 * Longest run of inbound messages processed without letting the event loop come round. mqtt.js
 * works through a socket read's packets in one go (process.nextTick): under load that is tens to
 * hundreds of milliseconds during which no database answer — an alert's commit — is handled.
 */
const SLICE_MS = 5;

/** How much is unfinished, and whether another message may be read (see InflightMessages). */
export interface ReadRoom {
  readonly pendingMessages: number;
  readonly pendingBytes: number;
  hasRoom(): boolean;
}

/**
 * Decides when mqtt.js may read the next packet: at once, after the event loop has come round (a
 * run of messages longer than SLICE_MS), or — backpressure — only once enough unfinished messages
 * are done with (INGEST_MAX_PENDING_MESSAGES, INGEST_MAX_PENDING_BYTES). While it waits the
 * connection reads nothing and the broker keeps the rest.
 */
export class ReadGate {
  private gated: (() => void) | undefined;
  /** Start of the current run of synchronously processed messages (0: none running). */
  private sliceStart = 0;

  constructor(
    private readonly room: ReadRoom,
    private readonly metrics: IngestMetrics,
    private readonly logger: Logger,
  ) {}

  /** Whether reading is paused for backpressure. */
  get paused(): boolean {
    return this.gated !== undefined;
  }

  /** Lets mqtt.js read the next packet now, or later when too many messages are unfinished. */
  pass(readNext: () => void): void {
    if (this.room.hasRoom()) {
      const now = performance.now();
      if (this.sliceStart === 0) {
        this.sliceStart = now;
        // The run ends when the event loop comes round (its check phase), whether we yielded or not.
        setImmediate(() => (this.sliceStart = 0));
      }
      if (now - this.sliceStart < SLICE_MS) readNext();
      else setImmediate(readNext);
      return;
    }
    if (this.gated) this.logger.error('Backpressure gate held twice; releasing the first');
    const previous = this.gated;
    this.gated = readNext;
    previous?.();
    this.metrics.paused.set(1);
    this.logger.warn(
      `Paused reading: ${this.room.pendingMessages} messages (${this.room.pendingBytes} bytes) unfinished (INGEST_MAX_PENDING_MESSAGES, INGEST_MAX_PENDING_BYTES)`,
    );
  }

  /** Resumes reading if paused and there is room again (called as messages are done with). */
  reopenIfRoom(): void {
    if (this.gated && this.room.hasRoom()) this.release();
  }

  /** Resumes reading if paused, room or not (the connection closed: nothing is pending any more). */
  release(): void {
    const readNext = this.gated;
    if (!readNext) return;
    this.gated = undefined;
    this.metrics.paused.set(0);
    this.logger.log('Resumed reading');
    readNext();
  }
}
