import { Body, Controller, Delete, Get, HttpCode, Param, ParseUUIDPipe, Post, Put, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { CurrentActor, Roles, type Actor } from '@lantern/auth';
import { ApiErrors } from '../http/api-errors.decorator.js';
import {
  AlertActionDto,
  AlertDto,
  AlertListQueryDto,
  AlertPageDto,
  AlertRuleDto,
  toAlertRuleDto,
} from './alert.dto.js';
import { AlertRuleService } from './alert-rule.service.js';
import { AlertCommandService } from './alert-command.service.js';
import { AlertService } from './alert.service.js';

@ApiTags('alerts')
@ApiBearerAuth()
@ApiErrors(401)
@Controller()
export class AlertsController {
  constructor(
    private readonly alerts: AlertService,
    private readonly commands: AlertCommandService,
    private readonly ruleSettings: AlertRuleService,
  ) {}

  @Get('alerts')
  @ApiOperation({ summary: 'Alerts of the patients visible to the caller, newest first, paged.' })
  @ApiOkResponse({ type: AlertPageDto })
  @ApiErrors(400, 404)
  list(@CurrentActor() actor: Actor, @Query() query: AlertListQueryDto): Promise<AlertPageDto> {
    return this.alerts.list(actor, query);
  }

  @Get('alerts/:id')
  @ApiOperation({ summary: 'One alert of a patient visible to the caller.' })
  @ApiOkResponse({ type: AlertDto })
  @ApiErrors(400, 404)
  get(@CurrentActor() actor: Actor, @Param('id', ParseUUIDPipe) id: string): Promise<AlertDto> {
    return this.alerts.get(actor, id);
  }

  @Post('alerts/:id/acknowledge')
  @HttpCode(200)
  @Roles('admin', 'clinician')
  @ApiOperation({
    summary:
      'Acknowledge an open alert. A latched (cleared) high alert resolves at once; otherwise it resolves when its condition clears.',
  })
  @ApiOkResponse({ type: AlertDto })
  @ApiErrors(400, 403, 404, 409)
  acknowledge(
    @CurrentActor() actor: Actor,
    @Param('id', ParseUUIDPipe) id: string,
    @Body() body: AlertActionDto,
  ): Promise<AlertDto> {
    return this.commands.acknowledge(actor, id, body.note);
  }

  @Post('alerts/:id/resolve')
  @HttpCode(200)
  @Roles('admin', 'clinician')
  @ApiOperation({
    summary: 'Resolve an active alert by hand. Its rule opens no new alert until its condition has cleared.',
  })
  @ApiOkResponse({ type: AlertDto })
  @ApiErrors(400, 403, 404, 409)
  resolve(
    @CurrentActor() actor: Actor,
    @Param('id', ParseUUIDPipe) id: string,
    @Body() body: AlertActionDto,
  ): Promise<AlertDto> {
    return this.commands.resolve(actor, id, body.note);
  }

  @Get('patients/:id/alert-rules')
  @ApiOperation({
    summary: "The patient's effective alert rules: catalog defaults merged with the patient's overrides.",
  })
  @ApiOkResponse({ type: [AlertRuleDto] })
  @ApiErrors(400, 404)
  async rules(@CurrentActor() actor: Actor, @Param('id', ParseUUIDPipe) id: string): Promise<AlertRuleDto[]> {
    return (await this.ruleSettings.rules(actor, id)).map(toAlertRuleDto);
  }

  @Put('patients/:id/alert-rules/:ruleKey')
  @Roles('admin', 'clinician')
  @ApiOperation({
    summary: 'Override a rule for this patient (merged into any earlier override); live on the stream within 2 s.',
  })
  @ApiBody({
    schema: { type: 'object', additionalProperties: true, example: { enabled: true, threshold: 65, delaySec: 300 } },
  })
  @ApiOkResponse({ type: AlertRuleDto })
  @ApiErrors(400, 403, 404)
  async putRule(
    @CurrentActor() actor: Actor,
    @Param('id', ParseUUIDPipe) id: string,
    @Param('ruleKey') ruleKey: string,
    @Body() body: Record<string, unknown>,
  ): Promise<AlertRuleDto> {
    return toAlertRuleDto(await this.ruleSettings.putRule(actor, id, ruleKey, body));
  }

  @Delete('patients/:id/alert-rules/:ruleKey')
  @Roles('admin', 'clinician')
  @ApiOperation({ summary: 'Revert a rule to the catalog default for this patient.' })
  @ApiOkResponse({ type: AlertRuleDto })
  @ApiErrors(400, 403, 404)
  async deleteRule(
    @CurrentActor() actor: Actor,
    @Param('id', ParseUUIDPipe) id: string,
    @Param('ruleKey') ruleKey: string,
  ): Promise<AlertRuleDto> {
    return toAlertRuleDto(await this.ruleSettings.deleteRule(actor, id, ruleKey));
  }
}
