import { Body, Controller, Delete, Get, HttpCode, Param, ParseUUIDPipe, Post, Put } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiNoContentResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { CurrentActor, Public, Roles, type Actor } from '@lantern/auth';
import type { AlertConfirmed, AlertDeliveryResource, AlertTimeline, EscalationPolicy } from '@lantern/domain';
import { ApiErrors } from '../http/api-errors.decorator.js';
import { AlertConfirmationService } from './alert-confirmation.service.js';
import { EscalationPolicyService } from './escalation-policy.service.js';
import { EscalationService } from './escalation.service.js';

const POLICY_SCHEMA = {
  type: 'object',
  description:
    'Tiers per priority: { high: [{ notify: "patient"|"caregivers"|"care_team"|"webhook", afterSec, channels?: ["socket","push","email"] }], medium: [...], low: [...] }',
  example: {
    high: [
      { notify: 'patient', afterSec: 0 },
      { notify: 'care_team', afterSec: 0 },
      { notify: 'webhook', afterSec: 600 },
    ],
    medium: [{ notify: 'care_team', afterSec: 0 }],
    low: [{ notify: 'care_team', afterSec: 0, channels: ['socket'] }],
  },
};

@ApiTags('escalation')
@ApiBearerAuth()
@ApiErrors(401)
@Controller()
export class EscalationController {
  constructor(
    private readonly policies: EscalationPolicyService,
    private readonly escalation: EscalationService,
    private readonly confirmations: AlertConfirmationService,
  ) {}

  @Get('patients/:id/escalation')
  @ApiOperation({ summary: "Who is told about the patient's alerts, and when (care team, admin, the patient)." })
  @ApiOkResponse({ schema: POLICY_SCHEMA })
  @ApiErrors(400, 403, 404)
  policy(@CurrentActor() actor: Actor, @Param('id', ParseUUIDPipe) id: string): Promise<EscalationPolicy> {
    return this.policies.policy(actor, id);
  }

  @Put('patients/:id/escalation')
  @Roles('admin', 'clinician')
  @ApiOperation({ summary: "Set the patient's own escalation order (care team, admin)." })
  @ApiBody({ schema: POLICY_SCHEMA })
  @ApiOkResponse({ schema: POLICY_SCHEMA })
  @ApiErrors(400, 403, 404)
  putPolicy(
    @CurrentActor() actor: Actor,
    @Param('id', ParseUUIDPipe) id: string,
    @Body() body: unknown,
  ): Promise<EscalationPolicy> {
    return this.policies.putPolicy(actor, id, body);
  }

  @Delete('patients/:id/escalation')
  @Roles('admin', 'clinician')
  @ApiOperation({ summary: 'Back to the standard escalation order; answers it.' })
  @ApiOkResponse({ schema: POLICY_SCHEMA })
  @ApiErrors(400, 403, 404)
  deletePolicy(@CurrentActor() actor: Actor, @Param('id', ParseUUIDPipe) id: string): Promise<EscalationPolicy> {
    return this.policies.deletePolicy(actor, id);
  }

  @Get('alerts/:id/deliveries')
  @ApiOperation({
    summary: "Every delivery of the alert's escalation chain, with receipts (whoever may see the alert).",
    description:
      'deliveredAt is a receipt from the recipient side (socket acknowledgement, service-worker receipt, SMTP acceptance, webhook 2xx), never the attempt.',
  })
  @ApiOkResponse({ schema: { type: 'array', items: { type: 'object' } } })
  @ApiErrors(400, 404)
  deliveries(@CurrentActor() actor: Actor, @Param('id', ParseUUIDPipe) id: string): Promise<AlertDeliveryResource[]> {
    return this.escalation.deliveries(actor, id);
  }

  @Get('alerts/:id/timeline')
  @ApiOperation({ summary: "The alert, its chain's tiers (due, reached), its deliveries and who confirmed it." })
  @ApiOkResponse({ schema: { type: 'object' } })
  @ApiErrors(400, 404)
  timeline(@CurrentActor() actor: Actor, @Param('id', ParseUUIDPipe) id: string): Promise<AlertTimeline> {
    return this.escalation.timeline(actor, id);
  }

  @Post('me/alerts/:id/acknowledge')
  @HttpCode(200)
  @Roles('patient', 'caregiver')
  @ApiOperation({
    summary:
      '"I\'m taking care of it": the patient or a caregiver confirms an alert, which stops its escalation chain.',
  })
  @ApiOkResponse({
    schema: { type: 'object', example: { alertId: 'uuid', confirmedAt: 'iso', by: { id: 'uuid', role: 'patient' } } },
  })
  @ApiErrors(400, 403, 404, 409)
  confirm(@CurrentActor() actor: Actor, @Param('id', ParseUUIDPipe) id: string): Promise<AlertConfirmed> {
    return this.confirmations.confirm(actor, id);
  }

  @Post('deliveries/:id/receipt')
  @Public()
  @HttpCode(204)
  @ApiOperation({
    summary:
      "A recipient device's receipt of a delivery (the service worker's push receipt); no access token, the delivery's receipt token.",
  })
  @ApiBody({ schema: { type: 'object', example: { token: 'receipt token', event: 'delivered' } } })
  @ApiNoContentResponse()
  @ApiErrors(400, 404)
  async receipt(
    @Param('id', ParseUUIDPipe) id: string,
    @Body() body: { token?: unknown; event?: unknown },
  ): Promise<void> {
    await this.escalation.receipt(id, body?.token, body?.event);
  }
}
