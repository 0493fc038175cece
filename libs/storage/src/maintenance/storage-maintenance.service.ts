import { Inject, Injectable, Logger, type OnModuleDestroy } from '@nestjs/common';
import { DataSource } from 'typeorm';
import type { LanternConfig } from '@lantern/config';
import { STORAGE_MODE, type StorageMode } from '../storage-mode.js';
import { ReadingPartitions } from './reading-partitions.js';
import { ReadingRollupService } from './reading-rollup.service.js';

/** The settings maintenance reads. */
export type MaintenanceSettings = Pick<
  LanternConfig,
  | 'compressAfter'
  | 'rawRetention'
  | 'rollupRetention'
  | 'rejectionRetention'
  | 'partitionsAhead'
  | 'rollupIntervalMs'
  | 'ingestMaxBackfill'
>;

/** Injection token of the {@link MaintenanceSettings}. */
export const MAINTENANCE_SETTINGS = Symbol('MAINTENANCE_SETTINGS');

const HOUR_MS = 3_600_000;
// Partitions ahead and retention need not run as often as the rollup.
const HOUSEKEEPING_EVERY_MS = HOUR_MS;

const interval = (ms: number): string => `${Math.round(ms / 1000)} seconds`;

/**
 * Keeps the time-series storage in shape. TimescaleDB: (re)applies the compression, retention and
 * refresh policies from the configuration, and the server's jobs do the rest. PostgreSQL: creates
 * partitions ahead, folds new readings into the rollups every ROLLUP_INTERVAL_MS, and drops old
 * partitions and rollup rows. Runs in one role only (the ingest), started explicitly.
 */
@Injectable()
export class StorageMaintenanceService implements OnModuleDestroy {
  private readonly logger = new Logger('StorageMaintenance');
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private lastHousekeeping = 0;
  private stopped = false;

  constructor(
    private readonly dataSource: DataSource,
    @Inject(STORAGE_MODE) private readonly mode: StorageMode,
    @Inject(MAINTENANCE_SETTINGS) private readonly settings: MaintenanceSettings,
    private readonly rollup: ReadingRollupService,
    private readonly partitions: ReadingPartitions,
  ) {}

  /**
   * Applies the policies (TimescaleDB), runs housekeeping once and schedules the periodic work
   * (rollups on PostgreSQL; dead-letter retention on both).
   */
  async start(): Promise<void> {
    this.stopped = false;
    if (this.mode === 'timescaledb') await this.applyTimescalePolicies();
    await this.housekeeping(Date.now());
    this.schedule();
  }

  async onModuleDestroy(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.running;
  }

  /** TimescaleDB: replaces the compression, retention and refresh policies by ones built from the configuration. */
  async applyTimescalePolicies(): Promise<void> {
    const s = this.settings;
    // Refresh windows reach back far enough for back-filled readings, but never into chunks that
    // retention may already have dropped (a refresh there would erase the aggregate's history).
    const lookBack = Math.max(2 * HOUR_MS + 60_000, Math.min(s.ingestMaxBackfill + HOUR_MS, s.rawRetention - HOUR_MS));
    const statements: [string, unknown[]][] = [
      [`SELECT remove_compression_policy('readings', if_exists => true)`, []],
      [`SELECT add_compression_policy('readings', compress_after => $1::interval)`, [interval(s.compressAfter)]],
      [`SELECT remove_retention_policy('readings', if_exists => true)`, []],
      [`SELECT add_retention_policy('readings', drop_after => $1::interval)`, [interval(s.rawRetention)]],
    ];
    // Since 2.19 a refresh policy works in batches of `buckets_per_batch` buckets, by default one:
    // ~43,000 one-minute transactions for a 30-day window (32 s for two days of data on PGlite).
    // One day per batch keeps each transaction bounded without that overhead.
    const batching = (await this.timescaleVersionAtLeast(2, 19)) ? `, buckets_per_batch => $4::int` : '';
    for (const [view, bucketMs, every] of [
      ['readings_1m', 60_000, 60_000],
      ['readings_1h', HOUR_MS, 15 * 60_000],
    ] as const) {
      const params: unknown[] = [interval(lookBack), interval(bucketMs), interval(every)];
      if (batching) params.push(86_400_000 / bucketMs);
      statements.push(
        [`SELECT remove_continuous_aggregate_policy('${view}', if_exists => true)`, []],
        [
          `SELECT add_continuous_aggregate_policy('${view}', start_offset => $1::interval, end_offset => $2::interval, schedule_interval => $3::interval${batching})`,
          params,
        ],
        [`SELECT remove_retention_policy('${view}', if_exists => true)`, []],
        [`SELECT add_retention_policy('${view}', drop_after => $1::interval)`, [interval(s.rollupRetention)]],
      );
    }
    for (const [sql, params] of statements) await this.dataSource.query(sql, params);
    this.logger.log(
      `TimescaleDB policies: compress after ${interval(s.compressAfter)}, raw retention ${interval(s.rawRetention)}, rollup retention ${interval(s.rollupRetention)}`,
    );
  }

  private async timescaleVersionAtLeast(major: number, minor: number): Promise<boolean> {
    const [row] = await this.dataSource.query<{ extversion: string }[]>(
      `SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'`,
    );
    const [maj = 0, min = 0] = (row?.extversion ?? '0.0').split('.').map(Number);
    return maj > major || (maj === major && min >= minor);
  }

  /**
   * Retention of dead letters and their payloads, and on PostgreSQL partitions ahead and retention
   * of raw partitions and rollup rows (TimescaleDB's own jobs do those there).
   */
  async housekeeping(now: number): Promise<{ dropped: string[]; rejectionsDeleted: number; payloadsDeleted: number }> {
    const cutoff = new Date(now - this.settings.rejectionRetention);
    const [, rejectionsDeleted] = await this.dataSource.query<[unknown, number]>(
      `DELETE FROM ingest_rejections WHERE received_at < $1`,
      [cutoff],
    );
    // Then the payloads past retention that no dead letter uses any more (a payload is as old as its
    // dead letters; the check also spares one a younger row might still reference).
    const [, payloadsDeleted] = await this.dataSource.query<[unknown, number]>(
      `DELETE FROM ingest_rejected_payloads p
        WHERE p.received_at < $1 AND NOT EXISTS (SELECT 1 FROM ingest_rejections r WHERE r.payload_id = p.id)`,
      [cutoff],
    );
    if (rejectionsDeleted > 0 || payloadsDeleted > 0)
      this.logger.log(`Retention deleted ${rejectionsDeleted} dead letters and ${payloadsDeleted} payloads`);
    const dropped = this.mode === 'postgres' ? await this.postgresRetention(now) : [];
    this.lastHousekeeping = now;
    return { dropped, rejectionsDeleted, payloadsDeleted };
  }

  private async postgresRetention(now: number): Promise<string[]> {
    const s = this.settings;
    await this.partitions.ensureAhead(now, s.partitionsAhead);
    const dropped = await this.partitions.dropBefore(now - s.rawRetention);
    const rollupCutoff = new Date(now - s.rollupRetention);
    await this.dataSource.query(`DELETE FROM readings_1m WHERE bucket < $1`, [rollupCutoff]);
    await this.dataSource.query(`DELETE FROM readings_1h WHERE bucket < $1`, [rollupCutoff]);
    // Pending minutes whose raw rows are gone can never be recomputed.
    await this.dataSource.query(`DELETE FROM readings_rollup_pending WHERE bucket < $1`, [
      new Date(now - s.rawRetention - 86_400_000),
    ]);
    if (dropped.length > 0) this.logger.log(`Retention dropped partitions ${dropped.join(', ')}`);
    return dropped;
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.running = this.tick().finally(() => {
        this.running = undefined;
        this.schedule();
      });
    }, this.settings.rollupIntervalMs);
    this.timer.unref();
  }

  private async tick(): Promise<void> {
    try {
      if (this.mode === 'postgres') await this.rollup.run();
      const now = Date.now();
      if (now - this.lastHousekeeping >= HOUSEKEEPING_EVERY_MS) await this.housekeeping(now);
    } catch (error) {
      // Never fatal: the next tick retries, and queries stay exact from raw rows meanwhile.
      this.logger.error(`Storage maintenance failed: ${(error as Error).message}`);
    }
  }
}
