import { Body, Controller, HttpCode, Logger, Post } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { MqttAccessService, Public, type MqttAction } from '@lantern/auth';
import { ApiErrors } from '../http/api-errors.decorator.js';
import { MqttAuthenticateDto, MqttAuthorizeDto, MqttDecisionDto, MqttSuperuserDto } from './mqtt-auth.dto.js';

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
 * HTTP authentication/authorization hooks for external brokers (contract §1). Public (the broker
 * calls them without a token): expose them only on the network the broker uses (docs/security.md).
 * The answer never says why a request was denied; the reason goes to the debug log.
 */
@ApiTags('broker hooks')
@Public()
@Controller('mqtt')
export class MqttAuthController {
  private readonly logger = new Logger('MqttAuth');

  constructor(private readonly access: MqttAccessService) {}

  @Post('authenticate')
  @HttpCode(200)
  @ApiOperation({ summary: 'May this username/password connect? (EMQX HTTP authn, mosquitto-go-auth getuser)' })
  @ApiOkResponse({ type: MqttDecisionDto })
  @ApiErrors(400)
  async authenticate(@Body() body: MqttAuthenticateDto): Promise<MqttDecisionDto> {
    const decision = await this.access.authenticate(body.username, body.password);
    if (!decision.allowed) {
      this.logger.debug(`Refused MQTT connect of ${body.username}: ${decision.reason}`);
      return deny({ is_superuser: false });
    }
    return allow({ is_superuser: decision.superuser });
  }

  @Post('authorize')
  @HttpCode(200)
  @ApiOperation({
    summary: 'May this client publish/subscribe to this topic? (EMQX HTTP authz, mosquitto-go-auth aclcheck)',
  })
  @ApiOkResponse({ type: MqttDecisionDto })
  @ApiErrors(400)
  async authorize(@Body() body: MqttAuthorizeDto): Promise<MqttDecisionDto> {
    const actions = actionsOf(body);
    if (actions.length === 0) return deny();
    for (const action of actions) {
      if (!(await this.access.authorize(body.username, action, body.topic))) {
        this.logger.debug(`Refused ${action} of ${body.username} on ${body.topic}`);
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
