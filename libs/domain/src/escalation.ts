import type { AlertPriority, AlertResource } from './alert.js';

/**
 * The escalation chain of contract §4.3 and spec/alerting.md §5: per alert priority, an ordered
 * list of tiers, each telling whom to notify how long after the alert was raised. The chain stops
 * when a person confirms the alert (the patient "I'm taking care of it", a caregiver, a clinician);
 * a tier nobody can be reached in at all (no recipient, every delivery failed) lets the next one
 * start at once instead of after its wait.
 */
export const ESCALATION_TARGETS = ['patient', 'caregivers', 'care_team', 'webhook'] as const;
export type EscalationTarget = (typeof ESCALATION_TARGETS)[number];

export const DELIVERY_CHANNELS = ['socket', 'push', 'email', 'webhook'] as const;
export type DeliveryChannel = (typeof DELIVERY_CHANNELS)[number];

/** The channels that reach a person (the webhook reaches a system). */
export const PERSON_CHANNELS = ['socket', 'push', 'email'] as const satisfies readonly DeliveryChannel[];
export type PersonChannel = (typeof PERSON_CHANNELS)[number];

export interface EscalationTier {
  readonly notify: EscalationTarget;
  /** Seconds after the alert was raised. */
  readonly afterSec: number;
  /** The person channels this tier uses; absent: all of them (socket, push, email). Ignored for the webhook. */
  readonly channels?: readonly PersonChannel[];
}

export type EscalationPolicy = Readonly<Record<AlertPriority, readonly EscalationTier[]>>;

/**
 * The defaults of spec/alerting.md §5. High: the patient, caregivers with the `alerts` scope and the
 * care team at once, the care team again after 5 min, the webhook after 10 min. Medium: patient and
 * care team at once, caregivers and the care team again after 15 min. Low: the care team's board only.
 */
export const DEFAULT_ESCALATION: EscalationPolicy = {
  high: [
    { notify: 'patient', afterSec: 0 },
    { notify: 'caregivers', afterSec: 0 },
    { notify: 'care_team', afterSec: 0 },
    { notify: 'care_team', afterSec: 300 },
    { notify: 'webhook', afterSec: 600 },
  ],
  medium: [
    { notify: 'patient', afterSec: 0 },
    { notify: 'care_team', afterSec: 0 },
    { notify: 'caregivers', afterSec: 900 },
    { notify: 'care_team', afterSec: 900 },
  ],
  low: [{ notify: 'care_team', afterSec: 0, channels: ['socket'] }],
};

export const MAX_TIERS_PER_PRIORITY = 10;
export const MAX_TIER_AFTER_SEC = 86_400;

/**
 * Validates a policy sent by a client (PUT /patients/:id/escalation): every priority present, each
 * a list of at most {@link MAX_TIERS_PER_PRIORITY} tiers in non-decreasing `afterSec`, known
 * targets and channels. Returns the policy as stored (tiers copied, unknown fields dropped) or the
 * list of problems, each naming its field.
 */
export function parseEscalationPolicy(body: unknown): { policy: EscalationPolicy } | { errors: string[] } {
  const errors: string[] = [];
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return { errors: ['body must be an object'] };
  const input = body as Record<string, unknown>;
  for (const key of Object.keys(input))
    if (!(['high', 'medium', 'low'] as string[]).includes(key)) errors.push(`${key} is not an alert priority`);
  const policy: Partial<Record<AlertPriority, EscalationTier[]>> = {};
  for (const priority of ['high', 'medium', 'low'] as const) {
    const list = input[priority];
    if (!Array.isArray(list)) {
      errors.push(`${priority} must be a list of tiers`);
      continue;
    }
    if (list.length > MAX_TIERS_PER_PRIORITY) errors.push(`${priority} has more than ${MAX_TIERS_PER_PRIORITY} tiers`);
    const tiers: EscalationTier[] = [];
    list.slice(0, MAX_TIERS_PER_PRIORITY).forEach((raw: unknown, i) => {
      const at = `${priority}[${i}]`;
      if (typeof raw !== 'object' || raw === null) return void errors.push(`${at} must be an object`);
      const t = raw as Record<string, unknown>;
      if (!(ESCALATION_TARGETS as readonly unknown[]).includes(t.notify))
        errors.push(`${at}.notify must be one of ${ESCALATION_TARGETS.join(', ')}`);
      if (!Number.isInteger(t.afterSec) || (t.afterSec as number) < 0 || (t.afterSec as number) > MAX_TIER_AFTER_SEC)
        errors.push(`${at}.afterSec must be a whole number of seconds from 0 to ${MAX_TIER_AFTER_SEC}`);
      else if (tiers.length > 0 && (t.afterSec as number) < tiers[tiers.length - 1].afterSec)
        errors.push(`${at}.afterSec must not be less than the tier before it`);
      let channels: PersonChannel[] | undefined;
      if (t.channels !== undefined) {
        if (
          !Array.isArray(t.channels) ||
          t.channels.length === 0 ||
          !t.channels.every((c) => (PERSON_CHANNELS as readonly unknown[]).includes(c))
        )
          errors.push(`${at}.channels must be a non-empty list of ${PERSON_CHANNELS.join(', ')}`);
        else channels = [...new Set(t.channels as PersonChannel[])];
      }
      tiers.push({
        notify: t.notify as EscalationTarget,
        afterSec: t.afterSec as number,
        ...(channels ? { channels } : {}),
      });
    });
    policy[priority] = tiers;
  }
  return errors.length > 0 ? { errors } : { policy: policy as EscalationPolicy };
}

/** The person channels a tier uses. */
export function tierChannels(tier: EscalationTier): readonly PersonChannel[] {
  return tier.notify === 'webhook' ? [] : (tier.channels ?? PERSON_CHANNELS);
}

/**
 * One delivery of an alert (contract §4.3, `GET /alerts/:id/deliveries`). `sentAt`: when the tier
 * handed it to its channel; `deliveredAt`: a receipt from the recipient's side (socket
 * acknowledgement, the service worker's push receipt, SMTP acceptance, the webhook's 2xx), never the
 * time Lantern tried; `readAt`: the person opened it; `acknowledgedAt`: that person confirmed the
 * alert; `failedAt`/`error`: the channel gave up on it (after its retries).
 */
export interface AlertDeliveryResource {
  id: string;
  alertId: string;
  recipient: { id?: string; role: 'patient' | 'caregiver' | 'clinician' | 'admin' | 'webhook'; name?: string };
  channel: DeliveryChannel;
  tier: number;
  attempts: number;
  sentAt: string;
  deliveredAt?: string;
  readAt?: string;
  acknowledgedAt?: string;
  failedAt?: string;
  error?: string;
}

/** The person's confirmation that stopped an alert's chain: the first one stands. */
export interface AlertConfirmation {
  at: string;
  by: { id: string; role: 'patient' | 'caregiver' | 'clinician' | 'admin'; name?: string };
}

/** Where an alert's chain stands, for {@link nextTier}. Times in epoch ms (wall clock). */
export interface ChainProgress {
  /** When the core raised the alert: every tier's wait counts from here. */
  readonly raisedAt: number;
  /** Index of the last tier fanned out; -1 before the first. */
  readonly tierDone: number;
  /** When the last tier fanned out turned out to reach nobody (no delivery, or all failed); null otherwise. */
  readonly unreachableSince: number | null;
}

/**
 * The chain's next tier and when it is due: its own wait after `raisedAt`, or at once when the tier
 * before it reached nobody (a tier that cannot be reached at all must not hold the chain for its
 * wait). Undefined when every tier is out.
 */
export function nextTier(
  tiers: readonly EscalationTier[],
  progress: ChainProgress,
): { index: number; dueAt: number } | undefined {
  const index = progress.tierDone + 1;
  if (index >= tiers.length) return undefined;
  const scheduled = progress.raisedAt + tiers[index].afterSec * 1000;
  const dueAt = progress.unreachableSince === null ? scheduled : Math.min(scheduled, progress.unreachableSince);
  return { index, dueAt };
}

/** One tier of an alert's chain on its timeline: when it is due, and when it went out. */
export interface AlertTimelineTier {
  index: number;
  notify: EscalationTarget;
  afterSec: number;
  dueAt: string;
  reachedAt?: string;
}

/** `GET /alerts/:id/timeline`: the alert, its deliveries, who confirmed it, its chain. */
export interface AlertTimeline {
  alert: AlertResource;
  deliveries: AlertDeliveryResource[];
  confirmation: AlertConfirmation | null;
  tiers: AlertTimelineTier[];
}

/** The answer of "I'm taking care of it" (`POST /me/alerts/:id/acknowledge`). */
export interface AlertConfirmed {
  alertId: string;
  confirmedAt: string;
  by: AlertConfirmation['by'];
}
