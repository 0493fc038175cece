import type { Provider } from '@nestjs/common';
import { WebhookOutboxService } from '@lantern/messaging';
import {
  AlertRepository,
  AlertRuleOverrideRepository,
  LeaseRepository,
  PatientNotificationRepository,
  PatientSettingsRepository,
  WebhookDeliveryRepository,
} from '@lantern/storage';
import { AlertOutputWriter } from './alert-output.writer.js';
import { AlertStreamingService } from './alert-streaming.service.js';
import { AlertWebhookService } from './alert-webhook.service.js';
import { InternalEventsListener } from './internal-events.listener.js';
import { QuietHoursReleaseService } from './quiet-hours-release.service.js';

/** The streaming core's shell, as providers of the ingest module (it needs the module's stream, registry and broker connection). */
export const ALERTING_PROVIDERS: Provider[] = [
  AlertRepository,
  AlertRuleOverrideRepository,
  LeaseRepository,
  WebhookDeliveryRepository,
  WebhookOutboxService,
  AlertWebhookService,
  AlertOutputWriter,
  AlertStreamingService,
  InternalEventsListener,
  PatientNotificationRepository,
  PatientSettingsRepository,
  QuietHoursReleaseService,
];
