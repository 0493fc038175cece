import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { LANTERN_CONFIG, type LanternConfig } from '@lantern/config';
import { topicsFor, type ServiceMqttClient } from '@lantern/messaging';
import { DEFAULT_ESCALATION, nextTier, sharesAlert, tierChannels, type EscalationTier } from '@lantern/domain';
import {
  AlertDeliveryRepository,
  EscalationRepository,
  type ChainPerson,
  type ChainRecipients,
  type NewDelivery,
  type OpenChain,
  type StoredAlert,
} from '@lantern/storage';
import { API_BROKER } from '../broker/api-broker.tokens.js';
import { OUTBOUND_CHANNELS, type OutboundChannel } from './delivery-channel.js';
import { DeliveryDispatcher } from './delivery-dispatcher.js';
import { registerChainGauge } from './escalation.metrics.js';
import { SocketDeliveries } from './socket-deliveries.js';

/** How often the chain looks for due tiers. A tier is due at its wait to within this. */
export const CHAIN_TICK_MS = 1000;
/** A socket delivery no client of the person acknowledged within this ends failed (and lets the chain go on). */
export const SOCKET_DELIVERY_MS = 60_000;
/** A push handed to the push service whose service-worker receipt never came ends failed after this. */
export const PUSH_RECEIPT_MS = 10 * 60_000;

/**
 * Walks every open alert's escalation chain (contract §4.3, spec/alerting.md §5): each tick, for
 * each alert still open and not confirmed by a person, fans out every tier that is due — one
 * delivery per recipient, channel and target — then leaves the sending to the channels
 * (SocketDeliveries for the socket, DeliveryDispatcher for push, e-mail and the webhook). Runs in
 * every api instance: a tier is fanned out by exactly one (EscalationRepository.fanOut is a
 * conditional update). The state is all in the database, so a restart picks up where it stopped.
 */
@Injectable()
export class EscalationChainService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('EscalationChain');
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private failingSince: number | undefined;
  /** Wall time of the last tick that completed: health says when the chain has stopped walking. */
  lastTickAt: number | undefined;
  fannedOut = 0;

  private stopListening: (() => void) | undefined;
  private again = false;
  private closed = false;

  constructor(
    @Inject(LANTERN_CONFIG) private readonly config: LanternConfig,
    @Inject(API_BROKER) private readonly broker: ServiceMqttClient,
    private readonly escalations: EscalationRepository,
    private readonly deliveries: AlertDeliveryRepository,
    @Inject(OUTBOUND_CHANNELS) private readonly channels: readonly OutboundChannel[],
    private readonly dispatcher: DeliveryDispatcher,
    private readonly sockets: SocketDeliveries,
  ) {}

  onApplicationBootstrap(): void {
    registerChainGauge(() => (this.failingSince === undefined ? 1 : 0));
    this.timer = setInterval(() => void this.tickOnce(), CHAIN_TICK_MS);
    this.timer.unref();
    // A new alert's first tiers go out as soon as its event arrives instead of at the next tick
    // (QoS 0: only a hint; the tick is what guarantees it).
    const filter = topicsFor(this.config.mqttTopicRoot).allPatientAlerts;
    const prefix = filter.slice(0, filter.indexOf('+'));
    this.stopListening = this.broker.onMessage((topic) => {
      if (topic.startsWith(prefix) && topic.endsWith('/alerts')) void this.tickOnce();
    });
    void this.follow(filter);
  }

  /**
   * Subscribes once the broker connection is up (the client resubscribes after a reconnect): a
   * subscription queued while the broker is down would hold the connection's close at shutdown.
   */
  private async follow(filter: string): Promise<void> {
    while (!this.closed) {
      try {
        await this.broker.whenConnected(2000);
        await this.broker.subscribe([filter], 0);
        return;
      } catch {
        // Not connected yet, or the broker refused the filter for now: the tick still runs; look again.
      }
    }
  }

  async onApplicationShutdown(): Promise<void> {
    this.closed = true;
    clearInterval(this.timer);
    this.stopListening?.();
    await this.running;
  }

  /** When the chain has been failing (database down), epoch ms; undefined when healthy. */
  get failing(): number | undefined {
    return this.failingSince;
  }

  private async tickOnce(): Promise<void> {
    if (this.running) {
      // Something new arrived during a pass: run once more right after it.
      this.again = true;
      return;
    }
    this.running = this.tick()
      .then(() => {
        if (this.failingSince !== undefined) this.logger.log('The escalation chain runs again');
        this.failingSince = undefined;
      })
      .catch((error: unknown) => {
        if (this.failingSince === undefined)
          this.logger.error(`The escalation chain cannot run: ${(error as Error).message}`);
        this.failingSince ??= Date.now();
      })
      .finally(() => (this.running = undefined));
    await this.running;
    if (this.again) {
      this.again = false;
      await this.tickOnce();
    }
  }

  /** One pass at wall time `now`: expire what can no longer be delivered, then fan out every due tier. */
  async tick(now = Date.now()): Promise<void> {
    await this.deliveries.expire(SOCKET_DELIVERY_MS, PUSH_RECEIPT_MS);
    const chains = await this.escalations.openChains();
    const recipients = new Map<string, Promise<ChainRecipients>>();
    let fanned = false;
    for (const chain of chains) {
      const people = (): Promise<ChainRecipients> => {
        let found = recipients.get(chain.alert.patientId);
        if (!found) recipients.set(chain.alert.patientId, (found = this.escalations.recipients(chain.alert.patientId)));
        return found;
      };
      if (await this.advance(chain, now, people)) fanned = true;
    }
    this.lastTickAt = Date.now();
    if (fanned) {
      this.dispatcher.nudge();
      this.sockets.nudge();
    }
  }

  /** Fans out the chain's due tiers, in order; true when one went out. */
  private async advance(chain: OpenChain, now: number, people: () => Promise<ChainRecipients>): Promise<boolean> {
    const tiers = (chain.policy ?? DEFAULT_ESCALATION)[chain.alert.priority];
    let progress = {
      raisedAt: chain.alert.raisedAt,
      tierDone: chain.tierDone,
      unreachableSince: chain.unreachableSince,
    };
    let fanned = false;
    for (;;) {
      const next = nextTier(tiers, progress);
      if (next === undefined) {
        await this.escalations.finish(chain.alert, progress.tierDone);
        return fanned;
      }
      if (next.dueAt > now) return fanned;
      const deliveries = this.deliveriesOf(tiers[next.index], chain.alert, await people());
      if (!(await this.escalations.fanOut(chain.alert, progress.tierDone, next.index, deliveries))) return fanned;
      fanned = true;
      this.fannedOut += 1;
      progress = { ...progress, tierDone: next.index, unreachableSince: deliveries.length === 0 ? now : null };
    }
  }

  /** One delivery per person of the tier, channel and target; channels not configured make none. */
  private deliveriesOf(tier: EscalationTier, alert: StoredAlert, recipients: ChainRecipients): NewDelivery[] {
    const enabled = new Set(this.channels.filter((c) => c.enabled).map((c) => c.channel));
    if (tier.notify === 'webhook')
      return enabled.has('webhook')
        ? [{ recipientId: null, recipientRole: 'webhook', recipientName: null, channel: 'webhook', target: null }]
        : [];
    const people: readonly ChainPerson[] =
      tier.notify === 'patient'
        ? recipients.patient
        : tier.notify === 'care_team'
          ? recipients.careTeam
          : recipients.caregivers.filter((c) => sharesAlert(new Set(c.scopes ?? []), alert));
    const deliveries: NewDelivery[] = [];
    for (const person of people) {
      const who = { recipientId: person.id, recipientRole: person.role, recipientName: person.name };
      for (const channel of tierChannels(tier)) {
        if (channel === 'socket') deliveries.push({ ...who, channel, target: null });
        else if (channel === 'push' && enabled.has('push'))
          for (const subscription of person.pushSubscriptions)
            deliveries.push({ ...who, channel, target: subscription });
        else if (channel === 'email' && enabled.has('email'))
          deliveries.push({ ...who, channel, target: person.email });
      }
    }
    return deliveries;
  }
}
