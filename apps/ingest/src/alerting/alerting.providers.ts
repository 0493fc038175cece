import type { Provider } from '@nestjs/common';
import type { DataSource } from 'typeorm';
import { WebhookOutboxService } from '@lantern/messaging';
import {
  ALERT_LANE,
  AlertRepository,
  AlertRuleOverrideRepository,
  AlertTransitionRepository,
  LeaseRepository,
  PatientNotificationRepository,
  PatientSettingsRepository,
  WebhookDeliveryRepository,
} from '@lantern/storage';
import { AlertChangeSync } from './alert-change-sync.js';
import { AlertOutputWriter } from './alert-output.writer.js';
import { AlertStateRebuild } from './alert-state-rebuild.js';
import { AlertStreamingService } from './alert-streaming.service.js';
import { AlertWebhookService } from './alert-webhook.service.js';
import { InternalEventsListener } from './internal-events.listener.js';
import { QuietHoursReleaseService } from './quiet-hours-release.service.js';
import { RuleOverrideSync } from './rule-override-sync.js';
import { StreamingCore } from './streaming-core.js';

/** The streaming core's shell, as providers of the ingest module (it needs the module's stream, registry and broker connection). */
export const ALERTING_PROVIDERS: Provider[] = [
  AlertRepository,
  AlertRuleOverrideRepository,
  // The streaming core's writes go over its own connection (ALERT_LANE).
  {
    provide: AlertTransitionRepository,
    inject: [ALERT_LANE],
    useFactory: (lane: DataSource) => new AlertTransitionRepository(lane),
  },
  LeaseRepository,
  WebhookDeliveryRepository,
  WebhookOutboxService,
  AlertWebhookService,
  AlertOutputWriter,
  StreamingCore,
  RuleOverrideSync,
  AlertStateRebuild,
  AlertChangeSync,
  AlertStreamingService,
  InternalEventsListener,
  PatientNotificationRepository,
  PatientSettingsRepository,
  QuietHoursReleaseService,
];
