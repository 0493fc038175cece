import { Body, Controller, HttpCode, Logger, Post, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { MqttAccessService, Public, type MqttAction } from '@lantern/auth';
import { ApiErrors } from '../http/api-errors.decorator.js';
import { MqttAuthenticateDto, MqttAuthorizeDto, MqttDecisionDto, MqttSuperuserDto } from './mqtt-auth.dto.js';
import { MQTT_HOOK_SECURITY, MqttHookSecretGuard } from './mqtt-hook-secret.guard.js';

const allow = (extra: Partial<MqttDecisionDto> = {}): MqttDecisionDto => ({
  result: 'allow',
  Ok: true,
  Error: '',
  ...extra,
});
const deny = (extra: Partial<MqttDecisionDto> = {}): MqttDecisionDto => ({
  result: 'deny',
  Ok: false,
  Error: 'denied',
  ...extra,
});

/** mosquitto-go-auth's access levels as the actions they need; read-write needs both. */
function actionsOf(body: MqttAuthorizeDto): MqttAction[] {
  if (body.action !== undefined) return [body.action];
  switch (body.acc) {
    case 1:
    case 4:
      return ['subscribe'];
    case 2:
      return ['publish'];
    case 3:
      return ['subscribe', 'publish'];
    case undefined:
    default:
      return [];
  }
}

/**
 * HTTP authentication/authorization hooks for external brokers (contract §1). No user token (the
 * broker calls them): instead every call must carry MQTT_HOOK_SECRET (MqttHookSecretGuard: 401
 * without it, 429 after repeated failures). Expose them only on the network the broker uses too
 * (docs/security.md). The answer never says why a request was denied; the reason goes to the debug log.
 */
@ApiTags('broker hooks')
@ApiBearerAuth(MQTT_HOOK_SECURITY)
@ApiErrors(401, 429)
@Public()
@UseGuards(MqttHookSecretGuard)
@Controller('mqtt')
export class MqttAuthController {
  private readonly logger = new Logger('MqttAuth');

  constructor(private readonly access: MqttAccessService) {}

  @Post('authenticate')
  @HttpCode(200)
  @ApiOperation({
    summary: 'May this username/password connect with this client id? (EMQX HTTP authn, mosquitto-go-auth getuser)',
    description:
      'A device connects with user name = its device id (lowercase, as provisioned) and client id = the same id; any other spelling or client id is denied. The service user may use any client id.',
  })
  @ApiOkResponse({ type: MqttDecisionDto })
  @ApiErrors(400)
  async authenticate(@Body() body: MqttAuthenticateDto): Promise<MqttDecisionDto> {
    const decision = await this.access.authenticate(body.username, body.password, body.clientid);
    if (!decision.allowed) {
      this.logger.debug(
        `Refused MQTT connect of ${JSON.stringify(body.username)} as client ${JSON.stringify(body.clientid)}: ${decision.reason}`,
      );
      return deny({ is_superuser: false });
    }
    return allow({ is_superuser: decision.superuser });
  }

  @Post('authorize')
  @HttpCode(200)
  @ApiOperation({
    summary: 'May this client publish/subscribe to this topic? (EMQX HTTP authz, mosquitto-go-auth aclcheck)',
    description:
      'A device only on its own topics, and only when its client id is its device id (checked again here: a broker may authorize clients it did not authenticate through this hook).',
  })
  @ApiOkResponse({ type: MqttDecisionDto })
  @ApiErrors(400)
  async authorize(@Body() body: MqttAuthorizeDto): Promise<MqttDecisionDto> {
    const actions = actionsOf(body);
    if (actions.length === 0) return deny();
    for (const action of actions) {
      const decision = await this.access.authorize(body.username, body.clientid, action, body.topic);
      if (!decision.allowed) {
        this.logger.debug(
          `Refused ${action} of ${JSON.stringify(body.username)} (client ${JSON.stringify(body.clientid)}) on ${JSON.stringify(body.topic)}: ${decision.reason}`,
        );
        return deny();
      }
    }
    return allow();
  }

  @Post('superuser')
  @HttpCode(200)
  @ApiOperation({
    summary: 'Is this user exempt from ACL checks? Only the service user. (mosquitto-go-auth superuser)',
  })
  @ApiOkResponse({ type: MqttDecisionDto })
  @ApiErrors(400)
  superuser(@Body() body: MqttSuperuserDto): MqttDecisionDto {
    return this.access.isServiceUser(body.username) ? allow() : deny();
  }
}
