import { Controller, Get, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { AuditService, Roles } from '@lantern/auth';
import { ApiErrors } from '../http/api-errors.decorator.js';
import { AuditEntryDto, AuditQueryDto, toAuditEntryDto } from './audit.dto.js';

@ApiTags('audit')
@ApiBearerAuth()
@Roles('admin')
@Controller('audit')
export class AuditController {
  constructor(private readonly audit: AuditService) {}

  @Get()
  @ApiOperation({ summary: 'The audit log, newest first (admin).' })
  @ApiOkResponse({ type: [AuditEntryDto] })
  @ApiErrors(400, 401, 403)
  async list(@Query() query: AuditQueryDto): Promise<AuditEntryDto[]> {
    const records = await this.audit.list({
      patientId: query.patientId,
      actorId: query.actorId,
      beforeId: query.before,
      limit: query.limit ?? 100,
    });
    return records.map(toAuditEntryDto);
  }
}
