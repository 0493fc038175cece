import { Body, Controller, Delete, Get, HttpCode, Param, ParseUUIDPipe, Patch, Post, Query } from '@nestjs/common';
import {
  ApiBearerAuth,
  ApiCreatedResponse,
  ApiNoContentResponse,
  ApiOkResponse,
  ApiOperation,
  ApiTags,
} from '@nestjs/swagger';
import { CurrentActor, Roles, type Actor } from '@lantern/auth';
import { ApiErrors } from '../http/api-errors.decorator.js';
import {
  AccessLogEntryDto,
  AccessLogQueryDto,
  CaregiverDto,
  ChangeScopesDto,
  InviteCaregiverDto,
  InvitedCaregiverDto,
  toAccessLogEntryDto,
  toCaregiverDto,
} from './care-circle.dto.js';
import { CareCircleService } from './care-circle.service.js';

@ApiTags('me')
@ApiBearerAuth()
@ApiErrors(401, 403)
@Roles('patient')
@Controller('me')
export class CareCircleController {
  constructor(private readonly careCircle: CareCircleService) {}

  @Post('caregivers')
  @ApiOperation({
    summary: 'Invite someone to see some of your data (patient).',
    description:
      'Answers the invitation token once (stored only as a hash; single use; expires after 7 days): pass it on yourself. Inviting an address that is still invited replaces its token and scopes; one that already accepted answers 409.',
  })
  @ApiCreatedResponse({ type: InvitedCaregiverDto })
  @ApiErrors(400, 409)
  async invite(@CurrentActor() actor: Actor, @Body() body: InviteCaregiverDto): Promise<InvitedCaregiverDto> {
    const { share, token, expiresAt } = await this.careCircle.invite(actor, body);
    return { ...toCaregiverDto(share), invitation: { token, expiresAt: expiresAt.toISOString() } };
  }

  @Get('caregivers')
  @ApiOperation({ summary: 'The people you share with, invited or active (patient).' })
  @ApiOkResponse({ type: [CaregiverDto] })
  async list(@CurrentActor() actor: Actor): Promise<CaregiverDto[]> {
    return (await this.careCircle.list(actor)).map(toCaregiverDto);
  }

  @Patch('caregivers/:id')
  @ApiOperation({ summary: 'Change what a caregiver sees; applies at once, live included (patient).' })
  @ApiOkResponse({ type: CaregiverDto })
  @ApiErrors(400, 404)
  async changeScopes(
    @CurrentActor() actor: Actor,
    @Param('id', ParseUUIDPipe) id: string,
    @Body() body: ChangeScopesDto,
  ): Promise<CaregiverDto> {
    return toCaregiverDto(await this.careCircle.changeScopes(actor, id, body.scopes));
  }

  @Delete('caregivers/:id')
  @HttpCode(204)
  @ApiOperation({
    summary: 'Stop sharing with a caregiver (patient).',
    description: 'At once: their requests answer 404 and their open sockets stop receiving within 5 s.',
  })
  @ApiNoContentResponse()
  @ApiErrors(400, 404)
  async revoke(@CurrentActor() actor: Actor, @Param('id', ParseUUIDPipe) id: string): Promise<void> {
    await this.careCircle.revoke(actor, id);
  }

  @Get('access-log')
  @ApiOperation({
    summary: 'Who read, watched or changed your data, newest first, in plain words (patient).',
    description: 'Your own actions are left out. Paged: pass the last `id` as `before`.',
  })
  @ApiOkResponse({ type: [AccessLogEntryDto] })
  @ApiErrors(400)
  async accessLog(@CurrentActor() actor: Actor, @Query() query: AccessLogQueryDto): Promise<AccessLogEntryDto[]> {
    const entries = await this.careCircle.accessLog(actor, { before: query.before, limit: query.limit ?? 50 });
    return entries.map(toAccessLogEntryDto);
  }
}
