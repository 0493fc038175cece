import {
  type DynamicModule,
  Global,
  Inject,
  Logger,
  Module,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
} from '@nestjs/common';
import { DataSource } from 'typeorm';
import { LANTERN_CONFIG, type LanternConfig } from '@lantern/config';
import { createDataSource, migrateAsOwner } from './data-source.js';
import { STORAGE_MODE, detectStorageMode, type StorageMode } from './storage-mode.js';
import { Transactions } from './transactions.js';
import { ReadingRepository } from './repositories/reading.repository.js';
import { ReadingHistoryRepository } from './repositories/reading-history.repository.js';
import { ReadingRollupService } from './maintenance/reading-rollup.service.js';
import { ReadingPartitions } from './maintenance/reading-partitions.js';
import {
  MAINTENANCE_SETTINGS,
  StorageMaintenanceService,
  type MaintenanceSettings,
} from './maintenance/storage-maintenance.service.js';

export interface StorageModuleOptions {
  /**
   * Run pending migrations at start (serialized across processes by an advisory lock), as the owner
   * of DATABASE_MIGRATION_URL when set. Default true.
   */
  readonly migrate?: boolean;
  /** Run storage maintenance in this process (policies, partitions, rollups, retention). Default false: one role does it. */
  readonly maintenance?: boolean;
  /** Name the process shows in pg_stat_activity. */
  readonly applicationName?: string;
  /** Open the {@link ALERT_LANE} connection (the ingest, whose streaming core writes alerts). Default false. */
  readonly alertLane?: boolean;
}

const STORAGE_OPTIONS = Symbol('STORAGE_OPTIONS');

/**
 * `backend_flush_after` for every connection (DATABASE_BACKEND_FLUSH_AFTER_KB; none at 0, the
 * server's setting). PostgreSQL's default, 0, leaves what a backend writes out dirty in the page
 * cache; under the ingest's write rate that grew to 600 MB, which the kernel wrote out in bursts
 * every ~30 s (dirty_expire_centisecs), the moments the bench's slow commits fell in
 * (docs/operations.md, "PostgreSQL settings for the write rate"). PGlite ignores it.
 */
function writeBackSettings(config: LanternConfig): Record<string, string> {
  const kb = config.databaseBackendFlushAfterKb;
  return kb > 0 ? { backend_flush_after: `${kb}kB` } : {};
}

/**
 * The streaming core's own database connection (a DataSource of one), for the alert write and
 * what it reads back: never behind the readings writers in the pool, and with
 * `plan_cache_mode = force_generic_plan`, so its prepared alert write is planned once per
 * connection instead of on every call — PostgreSQL otherwise keeps a custom plan for statements
 * over unnested parameter arrays, and planning cost more than running it (docs/performance.md,
 * "The alert's way back"). Setting that for the whole pool would give the history queries generic
 * plans too. The main DataSource where there is one connection only (PGlite) or no lane was asked for.
 */
export const ALERT_LANE = Symbol('ALERT_LANE');

/**
 * The database for the whole application: a migrated DataSource, the detected StorageMode, the
 * ReadingRepository and the ReadingHistoryRepository. Other modules add repositories as plain
 * `@Injectable()` classes taking DataSource.
 */
@Global()
@Module({})
export class StorageModule implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('Storage');

  constructor(
    private readonly dataSource: DataSource,
    @Inject(ALERT_LANE) private readonly alertLane: DataSource,
    @Inject(STORAGE_MODE) private readonly mode: StorageMode,
    @Inject(STORAGE_OPTIONS) private readonly options: StorageModuleOptions,
    private readonly maintenance: StorageMaintenanceService,
  ) {}

  /** Registers the storage providers, built from the validated configuration. */
  static forRoot(options: StorageModuleOptions = {}): DynamicModule {
    return {
      module: StorageModule,
      global: true,
      providers: [
        { provide: STORAGE_OPTIONS, useValue: options },
        {
          provide: DataSource,
          inject: [LANTERN_CONFIG],
          useFactory: async (config: LanternConfig): Promise<DataSource> => {
            if (!config.databaseUrl)
              throw new Error('DATABASE_URL is not set (the embedded PostgreSQL sets it before the app starts)');
            const dataSource = createDataSource({
              url: config.databaseUrl,
              poolSize: config.databasePoolSize,
              applicationName: options.applicationName,
              sessionSettings: writeBackSettings(config),
            });
            await dataSource.initialize();
            if (options.migrate ?? true) {
              const ran = await migrateAsOwner(dataSource, config.databaseMigrationUrl);
              if (ran.length > 0) new Logger('Storage').log(`Ran migrations: ${ran.join(', ')}`);
            }
            return dataSource;
          },
        },
        {
          provide: ALERT_LANE,
          inject: [LANTERN_CONFIG, DataSource],
          useFactory: async (config: LanternConfig, main: DataSource): Promise<DataSource> => {
            if (!options.alertLane || config.databasePoolSize < 2) return main;
            const lane = createDataSource({
              url: config.databaseUrl!,
              poolSize: 1,
              applicationName: `${options.applicationName ?? 'lantern'}-alerts`,
              sessionSettings: { ...writeBackSettings(config), plan_cache_mode: 'force_generic_plan' },
            });
            await lane.initialize();
            return lane;
          },
        },
        { provide: STORAGE_MODE, inject: [DataSource], useFactory: detectStorageMode },
        {
          provide: MAINTENANCE_SETTINGS,
          inject: [LANTERN_CONFIG],
          useFactory: (config: LanternConfig): MaintenanceSettings => config,
        },
        ReadingPartitions,
        ReadingRepository,
        ReadingHistoryRepository,
        ReadingRollupService,
        StorageMaintenanceService,
        Transactions,
      ],
      exports: [
        DataSource,
        ALERT_LANE,
        STORAGE_MODE,
        ReadingRepository,
        ReadingHistoryRepository,
        ReadingRollupService,
        StorageMaintenanceService,
        Transactions,
      ],
    };
  }

  async onApplicationBootstrap(): Promise<void> {
    this.logger.log(
      this.mode === 'timescaledb'
        ? 'Storage mode: TimescaleDB (hypertable, continuous aggregates, server-side policies)'
        : 'Storage mode: PostgreSQL (daily partitions, application-kept rollups)',
    );
    if (this.options.maintenance) await this.maintenance.start();
  }

  async onApplicationShutdown(): Promise<void> {
    if (this.alertLane !== this.dataSource && this.alertLane.isInitialized) await this.alertLane.destroy();
    if (this.dataSource.isInitialized) await this.dataSource.destroy();
  }
}
