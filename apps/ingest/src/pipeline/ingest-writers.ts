import { Inject, Injectable, Logger } from '@nestjs/common';
import { LANTERN_CONFIG, type LanternConfig } from '@lantern/config';
import type { Reading } from '@lantern/domain';
import {
  classifyDatabaseError,
  DeviceStatusRepository,
  ReadingRepository,
  RejectionRepository,
  type DeviceStatusUpdate,
  type NewIngestRejection,
} from '@lantern/storage';
import { IngestMetrics, type WriterName } from '../metrics/ingest-metrics.js';
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
 * of its items until they commit. What the database refuses goes to the RefusalHandlers given to
 * `handleRefusalsWith` (IngestOutputs gives them: they write dead letters through these writers).
 */
@Injectable()
export class IngestWriters {
  // The pipeline's context: the writers log on its behalf.
  private readonly logger = new Logger('IngestPipeline');
  readonly readings: RetryingBatchWriter<Reading>;
  readonly rejections: RetryingBatchWriter<NewIngestRejection>;
  readonly statuses: RetryingBatchWriter<DeviceStatusUpdate>;
  // Set once, before the first message (IngestOutputs); a refusal reaches it only after a write.
  private refusals: RefusalHandlers | undefined;

  constructor(
    @Inject(LANTERN_CONFIG) private readonly config: LanternConfig,
    readingRepository: ReadingRepository,
    rejectionRepository: RejectionRepository,
    statusRepository: DeviceStatusRepository,
    private readonly metrics: IngestMetrics,
  ) {
    // Two reading batches commit at once: the database works on one while the other's round trip
    // and the ingest's own work go on (acknowledgements still leave in arrival order).
    this.readings = this.writer(
      'readings',
      config.ingestBatchSize,
      async (items) => {
        const stored = await readingRepository.insertBatch(items);
        this.metrics.readingsStored.inc(stored);
      },
      (refused, error) => this.refusalHandlers().readingsRefused(refused, error),
      2,
    );
    this.rejections = this.writer(
      'rejections',
      1000,
      (items) => rejectionRepository.insertMany(items),
      (refused, error) => this.refusalHandlers().deadLettersRefused(refused, error),
    );
    this.statuses = this.writer(
      'statuses',
      500,
      (items) => statusRepository.applyStatuses(items),
      (refused, error) => this.refusalHandlers().statusesRefused(refused, error),
    );
  }

  /** Where the items the database refuses go from now on (StorageRefusals, wired by IngestOutputs). */
  handleRefusalsWith(refusals: RefusalHandlers): void {
    this.refusals = refusals;
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

  private refusalHandlers(): RefusalHandlers {
    // Thrown into the writer's guard below, which logs it as a bug and goes on.
    if (!this.refusals) throw new Error('no refusal handlers: IngestOutputs wires them before the first message');
    return this.refusals;
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
