import { Controller, Get, Res } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiProperty, ApiServiceUnavailableResponse, ApiTags } from '@nestjs/swagger';
import { DataSource } from 'typeorm';
import { Public } from '@lantern/auth';
import { DeviceRevocationPublisher } from '../devices/device-revocation.publisher.js';

export class HealthDto {
  @ApiProperty({ enum: ['ok', 'unavailable'] })
  status!: 'ok' | 'unavailable';

  @ApiProperty({ enum: ['up', 'down'] })
  database!: 'up' | 'down';

  @ApiProperty({ enum: ['up', 'down'] })
  broker!: 'up' | 'down';
}

interface StatusResponse {
  status(code: number): unknown;
}

/** Liveness/readiness (contract §3.6): 200 when the database and the broker answer, 503 otherwise. */
@ApiTags('operations')
@Public()
@Controller('health')
export class HealthController {
  constructor(
    private readonly db: DataSource,
    private readonly broker: DeviceRevocationPublisher,
  ) {}

  @Get()
  @ApiOperation({ summary: 'Database and broker status; 503 when either is down.' })
  @ApiOkResponse({ type: HealthDto })
  @ApiServiceUnavailableResponse({ type: HealthDto })
  async health(@Res({ passthrough: true }) response: StatusResponse): Promise<HealthDto> {
    const database = await this.pingDatabase();
    const broker = this.broker.connected ? 'up' : 'down';
    const ok = database === 'up' && broker === 'up';
    response.status(ok ? 200 : 503);
    return { status: ok ? 'ok' : 'unavailable', database, broker };
  }

  private async pingDatabase(): Promise<'up' | 'down'> {
    try {
      await Promise.race([
        this.db.query('SELECT 1'),
        new Promise((_, reject) => setTimeout(() => reject(new Error('timeout')), 2000).unref()),
      ]);
      return 'up';
    } catch {
      return 'down';
    }
  }
}
