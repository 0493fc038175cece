import { Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import { config as rxjsConfig, Subject, type Observable } from 'rxjs';
import type { DeviceStatus, Reading } from '@lantern/domain';

/**
 * The in-process feed of validated input for the streaming core: readings (canonical unit) and
 * device statuses, emitted synchronously as messages are decoded — in arrival order per device and
 * before the batch commits. A redelivered message (after an ingest restart or a broker reconnect)
 * is emitted again: subscribers must tolerate a reading they have already seen (same device,
 * metric and time).
 *
 * Subscribers run inside the consumer's read loop: they must be fast and must not throw (an error
 * thrown by a subscriber is caught and counted, never propagated to the MQTT client).
 */
@Injectable()
export class ReadingStream implements OnApplicationShutdown {
  private readonly readingSubject = new Subject<Reading>();
  private readonly statusSubject = new Subject<DeviceStatus>();
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

  /** @internal Called by the ingest pipeline. */
  emitReading(reading: Reading): void {
    try {
      this.readingSubject.next(reading);
    } catch {
      this.subscriberErrors += 1;
    }
  }

  /** @internal Called by the ingest pipeline. */
  emitStatus(status: DeviceStatus): void {
    try {
      this.statusSubject.next(status);
    } catch {
      this.subscriberErrors += 1;
    }
  }

  onApplicationShutdown(): void {
    this.readingSubject.complete();
    this.statusSubject.complete();
  }
}
