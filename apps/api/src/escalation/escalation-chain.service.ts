import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { LANTERN_CONFIG, type LanternConfig } from '@lantern/config';
import { topicsFor, type ServiceMqttClient } from '@lantern/messaging';
import { API_BROKER } from '../broker/api-broker.tokens.js';
import { EscalationPass } from './escalation-pass.js';
import { registerChainGauge } from './escalation.metrics.js';

/** How often the chain looks for due tiers. A tier is due at its wait to within this. */
export const CHAIN_TICK_MS = 1000;

/**
 * Walks every open alert's escalation chain (contract §4.3, spec/alerting.md §5): each tick — and
 * at once when a new alert's event arrives — runs one EscalationPass, which for each alert still
 * open and not confirmed by a person fans out every tier that is due (TierFanOut) and leaves the
 * sending to the channels. Owns the loop: its timer, one pass at a time, whether it is failing and
 * when it last completed (EscalationHealth). Runs in every api instance: a tier is fanned out by
 * exactly one (EscalationRepository.fanOut is a conditional update). The state is all in the
 * database, so a restart picks up where it stopped.
 */
@Injectable()
export class EscalationChainService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('EscalationChain');
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private failingSince: number | undefined;
  /** Wall time of the last tick that completed: health says when the chain has stopped walking. */
  lastTickAt: number | undefined;

  private stopListening: (() => void) | undefined;
  private again = false;
  private closed = false;

  constructor(
    @Inject(LANTERN_CONFIG) private readonly config: LanternConfig,
    @Inject(API_BROKER) private readonly broker: ServiceMqttClient,
    private readonly pass: EscalationPass,
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

  /** One pass at wall time `now` (EscalationPass), then the time it completed. */
  async tick(now = Date.now()): Promise<void> {
    await this.pass.run(now);
    this.lastTickAt = Date.now();
  }
}
