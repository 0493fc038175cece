import { Injectable } from '@nestjs/common';
import { AlertDeliveryRepository, EscalationRepository, type ChainRecipients } from '@lantern/storage';
import { DeliveryDispatcher } from './delivery-dispatcher.js';
import { SocketDeliveries } from './socket-deliveries.js';
import { TierFanOut } from './tier-fan-out.js';

/** A socket delivery no client of the person acknowledged within this ends failed (and lets the chain go on). */
export const SOCKET_DELIVERY_MS = 60_000;
/** A push handed to the push service whose service-worker receipt never came ends failed after this. */
export const PUSH_RECEIPT_MS = 10 * 60_000;

/**
 * One pass over every open alert's escalation chain (EscalationChainService runs it each tick):
 * expires the deliveries that can no longer be made, has TierFanOut fan out each chain's due tiers
 * (the recipients of a patient read once per pass), then wakes the channels that send them
 * (SocketDeliveries for the socket, DeliveryDispatcher for push, e-mail and the webhook).
 */
@Injectable()
export class EscalationPass {
  constructor(
    private readonly escalations: EscalationRepository,
    private readonly deliveries: AlertDeliveryRepository,
    private readonly fanOut: TierFanOut,
    private readonly dispatcher: DeliveryDispatcher,
    private readonly sockets: SocketDeliveries,
  ) {}

  /** One pass at wall time `now`: expire what can no longer be delivered, then fan out every due tier. */
  async run(now: number): Promise<void> {
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
      if (await this.fanOut.advance(chain, now, people)) fanned = true;
    }
    if (fanned) {
      this.dispatcher.nudge();
      this.sockets.nudge();
    }
  }
}
