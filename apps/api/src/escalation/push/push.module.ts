import { Module } from '@nestjs/common';
import { LANTERN_CONFIG, type LanternConfig } from '@lantern/config';
import { PatientNotificationRepository, PushSubscriptionRepository } from '@lantern/storage';
import { PushController } from './push.controller.js';
import { PushSubscriptionService } from './push-subscription.service.js';
import { VAPID_KEYS, resolveVapidKeys } from './vapid-keys.js';
import { WebPushChannel } from './web-push.channel.js';

/** Web Push: registration routes and the chain's push channel (docs/escalation.md, "Web Push"). */
@Module({
  controllers: [PushController],
  providers: [
    { provide: VAPID_KEYS, inject: [LANTERN_CONFIG], useFactory: (config: LanternConfig) => resolveVapidKeys(config) },
    PushSubscriptionRepository,
    PatientNotificationRepository,
    PushSubscriptionService,
    WebPushChannel,
  ],
  exports: [WebPushChannel],
})
export class PushModule {}
