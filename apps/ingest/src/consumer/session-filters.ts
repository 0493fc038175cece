import { Inject, Injectable, Logger } from '@nestjs/common';
import { LANTERN_CONFIG, type LanternConfig } from '@lantern/config';
import { IngestInstanceRepository } from '@lantern/storage';
import type { SessionLedger } from './ingest-subscription.js';

/**
 * The filters the persistent session of INGEST_MQTT_CLIENT_ID holds, as recorded in the database
 * (`IngestInstanceRepository.filtersOf`): the session may hold another configuration's filters
 * (topic root, protocol, shared or not), which are unsubscribed once the current ones are in place,
 * or they would go on queuing there. Owns that record: read at start, rewritten once subscribed.
 */
@Injectable()
export class SessionFilters {
  private readonly logger = new Logger('Ingest');

  constructor(
    @Inject(LANTERN_CONFIG) private readonly config: LanternConfig,
    private readonly instances: IngestInstanceRepository,
  ) {}

  /** The ledger for a start subscribing `filters`: the recorded ones it no longer names are stale. */
  async ledgerFor(filters: readonly string[]): Promise<SessionLedger> {
    const clientId = this.config.ingestMqttClientId;
    const previous = await this.instances.filtersOf(clientId);
    return {
      staleFilters: previous.filter((f) => !filters.includes(f)),
      recordFilters: (current) => {
        this.instances
          .recordFilters(clientId, current)
          .catch((error: unknown) =>
            this.logger.warn(`Recording the subscribed filters failed: ${(error as Error).message}`),
          );
      },
    };
  }
}
