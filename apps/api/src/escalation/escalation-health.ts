import { Injectable } from '@nestjs/common';
import { AlertDeliveryRepository } from '@lantern/storage';
import { CHAIN_TICK_MS, EscalationChainService } from './escalation-chain.service.js';

/** A chain that has not completed a pass for this long has stopped telling people. */
const STALLED_MS = 15 * CHAIN_TICK_MS;
/** Failed deliveries within this window are reported. */
const RECENT_MS = 15 * 60_000;

const CHANNEL_WORDS = {
  push: 'Push notifications',
  email: 'E-mails',
  webhook: 'Webhook deliveries',
  socket: 'Socket deliveries',
};

export interface EscalationHealthVerdict {
  /** down: the chain has stopped (nobody is being told); degraded: a channel's deliveries failed recently. */
  readonly status: 'up' | 'degraded' | 'down';
  readonly problems: string[];
}

/** Whether people are being told about alerts, for /health and the dashboard's monitoring banner. */
@Injectable()
export class EscalationHealth {
  constructor(
    private readonly chain: EscalationChainService,
    private readonly deliveries: AlertDeliveryRepository,
  ) {}

  async check(now = Date.now()): Promise<EscalationHealthVerdict> {
    const last = this.chain.lastTickAt;
    if (this.chain.failing !== undefined || (last !== undefined && now - last > STALLED_MS)) {
      const since = this.chain.failing ?? last!;
      return {
        status: 'down',
        problems: [
          `Alert escalation has stopped for ${Math.round((now - since) / 1000)} s: nobody is being told about new alerts.`,
        ],
      };
    }
    const failures = await this.deliveries.failuresSince(now - RECENT_MS);
    if (failures.length === 0) return { status: 'up', problems: [] };
    return {
      status: 'degraded',
      problems: failures.map(
        (f) =>
          `${CHANNEL_WORDS[f.channel]} are failing: ${f.count} failed in the last 15 minutes (latest: ${f.lastError}).`,
      ),
    };
  }
}
