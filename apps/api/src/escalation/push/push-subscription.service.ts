import { Inject, Injectable } from '@nestjs/common';
import { LANTERN_CONFIG, type LanternConfig } from '@lantern/config';
import { BadRequestError, NotFoundError } from '@lantern/domain';
import { PushSubscriptionRepository, type PushSubscriptionRecord } from '@lantern/storage';
import { endpointProblem, keysProblem } from './push-endpoint.js';
import { VAPID_KEYS, type VapidKeys } from './vapid-keys.js';

/** A browser's PushSubscription, as its `toJSON()` gives it. */
export interface BrowserSubscription {
  readonly endpoint: string;
  readonly keys: { readonly p256dh: string; readonly auth: string };
}

/**
 * The browsers a person gets alerts on (docs/escalation.md, "Web Push"). Anyone signed in may
 * register their own; whether a tier sends to them is the chain's decision, not this one's.
 */
@Injectable()
export class PushSubscriptionService {
  private readonly allowLoopback: boolean;

  constructor(
    private readonly subscriptions: PushSubscriptionRepository,
    @Inject(VAPID_KEYS) private readonly vapid: VapidKeys,
    @Inject(LANTERN_CONFIG) config: LanternConfig,
  ) {
    this.allowLoopback = config.nodeEnv === 'test';
  }

  /** What a browser subscribes with (`applicationServerKey`). */
  publicKey(): string {
    return this.vapid.publicKey;
  }

  /** Stores (or takes over, see PushSubscriptionRepository.upsert) the caller's browser subscription. */
  async register(
    userId: string,
    subscription: BrowserSubscription,
    userAgent: string | undefined,
  ): Promise<PushSubscriptionRecord> {
    const problem =
      endpointProblem(subscription.endpoint, { allowLoopback: this.allowLoopback }) ??
      keysProblem(subscription.keys.p256dh, subscription.keys.auth);
    if (problem !== undefined) throw new BadRequestError(problem);
    return this.subscriptions.upsert(userId, {
      endpoint: subscription.endpoint,
      p256dh: subscription.keys.p256dh,
      auth: subscription.keys.auth,
      userAgent: userAgent?.slice(0, 300) ?? null,
    });
  }

  /** Stops alerts to one of the caller's browsers; 404 when the caller has no such subscription. */
  async unregister(userId: string, endpoint: string): Promise<void> {
    if (!(await this.subscriptions.deleteByEndpoint(userId, endpoint))) throw new NotFoundError('Push subscription');
  }
}
