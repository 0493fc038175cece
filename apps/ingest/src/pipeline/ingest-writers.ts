import type { Logger } from '@nestjs/common';
import type { LanternConfig } from '@lantern/config';
import type { Reading } from '@lantern/domain';
import {
  classifyDatabaseError,
  type DeviceStatusRepository,
  type DeviceStatusUpdate,
  type NewIngestRejection,
  type ReadingRepository,
  type RejectionRepository,
} from '@lantern/storage';
import type { IngestMetrics, WriterName } from '../metrics/ingest-metrics.js';
import { RetryingBatchWriter, type BatchEntry } from './retrying-batch-writer.js';

/** What to do with the items the database refuses, per writer (StorageRefusals). Must not throw. */
export interface RefusalHandlers {
  readingsRefused(refused: readonly BatchEntry<Reading>[], error: unknown): void;
  deadLettersRefused(refused: readonly BatchEntry<NewIngestRejection>[], error: unknown): void;
  statusesRefused(refused: readonly BatchEntry<DeviceStatusUpdate>[], error: unknown): void;
}

/**
 * The ingest's three batch writers — readings, dead letters (`rejections`), device statuses — with
 * their batch sizes, concurrency, failure classification, metrics and logs. Each holds the messages
 * of its items until they commit.
 */
export class IngestWriters {
  readonly readings: RetryingBatchWriter<Reading>;
  readonly rejections: RetryingBatchWriter<NewIngestRejection>;
  readonly statuses: RetryingBatchWriter<DeviceStatusUpdate>;

  constructor(
    private readonly config: LanternConfig,
    repositories: {
      readonly readings: ReadingRepository;
      readonly rejections: RejectionRepository;
      readonly statuses: DeviceStatusRepository;
    },
    refusals: RefusalHandlers,
    private readonly metrics: IngestMetrics,
    private readonly logger: Logger,
  ) {
    // Two reading batches commit at once: the database works on one while the other's round trip
    // and the ingest's own work go on (acknowledgements still leave in arrival order).
    this.readings = this.writer(
      'readings',
      config.ingestBatchSize,
      async (items) => {
        const stored = await repositories.readings.insertBatch(items);
        this.metrics.readingsStored.inc(stored);
      },
      (refused, error) => refusals.readingsRefused(refused, error),
      2,
    );
    this.rejections = this.writer(
      'rejections',
      1000,
      (items) => repositories.rejections.insertMany(items),
      (refused, error) => refusals.deadLettersRefused(refused, error),
    );
    this.statuses = this.writer(
      'statuses',
      500,
      (items) => repositories.statuses.applyStatuses(items),
      (refused, error) => refusals.statusesRefused(refused, error),
    );
  }

  /** Resolves when every queued write has committed (tests, shutdown). */
  async drain(): Promise<void> {
    await Promise.all([this.readings.drain(), this.rejections.drain(), this.statuses.drain()]);
  }

  close(): void {
    this.readings.close();
    this.rejections.close();
    this.statuses.close();
  }

  /** Samples the writers' queue depths for /metrics. */
  sampleDepths(): void {
    this.metrics.queueDepth.set({ writer: 'readings' }, this.readings.depth);
    this.metrics.queueDepth.set({ writer: 'rejections' }, this.rejections.depth);
    this.metrics.queueDepth.set({ writer: 'statuses' }, this.statuses.depth);
  }

  private writer<T>(
    name: WriterName,
    maxItems: number,
    write: (items: T[]) => Promise<void>,
    onRefused: (refused: readonly BatchEntry<T>[], error: unknown) => void,
    concurrency = 1,
  ): RetryingBatchWriter<T> {
    return new RetryingBatchWriter<T>({
      name,
      maxItems,
      concurrency,
      maxWaitMs: this.config.ingestBatchMaxWaitMs,
      write,
      // Data the database refuses fails the same way every time: set aside (dead-lettered), never retried.
      isRefusal: (error) => classifyDatabaseError(error) === 'refused',
      onRefused: (refused, error) => {
        try {
          onRefused(refused, error);
        } catch (failure) {
          // A bug: the refused items' messages are still acknowledged, so the writer goes on.
          this.logger.error(`Handling items refused by ${name} failed: ${(failure as Error).stack ?? String(failure)}`);
        }
      },
      onCommitted: (items, ms) => {
        this.metrics.batchSize.observe({ writer: name }, items);
        this.metrics.commitSeconds.observe({ writer: name }, ms / 1000);
      },
      onError: (error, attempt, retryInMs) => {
        this.metrics.writeErrors.inc({ writer: name });
        if (attempt === 1 || attempt % 10 === 0) {
          this.logger.warn(
            `Writing ${name} failed (attempt ${attempt}, retrying in ${retryInMs} ms): ${(error as Error).message}`,
          );
        }
      },
      onRecovered: (attempts) => this.logger.log(`Writing ${name} succeeded again after ${attempts} failed attempts`),
    });
  }
}
