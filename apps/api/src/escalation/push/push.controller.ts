import { Body, Controller, Delete, Get, Headers, HttpCode, Post } from '@nestjs/common';
import {
  ApiBearerAuth,
  ApiCreatedResponse,
  ApiNoContentResponse,
  ApiOkResponse,
  ApiOperation,
  ApiTags,
} from '@nestjs/swagger';
import { CurrentPrincipal, type Principal } from '@lantern/auth';
import { ApiErrors } from '../../http/api-errors.decorator.js';
import {
  PushPublicKeyDto,
  PushSubscriptionDto,
  RegisterPushSubscriptionDto,
  UnregisterPushSubscriptionDto,
  toPushSubscriptionDto,
} from './push.dto.js';
import { PushSubscriptionService } from './push-subscription.service.js';

/** Web Push registration (docs/escalation.md, "Web Push"): any signed-in person, for their own browsers. */
@ApiTags('me')
@ApiBearerAuth()
@ApiErrors(401)
@Controller()
export class PushController {
  constructor(private readonly push: PushSubscriptionService) {}

  @Get('push/public-key')
  @ApiOperation({ summary: 'The VAPID public key browsers subscribe with (any signed-in user).' })
  @ApiOkResponse({ type: PushPublicKeyDto })
  publicKey(): PushPublicKeyDto {
    return { publicKey: this.push.publicKey() };
  }

  @Post('me/push-subscriptions')
  @ApiOperation({
    summary: 'Get alerts on this browser: register its push subscription (any signed-in user).',
    description:
      "The body is the browser's `PushSubscription.toJSON()`. Registering an endpoint again replaces its keys; an endpoint registered by someone else on the same browser moves to the caller.",
  })
  @ApiCreatedResponse({ type: PushSubscriptionDto })
  @ApiErrors(400)
  async register(
    @CurrentPrincipal() principal: Principal,
    @Body() body: RegisterPushSubscriptionDto,
    @Headers('user-agent') userAgent: string | undefined,
  ): Promise<PushSubscriptionDto> {
    return toPushSubscriptionDto(await this.push.register(principal.userId, body, userAgent));
  }

  @Delete('me/push-subscriptions')
  @HttpCode(204)
  @ApiOperation({ summary: "Stop alerts on a browser: remove the caller's subscription of `endpoint`." })
  @ApiNoContentResponse()
  @ApiErrors(400, 404)
  async unregister(
    @CurrentPrincipal() principal: Principal,
    @Body() body: UnregisterPushSubscriptionDto,
  ): Promise<void> {
    await this.push.unregister(principal.userId, body.endpoint);
  }
}
