import { Module } from '@nestjs/common';
import { AlertDeliveryRepository, EscalationRepository } from '@lantern/storage';
import { AlertsModule } from '../alerts/alerts.module.js';
import { LiveModule } from '../live/live.module.js';
import { WebhookChannel } from './channels/webhook.channel.js';
import { EmailModule } from './email/email.module.js';
import { EmailChannel } from './email/email.channel.js';
import { PushModule } from './push/push.module.js';
import { WebPushChannel } from './push/web-push.channel.js';
import { OUTBOUND_CHANNELS, type OutboundChannel } from './delivery-channel.js';
import { AlertConfirmationService } from './alert-confirmation.service.js';
import { DeliveryDispatcher } from './delivery-dispatcher.js';
import { DeliveryReceipts } from './delivery-receipts.js';
import { EscalationChainService } from './escalation-chain.service.js';
import { EscalationHealth } from './escalation-health.js';
import { EscalationPass } from './escalation-pass.js';
import { EscalationPolicyService } from './escalation-policy.service.js';
import { EscalationController } from './escalation.controller.js';
import { EscalationService } from './escalation.service.js';
import { SocketDeliveries } from './socket-deliveries.js';
import { TierFanOut } from './tier-fan-out.js';

/**
 * The escalation chain and its deliveries (contract §4.3). Outbound channels: add a channel's class
 * to `providers` and to the `inject` list and parameters of OUTBOUND_CHANNELS below.
 */
@Module({
  imports: [AlertsModule, LiveModule, PushModule, EmailModule],
  controllers: [EscalationController],
  providers: [
    EscalationRepository,
    AlertDeliveryRepository,
    DeliveryReceipts,
    WebhookChannel,
    {
      provide: OUTBOUND_CHANNELS,
      inject: [WebhookChannel, WebPushChannel, EmailChannel],
      useFactory: (webhook: WebhookChannel, push: WebPushChannel, email: EmailChannel): OutboundChannel[] => [
        webhook,
        push,
        email,
      ],
    },
    DeliveryDispatcher,
    SocketDeliveries,
    TierFanOut,
    EscalationPass,
    EscalationChainService,
    EscalationPolicyService,
    EscalationService,
    AlertConfirmationService,
    EscalationHealth,
  ],
  exports: [EscalationHealth],
})
export class EscalationModule {}
