import { Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import { config as rxjsConfig, Subject, type Observable } from 'rxjs';
import type { DeviceStatus, Reading } from '@lantern/domain';

/**
 * The message an input came in (a PendingMessage): work done for the input that must be durable
 * before the message is acknowledged holds it, and releases it once durable (or given up).
 */
export interface MessageHold {
  hold(): void;
  release(): void;
}

/** A subscriber that may hold the input's message (see {@link ReadingStream.onReading}). */
export type HoldingListener<T> = (input: T, message: MessageHold | undefined) => void;

/**
 * The in-process feed of validated input for the streaming core: readings (canonical unit) and
 * device statuses, emitted synchronously as messages are decoded — in arrival order per device and
 * before the batch commits. A redelivered message (after an ingest restart or a broker reconnect)
 * is emitted again: subscribers must tolerate a reading they have already seen (same device,
 * metric and time).
 *
 * Subscribers run inside the consumer's read loop: they must be fast and must not throw (an error
 * thrown by a subscriber is caught and counted, never propagated to the MQTT client). The streaming
 * core subscribes with {@link onReading}/{@link onStatus}, which also hand it the message: what it
 * decides is stored before the message is acknowledged (docs/alerting.md, at least once).
 */
@Injectable()
export class ReadingStream implements OnApplicationShutdown {
  private readonly readingSubject = new Subject<Reading>();
  private readonly statusSubject = new Subject<DeviceStatus>();
  private readonly readingListeners: HoldingListener<Reading>[] = [];
  private readonly statusListeners: HoldingListener<DeviceStatus>[] = [];
  private subscriberErrors = 0;
  private readonly logger = new Logger('ReadingStream');

  constructor() {
    // RxJS rethrows a subscriber's error on a timer, which would crash the process: count and log instead.
    rxjsConfig.onUnhandledError = (error: unknown) => {
      this.subscriberErrors += 1;
      this.logger.error(`Streaming subscriber failed: ${(error as Error)?.stack ?? String(error)}`);
    };
  }

  /** Validated readings, each once per delivery. */
  get readings$(): Observable<Reading> {
    return this.readingSubject.asObservable();
  }

  /** Validated device status messages (including last wills `{ online: false }`). */
  get statuses$(): Observable<DeviceStatus> {
    return this.statusSubject.asObservable();
  }

  get errors(): number {
    return this.subscriberErrors;
  }

  /** Validated readings with the message each came in, which the listener may hold (before it is sealed: synchronously). */
  onReading(listener: HoldingListener<Reading>): void {
    this.readingListeners.push(listener);
  }

  /** Validated device statuses with their message, as {@link onReading}. */
  onStatus(listener: HoldingListener<DeviceStatus>): void {
    this.statusListeners.push(listener);
  }

  /** @internal Called by the ingest pipeline, before it seals the message. */
  emitReading(reading: Reading, message?: MessageHold): void {
    for (let i = 0; i < this.readingListeners.length; i++) this.call(this.readingListeners[i], reading, message);
    try {
      this.readingSubject.next(reading);
    } catch {
      this.subscriberErrors += 1;
    }
  }

  /** @internal Called by the ingest pipeline, before it seals the message. */
  emitStatus(status: DeviceStatus, message?: MessageHold): void {
    for (let i = 0; i < this.statusListeners.length; i++) this.call(this.statusListeners[i], status, message);
    try {
      this.statusSubject.next(status);
    } catch {
      this.subscriberErrors += 1;
    }
  }

  private call<T>(listener: HoldingListener<T>, input: T, message: MessageHold | undefined): void {
    try {
      listener(input, message);
    } catch (error) {
      this.subscriberErrors += 1;
      this.logger.error(`Streaming subscriber failed: ${(error as Error)?.stack ?? String(error)}`);
    }
  }

  onApplicationShutdown(): void {
    this.readingListeners.length = 0;
    this.statusListeners.length = 0;
    this.readingSubject.complete();
    this.statusSubject.complete();
  }
}
