import { Controller, Get, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiProperty, ApiPropertyOptional, ApiTags } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsIn, IsInt, IsOptional, Max, Min } from 'class-validator';
import { Roles } from '@lantern/auth';
import { WebhookDeliveryRepository, type WebhookDeliveryRecord, type WebhookDeliveryState } from '@lantern/storage';
import { ApiErrors } from '../http/api-errors.decorator.js';

const STATES: WebhookDeliveryState[] = ['pending', 'delivered', 'failed'];

export class WebhookDeliveryQueryDto {
  @ApiPropertyOptional({ enum: STATES })
  @IsOptional()
  @IsIn(STATES)
  state?: WebhookDeliveryState;

  @ApiPropertyOptional({ minimum: 1, maximum: 1000, default: 100 })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(1000)
  limit?: number;
}

export class WebhookDeliveryDto {
  @ApiProperty({ format: 'uuid', description: 'The X-Lantern-Delivery id receivers deduplicate by' })
  id!: string;

  @ApiProperty({ example: 'alert.opened' })
  event!: string;

  @ApiProperty({ enum: STATES })
  state!: WebhookDeliveryState;

  @ApiProperty()
  attempts!: number;

  @ApiProperty({ type: String, format: 'date-time' })
  createdAt!: string;

  @ApiProperty({ type: String, format: 'date-time', description: 'When a pending delivery is tried next' })
  nextAttemptAt!: string;

  @ApiPropertyOptional({ description: 'Why the last attempt failed' })
  lastError?: string;

  @ApiPropertyOptional({ type: String, format: 'date-time' })
  finishedAt?: string;
}

function toDto(d: WebhookDeliveryRecord): WebhookDeliveryDto {
  return {
    id: d.id,
    event: d.event,
    state: d.state,
    attempts: d.attempts,
    createdAt: new Date(d.createdAt).toISOString(),
    nextAttemptAt: new Date(d.nextAttemptAt).toISOString(),
    ...(d.lastError === null ? {} : { lastError: d.lastError }),
    ...(d.finishedAt === null ? {} : { finishedAt: new Date(d.finishedAt).toISOString() }),
  };
}

/** The webhook outbox, for admins: what is waiting, what arrived, what never will and why. */
@ApiTags('operations')
@ApiBearerAuth()
@Roles('admin')
@Controller('webhook-deliveries')
export class WebhookDeliveriesController {
  constructor(private readonly deliveries: WebhookDeliveryRepository) {}

  @Get()
  @ApiOperation({ summary: 'Webhook deliveries, newest first, by state (admin). Bodies are not shown.' })
  @ApiOkResponse({ type: [WebhookDeliveryDto] })
  @ApiErrors(400, 401, 403)
  async list(@Query() query: WebhookDeliveryQueryDto): Promise<WebhookDeliveryDto[]> {
    return (await this.deliveries.list({ state: query.state, limit: query.limit ?? 100 })).map(toDto);
  }
}
