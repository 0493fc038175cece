import { Module } from '@nestjs/common';
import {
  AlertRepository,
  AlertRuleOverrideRepository,
  EscalationRepository,
  PatientNotificationRepository,
} from '@lantern/storage';
import { LiveModule } from '../live/live.module.js';
import { AlertRuleService } from './alert-rule.service.js';
import { AlertCommandContexts } from './alert-command-contexts.js';
import { AlertCommandService } from './alert-command.service.js';
import { AlertDecisionStore } from './alert-decision-store.js';
import { AlertService } from './alert.service.js';
import { PatientNotificationService } from './patient-notification.service.js';
import { AlertsController } from './alerts.controller.js';
import { NotificationsController } from './notifications.controller.js';

/** Alerts, personalised alert rules (contract §3.4) and patients' notifications (§3.5). Publishes through the live module's broker connection. */
@Module({
  imports: [LiveModule],
  controllers: [AlertsController, NotificationsController],
  providers: [
    AlertRepository,
    AlertRuleOverrideRepository,
    EscalationRepository,
    PatientNotificationRepository,
    AlertService,
    AlertCommandContexts,
    AlertDecisionStore,
    AlertCommandService,
    AlertRuleService,
    PatientNotificationService,
  ],
  exports: [AlertService],
})
export class AlertsModule {}
