import { Controller, Get, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { CurrentActor, Roles, type Actor } from '@lantern/auth';
import { ApiErrors } from '../http/api-errors.decorator.js';
import { IngestRejectionsService } from './ingest-rejections.service.js';
import { IngestRejectionDto, IngestRejectionQueryDto, toIngestRejectionDto } from './ingest-rejection.dto.js';

@ApiTags('ingest')
@ApiBearerAuth()
@Roles('admin')
@Controller('ingest/rejections')
export class IngestRejectionsController {
  constructor(private readonly rejections: IngestRejectionsService) {}

  @Get()
  @ApiOperation({
    summary:
      'Dead letters of the ingest: refused messages and readings with reason and raw payload, newest first (admin).',
  })
  @ApiOkResponse({ type: [IngestRejectionDto] })
  @ApiErrors(400, 401, 403)
  async list(@CurrentActor() actor: Actor, @Query() query: IngestRejectionQueryDto): Promise<IngestRejectionDto[]> {
    const records = await this.rejections.list(actor, {
      ...(query.deviceId === undefined ? {} : { deviceId: query.deviceId }),
      ...(query.from === undefined ? {} : { from: Date.parse(query.from) }),
      ...(query.to === undefined ? {} : { to: Date.parse(query.to) }),
      limit: query.limit ?? 100,
    });
    return records.map(toIngestRejectionDto);
  }
}
