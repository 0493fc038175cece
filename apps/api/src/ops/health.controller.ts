import { Controller, Get, Res } from '@nestjs/common';
import {
  ApiBearerAuth,
  ApiOkResponse,
  ApiOperation,
  ApiProperty,
  ApiPropertyOptional,
  ApiServiceUnavailableResponse,
  ApiTags,
} from '@nestjs/swagger';
import type { DeliveriesHealthResource, HealthResource, IngestHealthResource } from '@lantern/domain';
import { Public, Roles } from '@lantern/auth';
import { SystemHealthService } from './system-health.service.js';
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

  @ApiProperty({ description: 'Whether its consuming connection (the persistent session) is up' })
  connected!: boolean;

  @ApiProperty({
    description:
      'How long the connection it publishes alert, notification and device events on has been down, ms (0 while it is up)',
  })
  notPublishingForMs!: number;

  @ApiProperty({ type: [String], description: 'Filters the broker granted it' })
  subscribed!: string[];

  @ApiProperty({ description: 'How long it has not been connected and subscribed, ms (0 while it is)' })
  notConsumingForMs!: number;

  @ApiProperty({ type: Number, nullable: true, description: 'Since it last consumed a message, ms' })
  lastMessageAgeMs!: number | null;

  @ApiProperty({ type: Number, nullable: true, description: 'Since its canary last came back through the broker, ms' })
  canaryAgeMs!: number | null;

  @ApiProperty({
    type: Number,
    nullable: true,
    description:
      'How long its last canary took through the broker and back, ms: how long device messages wait in the broker',
  })
  canaryRoundTripMs!: number | null;

  @ApiProperty({ description: 'Age of its oldest unacknowledged message, ms (0: none)' })
  oldestUnackedMs!: number;

  @ApiProperty()
  pendingMessages!: number;

  @ApiProperty({ description: 'Reading from the broker paused (backpressure)' })
  paused!: boolean;

  @ApiProperty({ description: 'Writers whose writes keep failing, with how long, ms' })
  retryingWriters!: { writer: string; failingForMs: number }[];
}

export class IngestHealthDto implements IngestHealthResource {
  @ApiProperty({ enum: ['up', 'stalled', 'down', 'unknown'] })
  status!: 'up' | 'stalled' | 'down' | 'unknown';

  @ApiProperty({ type: [String], description: 'What is wrong, in plain words' })
  problems!: string[];

  @ApiProperty({ type: [IngestInstanceHealthDto] })
  instances!: IngestInstanceHealthDto[];
}

export class DeliveriesHealthDto implements DeliveriesHealthResource {
  @ApiProperty({ enum: ['up', 'degraded', 'down'] })
  status!: 'up' | 'degraded' | 'down';

  @ApiProperty({ type: [String] })
  problems!: string[];
}

export class HealthDto implements HealthResource {
  @ApiProperty({ enum: ['ok', 'unavailable'] })
  status!: 'ok' | 'unavailable';

  @ApiProperty({ enum: ['up', 'down'] })
  database!: 'up' | 'down';

  @ApiProperty({ enum: ['up', 'down'] })
  broker!: 'up' | 'down';

  @ApiPropertyOptional({ type: IngestHealthDto, description: 'Absent when HEALTH_REQUIRE_INGEST=false' })
  ingest?: IngestHealthDto;

  @ApiProperty({
    type: DeliveriesHealthDto,
    description:
      'Whether people are told about alerts: down (503) when the escalation chain has stopped; degraded (200) when a channel failed recently.',
  })
  deliveries!: DeliveriesHealthDto;
}

interface StatusResponse {
  status(code: number): unknown;
}

/**
 * Readiness of the whole monitoring chain (contract §3.6): 200 only when the database and the broker
 * answer and an ingest is consuming (connected, subscribed, its canary coming back, nothing stuck);
 * 503 otherwise, with the problems in plain words.
 */
@ApiTags('operations')
@Public()
@Controller('health')
export class HealthController {
  constructor(private readonly health: SystemHealthService) {}

  @Get()
  @ApiOperation({ summary: 'Database, broker and ingest status; 503 when any is not working.' })
  @ApiOkResponse({ type: HealthDto })
  @ApiServiceUnavailableResponse({ type: HealthDto })
  async get(@Res({ passthrough: true }) response: StatusResponse): Promise<HealthDto> {
    const health = await this.health.check();
    response.status(health.status === 'ok' ? 200 : 503);
    return health;
  }
}

/**
 * The same report for the dashboard's "Monitoring interrupted" banner, always 200 (the answer is the
 * body): a 503 would be a failed request to the browser, where it is news to show.
 */
@ApiTags('operations')
@ApiBearerAuth()
@Roles('admin', 'clinician')
@Controller('monitoring')
export class MonitoringController {
  constructor(private readonly health: SystemHealthService) {}

  @Get()
  @ApiOperation({ summary: 'Whether monitoring works (as /health), always 200 (clinicians, admins).' })
  @ApiOkResponse({ type: HealthDto })
  get(): Promise<HealthDto> {
    return this.health.check();
  }
}
