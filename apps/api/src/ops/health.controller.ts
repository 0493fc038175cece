import { Controller, Get, Inject, Res } from '@nestjs/common';
import {
  ApiOkResponse,
  ApiOperation,
  ApiProperty,
  ApiPropertyOptional,
  ApiServiceUnavailableResponse,
  ApiTags,
} from '@nestjs/swagger';
import { DataSource } from 'typeorm';
import { LANTERN_CONFIG, type LanternConfig } from '@lantern/config';
import { Public } from '@lantern/auth';
import { DeviceRevocationPublisher } from '../devices/device-revocation.publisher.js';
import { IngestMonitorService } from './ingest-monitor.service.js';
import type { IngestInstanceReport } from './ingest-health.js';

export class IngestInstanceHealthDto implements IngestInstanceReport {
  @ApiProperty({ description: 'The ingest process (host, pid and a random part)' })
  instanceId!: string;

  @ApiProperty({ description: 'MQTT client id of the instance (its persistent session)' })
  clientId!: string;

  @ApiProperty({ enum: ['leader', 'standby'], description: 'The leader consumes; a standby waits to take over' })
  role!: 'leader' | 'standby';

  @ApiProperty({ description: 'Since its last heartbeat, ms' })
  heartbeatAgeMs!: number;

  @ApiProperty()
  connected!: boolean;

  @ApiProperty({ type: [String], description: 'Filters the broker granted it' })
  subscribed!: string[];

  @ApiProperty({ type: Number, nullable: true, description: 'Since it last consumed a message, ms' })
  lastMessageAgeMs!: number | null;

  @ApiProperty({ type: Number, nullable: true, description: 'Since its canary last came back through the broker, ms' })
  canaryAgeMs!: number | null;

  @ApiProperty({ description: 'Age of its oldest unacknowledged message, ms (0: none)' })
  oldestUnackedMs!: number;

  @ApiProperty()
  pendingMessages!: number;

  @ApiProperty({ description: 'Reading from the broker paused (backpressure)' })
  paused!: boolean;

  @ApiProperty({ description: 'Writers whose writes keep failing, with how long, ms' })
  retryingWriters!: { writer: string; failingForMs: number }[];
}

export class IngestHealthDto {
  @ApiProperty({ enum: ['up', 'stalled', 'down', 'unknown'] })
  status!: 'up' | 'stalled' | 'down' | 'unknown';

  @ApiProperty({ type: [String], description: 'What is wrong, in plain words' })
  problems!: string[];

  @ApiProperty({ type: [IngestInstanceHealthDto] })
  instances!: IngestInstanceHealthDto[];
}

export class HealthDto {
  @ApiProperty({ enum: ['ok', 'unavailable'] })
  status!: 'ok' | 'unavailable';

  @ApiProperty({ enum: ['up', 'down'] })
  database!: 'up' | 'down';

  @ApiProperty({ enum: ['up', 'down'] })
  broker!: 'up' | 'down';

  @ApiPropertyOptional({ type: IngestHealthDto, description: 'Absent when HEALTH_REQUIRE_INGEST=false' })
  ingest?: IngestHealthDto;
}

interface StatusResponse {
  status(code: number): unknown;
}

const DATABASE_TIMEOUT_MS = 2000;

/**
 * Readiness of the whole monitoring chain (contract §3.6): 200 only when the database and the broker
 * answer and an ingest is consuming (connected, subscribed, its canary coming back, nothing stuck);
 * 503 otherwise, with the problems in plain words.
 */
@ApiTags('operations')
@Public()
@Controller('health')
export class HealthController {
  constructor(
    @Inject(LANTERN_CONFIG) private readonly config: LanternConfig,
    private readonly db: DataSource,
    private readonly broker: DeviceRevocationPublisher,
    private readonly ingestMonitor: IngestMonitorService,
  ) {}

  @Get()
  @ApiOperation({ summary: 'Database, broker and ingest status; 503 when any is not working.' })
  @ApiOkResponse({ type: HealthDto })
  @ApiServiceUnavailableResponse({ type: HealthDto })
  async health(@Res({ passthrough: true }) response: StatusResponse): Promise<HealthDto> {
    const [database, ingest] = await Promise.all([
      withTimeout(this.db.query('SELECT 1')).then(
        () => 'up' as const,
        () => 'down' as const,
      ),
      this.config.healthRequireIngest ? this.ingest() : Promise.resolve(undefined),
    ]);
    const broker = this.broker.connected ? 'up' : 'down';
    const ok = database === 'up' && broker === 'up' && (ingest === undefined || ingest.status === 'up');
    response.status(ok ? 200 : 503);
    return { status: ok ? 'ok' : 'unavailable', database, broker, ...(ingest ? { ingest } : {}) };
  }

  private async ingest(): Promise<IngestHealthDto> {
    try {
      const verdict = await withTimeout(this.ingestMonitor.check());
      return {
        status: verdict.status,
        problems: [...verdict.problems],
        instances: verdict.instances.map((i) => ({
          ...i,
          subscribed: [...i.subscribed],
          retryingWriters: [...i.retryingWriters],
        })),
      };
    } catch {
      return { status: 'unknown', problems: ['the ingest state cannot be read (database unavailable)'], instances: [] };
    }
  }
}

function withTimeout<T>(work: Promise<T>): Promise<T> {
  return Promise.race([
    work,
    new Promise<never>((_, reject) => setTimeout(() => reject(new Error('timeout')), DATABASE_TIMEOUT_MS).unref()),
  ]);
}
