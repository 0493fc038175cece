import { Inject, Injectable } from '@nestjs/common';
import { DEFAULT_ESCALATION, nextTier, sharesAlert, tierChannels, type EscalationTier } from '@lantern/domain';
import {
  EscalationRepository,
  type ChainPerson,
  type ChainRecipients,
  type NewDelivery,
  type OpenChain,
  type StoredAlert,
} from '@lantern/storage';
import { OUTBOUND_CHANNELS, type OutboundChannel } from './delivery-channel.js';

/**
 * Fans out an open alert's due escalation tiers (contract §4.3, spec/alerting.md §5), in order:
 * one delivery per recipient, channel and target, channels not configured making none; a chain
 * with no tier left is finished. A tier is fanned out by exactly one api instance
 * (EscalationRepository.fanOut is a conditional update).
 */
@Injectable()
export class TierFanOut {
  fannedOut = 0;

  constructor(
    private readonly escalations: EscalationRepository,
    @Inject(OUTBOUND_CHANNELS) private readonly channels: readonly OutboundChannel[],
  ) {}

  /** Fans out the chain's due tiers, in order; true when one went out. */
  async advance(chain: OpenChain, now: number, people: () => Promise<ChainRecipients>): Promise<boolean> {
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
