import { Controller, Get, Param, ParseUUIDPipe, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiExtraModels, ApiOkResponse, ApiOperation, ApiTags, getSchemaPath } from '@nestjs/swagger';
import { CurrentActor, type Actor } from '@lantern/auth';
import { ApiErrors } from '../http/api-errors.decorator.js';
import {
  LatestReadingDto,
  PeriodQueryDto,
  ReadingBucketDto,
  ReadingPageDto,
  ReadingsQueryDto,
  ReadingSummaryDto,
} from './reading.dto.js';
import { ReadingsService } from './readings.service.js';

@ApiTags('readings')
@ApiBearerAuth()
@ApiErrors(400, 401, 404)
@ApiExtraModels(ReadingPageDto, ReadingBucketDto)
@Controller('patients/:id')
export class ReadingsController {
  constructor(private readonly readings: ReadingsService) {}

  @Get('readings')
  @ApiOperation({
    summary:
      'Reading history: raw readings (time ascending, paged by cursor) or, with `bucket`, min/max/avg/count per bucket.',
  })
  @ApiOkResponse({
    schema: {
      oneOf: [
        { $ref: getSchemaPath(ReadingPageDto) },
        { type: 'array', items: { $ref: getSchemaPath(ReadingBucketDto) } },
      ],
    },
  })
  history(
    @CurrentActor() actor: Actor,
    @Param('id', new ParseUUIDPipe()) patientId: string,
    @Query() query: ReadingsQueryDto,
  ): Promise<ReadingPageDto | ReadingBucketDto[]> {
    return this.readings.history(actor, patientId, query);
  }

  @Get('latest')
  @ApiOperation({
    summary:
      'The newest reading of every metric, with its time, device, age and the device’s monitoring state (a lost device’s value is marked stale).',
  })
  @ApiOkResponse({ type: [LatestReadingDto] })
  latest(
    @CurrentActor() actor: Actor,
    @Param('id', new ParseUUIDPipe()) patientId: string,
  ): Promise<LatestReadingDto[]> {
    return this.readings.latest(actor, patientId);
  }

  @Get('summary')
  @ApiOperation({
    summary: 'Per-metric statistics and coverage for a period (default: the last 14 days); CGM figures for glucose.',
  })
  @ApiOkResponse({ type: ReadingSummaryDto })
  summary(
    @CurrentActor() actor: Actor,
    @Param('id', new ParseUUIDPipe()) patientId: string,
    @Query() query: PeriodQueryDto,
  ): Promise<ReadingSummaryDto> {
    return this.readings.summary(actor, patientId, query.from, query.to);
  }
}
