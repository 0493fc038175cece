import type { Logger } from '@nestjs/common';
import type { LanternConfig } from '@lantern/config';
import { sharedFilter, topicsFor } from '@lantern/messaging';

/** Shared-subscription group of the ingest instances. */
export const INGEST_SHARE_GROUP = 'ingest';

/** A refused or failed subscription is tried again after this long (while connected). */
const RESUBSCRIBE_RETRY_MS = 5000;

/** The persistent session's subscriptions as the previous run left them, and where to record the new set. */
export interface SessionLedger {
  /** Filters a previous configuration subscribed on this client id's session that the current one does not name. */
  readonly staleFilters: readonly string[];
  /** Called once the current filters are subscribed and the stale ones unsubscribed (may be called again). */
  recordFilters(filters: readonly string[]): void;
}

/**
 * The part of mqtt.js's client a subscription needs, typed here so that this file does not load
 * mqtt.js (only IngestMqttConnection does: the `one-broker-connection-per-process` rule).
 */
export interface SubscribingClient {
  readonly connected: boolean;
  subscribe(
    filters: string[],
    options: { qos: 1 },
    callback: (error: Error | null, granted?: readonly { topic: string; qos: number }[]) => void,
  ): unknown;
  unsubscribe(filters: string[], callback: (error?: Error) => void): unknown;
}

/** Whether the ingest is consuming: connected with every filter granted (see ConnectionHealth). */
export interface SubscriptionState {
  /** Filters granted on the current connection ([] until the SUBACK, or when refused). */
  readonly subscribed: readonly string[];
  /** Since when it has not been connected with every filter granted; null while it is. */
  readonly notConsumingSince: number | null;
}

/**
 * The filters a configuration subscribes to: the device topics (shared on MQTT 5 when
 * INGEST_SHARED_SUBSCRIPTION is on), the instance's canary and the control topics.
 */
export function ingestFilters(config: LanternConfig, version: 4 | 5, controlTopics: Iterable<string>): string[] {
  const topics = topicsFor(config.mqttTopicRoot);
  return [
    ...[topics.allTelemetry, topics.allStatus].map((f) =>
      version === 5 && config.ingestSharedSubscription ? sharedFilter(INGEST_SHARE_GROUP, f) : f,
    ),
    topics.ingestCanary(config.ingestMqttClientId),
    ...controlTopics,
  ];
}

/**
 * Keeps the persistent session subscribed to the current filters: subscribes on every connect
 * whatever the session state — a resumed session may hold another configuration's filters, or none
 * if the broker lost them; SUBSCRIBE is idempotent — retries a refused or failed SUBSCRIBE, and drops
 * the stale filters the ledger names once the current ones are granted.
 */
export class IngestSubscription {
  private subscribed: string[] = [];
  private notConsumingSince: number | null = Date.now();

  constructor(private readonly logger: Logger) {}

  get state(): SubscriptionState {
    return { subscribed: this.subscribed, notConsumingSince: this.notConsumingSince };
  }

  /**
   * What to do on each connect of `client`: subscribe `filters` (again until granted, while
   * `isCurrent` says the client is still the connection's), then unsubscribe the ledger's stale ones.
   */
  onEveryConnect(
    client: SubscribingClient,
    filters: string[],
    ledger: SessionLedger,
    isCurrent: () => boolean,
  ): () => void {
    let stale = ledger.staleFilters.filter((f) => !filters.includes(f));
    const subscribe = (): void => {
      if (!isCurrent() || !client.connected) return;
      client.subscribe(filters, { qos: 1 }, (error, granted) => {
        const refused = (granted ?? []).filter((g) => g.qos > 2).map((g) => g.topic);
        if (error || refused.length > 0) {
          this.subscribed = (granted ?? []).filter((g) => g.qos <= 2).map((g) => g.topic);
          this.notConsumingSince ??= Date.now();
          this.logger.error(
            `Subscribing failed (${error ? error.message : `refused: ${refused.join(', ')}`}); retrying in ${RESUBSCRIBE_RETRY_MS} ms`,
          );
          setTimeout(subscribe, RESUBSCRIBE_RETRY_MS).unref();
          return;
        }
        this.subscribed = filters;
        this.notConsumingSince = null;
        this.logger.log(`Subscribed to ${filters.join(', ')}`);
        if (stale.length === 0) return ledger.recordFilters(filters);
        const dropping = stale;
        client.unsubscribe(dropping, (unsubscribeError) => {
          if (unsubscribeError) {
            this.logger.warn(
              `Unsubscribing stale filters failed (retried on the next connect): ${unsubscribeError.message}`,
            );
            return;
          }
          stale = [];
          this.logger.warn(`Unsubscribed filters a previous configuration left on the session: ${dropping.join(', ')}`);
          ledger.recordFilters(filters);
        });
      });
    };
    return subscribe;
  }

  /** The connection closed: nothing is subscribed until the next connect's SUBACK. */
  connectionLost(): void {
    this.subscribed = [];
    this.notConsumingSince ??= Date.now();
  }
}
