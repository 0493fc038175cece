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

  /**
   * TimescaleDB: replaces the compression, retention and refresh policies by ones built from the
   * configuration, in one call of the owner's SECURITY DEFINER function (the apps' role owns no
   * table; the jobs run as the owner). The refresh buckets and batching are fixed in that function.
   */
  async applyTimescalePolicies(): Promise<void> {
    const s = this.settings;
    // Refresh windows reach back far enough for back-filled readings, but never into chunks that
    // retention may already have dropped (a refresh there would erase the aggregate's history).
    const lookBack = Math.max(2 * HOUR_MS + 60_000, Math.min(s.ingestMaxBackfill + HOUR_MS, s.rawRetention - HOUR_MS));
    await this.dataSource.query(
      `SELECT lantern_apply_timescale_policies($1::interval, $2::interval, $3::interval, $4::interval)`,
      [interval(s.compressAfter), interval(s.rawRetention), interval(s.rollupRetention), interval(lookBack)],
    );
    this.logger.log(
      `TimescaleDB policies: compress after ${interval(s.compressAfter)}, raw retention ${interval(s.rawRetention)}, rollup retention ${interval(s.rollupRetention)}`,
    );
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
