import { Injectable } from '@nestjs/common';
import { toAlertResource, type AlertTransitionKind } from '@lantern/alerting';
import { AlertRepository } from '@lantern/storage';
import { AlertWebhookService } from './alert-webhook.service.js';
import { StreamingCore } from './streaming-core.js';

/**
 * Follows the alert changes a clinician makes through the api (acknowledge, resolve): the engine
 * adopts the stored row, and the change's transitions go to the webhook, which only the ingest role
 * delivers. The api announces each change on `{root}/internal/alert-changed` (InternalEventsListener).
 */
@Injectable()
export class AlertChangeSync {
  constructor(
    private readonly alerts: AlertRepository,
    private readonly core: StreamingCore,
    private readonly webhook: AlertWebhookService,
  ) {}

  /**
   * Adopts a clinician's acknowledgement or resolution (after `{root}/internal/alert-changed`) and
   * sends its transitions to the webhook, which only the ingest role delivers.
   */
  async reloadAlert(alertId: string, kinds: readonly AlertTransitionKind[] = []): Promise<void> {
    const stored = await this.alerts.findById(alertId);
    if (!stored) return;
    this.core.engine.applyExternal(stored);
    for (const kind of kinds) this.webhook.send(kind, toAlertResource(stored));
  }
}
