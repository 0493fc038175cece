import type { AlertDeliveryResource, DeliveryChannel, EscalationTarget } from '@lantern/domain';
import type { AlertTimeline } from '@lantern/domain';
import { getAlertTimeline } from './api.js';
import type { AppContext } from './app-context.js';
import { h, replace } from './dom.js';
import { age } from './format.js';

/** How often an open timeline asks again: receipts and the next steps arrive within seconds. */
const POLL_MS = 4_000;

const TARGET_WORDS: Record<EscalationTarget, string> = {
  patient: 'the patient',
  caregivers: 'caregivers',
  care_team: 'the care team',
  webhook: 'the webhook (on-call system)',
};

const CHANNEL_WORDS: Record<DeliveryChannel, string> = {
  socket: 'on the open Lantern page',
  push: 'by push notification',
  email: 'by email',
  webhook: 'by webhook',
};

const ROLE_WORDS: Record<AlertDeliveryResource['recipient']['role'], string> = {
  patient: 'the patient',
  caregiver: 'caregiver',
  clinician: 'care team',
  admin: 'admin',
  webhook: 'system',
};

/** The kinds of line in a timeline, in the order lines of the same instant are listed. */
const KINDS = ['raised', 'step', 'delivery', 'confirmed', 'acknowledged', 'cleared', 'resolved', 'next'] as const;
export type TimelineKind = (typeof KINDS)[number];

/** One line of an alert's timeline, in plain words; `at` orders it. */
export interface TimelineLine {
  at: string;
  kind: TimelineKind;
  text: string;
  /** Receipts of a delivery, each with its time: "delivered", "read", "failed: 550 mailbox unavailable". */
  receipts?: { what: string; at: string }[];
  /** For deliveries: channel, recipient role and how far it got (sent, delivered, read, confirmed, failed). */
  attrs?: Record<string, string>;
}

/** "03:14:05" today, "3 Dec 03:14:05" otherwise: seconds matter when receipts come within one. */
export function timeOfDay(iso: string, now = new Date()): string {
  const d = new Date(iso);
  const time = d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit' });
  return d.toDateString() === now.toDateString()
    ? time
    : `${d.toLocaleDateString([], { day: 'numeric', month: 'short' })} ${time}`;
}

/** "2 min ago" for the past, "in 4 min" for what is planned. */
export function relative(iso: string, now = Date.now()): string {
  const sec = Math.round((Date.parse(iso) - now) / 1000);
  if (sec <= 0) return age(iso, now);
  if (sec < 45) return 'in a few seconds';
  if (sec < 3600) return `in ${Math.round(sec / 60)} min`;
  return `in ${Math.round(sec / 3600)} h`;
}

function recipientName(r: AlertDeliveryResource['recipient']): string {
  if (r.role === 'webhook') return 'the webhook';
  return r.name ? `${r.name} (${ROLE_WORDS[r.role]})` : ROLE_WORDS[r.role];
}

/** How far a delivery got: the furthest receipt, or failed. */
export function deliveryStatus(d: AlertDeliveryResource): 'failed' | 'confirmed' | 'read' | 'delivered' | 'sent' {
  if (d.failedAt) return 'failed';
  if (d.acknowledgedAt) return 'confirmed';
  if (d.readAt) return 'read';
  if (d.deliveredAt) return 'delivered';
  return 'sent';
}

/**
 * The timeline in time order and plain words: the alert raised, each escalation step as it started,
 * every delivery (who, how, which step) with its receipts, who confirmed, what the care team did,
 * and the steps still to come or no longer needed. Pure, for the panel and its spec.
 */
export function timelineLines(t: AlertTimeline, now = Date.now()): TimelineLine[] {
  const { alert, deliveries, confirmation, tiers } = t;
  const names = new Map<string, string>();
  for (const d of deliveries) if (d.recipient.id && d.recipient.name) names.set(d.recipient.id, d.recipient.name);
  if (confirmation?.by.name) names.set(confirmation.by.id, confirmation.by.name);
  const who = (id: string | undefined, fallback: string): string => (id && names.get(id)) || fallback;

  const lines: TimelineLine[] = [
    { at: alert.raisedAt ?? alert.openedAt, kind: 'raised', text: `Alert raised: ${alert.message}` },
  ];
  for (const tier of tiers) {
    if (!tier.reachedAt) continue;
    lines.push({
      at: tier.reachedAt,
      kind: 'step',
      text: `Step ${tier.index + 1} started: notify ${TARGET_WORDS[tier.notify]} (${afterWords(tier.afterSec)}).`,
    });
  }
  for (const d of deliveries) {
    const receipts: { what: string; at: string }[] = [];
    if (d.deliveredAt) receipts.push({ what: 'delivered', at: d.deliveredAt });
    if (d.readAt) receipts.push({ what: 'read', at: d.readAt });
    if (d.acknowledgedAt) receipts.push({ what: 'confirmed', at: d.acknowledgedAt });
    if (d.failedAt)
      receipts.push({
        what: `failed${d.attempts > 1 ? ` after ${d.attempts} attempts` : ''}${d.error ? `: ${d.error}` : ''}`,
        at: d.failedAt,
      });
    lines.push({
      at: d.sentAt,
      kind: 'delivery',
      text: `Sent to ${recipientName(d.recipient)} ${CHANNEL_WORDS[d.channel]} (step ${d.tier + 1}).`,
      receipts,
      attrs: {
        channel: d.channel,
        role: d.recipient.role,
        status: deliveryStatus(d),
        ...(d.recipient.id ? { recipientId: d.recipient.id } : {}),
      },
    });
  }
  // A clinician's acknowledgement is also the confirmation that stopped the chain: one line says both.
  const confirmedByAck = confirmation !== null && confirmation.by.id === alert.acknowledgedBy;
  if (confirmation && !confirmedByAck) {
    const { id, role } = confirmation.by;
    const name = who(id, '');
    const said =
      role === 'patient'
        ? `${name ? `${name} (the patient)` : 'The patient'} said they are taking care of it`
        : role === 'caregiver'
          ? `${name ? `${name} (caregiver)` : 'A caregiver'} said they are on it`
          : `${name ? `${name} (${ROLE_WORDS[role]})` : 'The care team'} confirmed it`;
    lines.push({ at: confirmation.at, kind: 'confirmed', text: `${said}. Escalation stopped.` });
  }
  if (alert.acknowledgedAt)
    lines.push({
      at: alert.acknowledgedAt,
      kind: 'acknowledged',
      text: `Acknowledged by ${who(alert.acknowledgedBy, 'the care team')}${confirmedByAck ? '. Escalation stopped.' : '.'}`,
    });
  if (alert.clearedAt)
    lines.push({ at: alert.clearedAt, kind: 'cleared', text: 'The condition cleared (readings back within limits).' });
  if (alert.resolvedAt)
    lines.push({
      at: alert.resolvedAt,
      kind: 'resolved',
      text: alert.resolvedBy ? `Resolved by ${who(alert.resolvedBy, 'the care team')}.` : 'Resolved.',
    });
  // Once a person took care of it (or it was resolved) the chain reaches no further step.
  const stoppedAt = Math.min(
    ...[confirmation?.at, alert.acknowledgedAt, alert.resolvedAt].map((x) => (x ? Date.parse(x) : Infinity)),
  );
  for (const tier of tiers) {
    if (tier.reachedAt) continue;
    const step = `Step ${tier.index + 1}, notify ${TARGET_WORDS[tier.notify]}`;
    lines.push({
      at: tier.dueAt,
      kind: 'next',
      text: Number.isFinite(stoppedAt)
        ? `${step}: not needed, the alert was taken care of first.`
        : `${step}: due ${relative(tier.dueAt, now)} unless someone confirms.`,
    });
  }
  const rank = (kind: TimelineKind): number => KINDS.indexOf(kind);
  return lines.sort((a, b) => Date.parse(a.at) - Date.parse(b.at) || rank(a.kind) - rank(b.kind));
}

function afterWords(afterSec: number): string {
  if (afterSec === 0) return 'at once';
  return afterSec % 60 === 0 ? `${afterSec / 60} min after the alert` : `${afterSec} s after the alert`;
}

/** The line above the timeline: confirmed by whom, or what comes next. */
export function timelineSummary(t: AlertTimeline, now = Date.now()): string {
  const counts = { delivered: 0, failed: 0, waiting: 0 };
  for (const d of t.deliveries) {
    const status = deliveryStatus(d);
    if (status === 'failed') counts.failed++;
    else if (status === 'sent') counts.waiting++;
    else counts.delivered++;
  }
  const tally =
    t.deliveries.length === 0
      ? 'Nothing sent yet.'
      : `${t.deliveries.length} ${t.deliveries.length === 1 ? 'delivery' : 'deliveries'}: ${counts.delivered} delivered, ${counts.failed} failed, ${counts.waiting} without receipt yet.`;
  if (t.confirmation) {
    const by = t.confirmation.by;
    const name = by.name ?? t.deliveries.find((d) => d.recipient.id === by.id)?.recipient.name;
    return `Taken care of: ${name ?? ROLE_WORDS[by.role]} confirmed at ${timeOfDay(t.confirmation.at)} (${age(t.confirmation.at, now)}). ${tally}`;
  }
  if (t.alert.state !== 'open') return `Alert ${t.alert.state}. ${tally}`;
  const next = t.tiers.find((tier) => !tier.reachedAt);
  return next
    ? `Nobody has confirmed yet. Next: ${TARGET_WORDS[next.notify]}, ${relative(next.dueAt, now)}. ${tally}`
    : `Nobody has confirmed yet; every escalation step has been reached. ${tally}`;
}

/**
 * An alert's timeline, opened from the patient detail (contract §4.3 `GET /alerts/:id/timeline`).
 * Asks again every few seconds while open, so receipts and later steps appear as they happen, and
 * at once when told the alert changed.
 */
export class AlertTimelinePanel {
  readonly element: HTMLElement;
  private readonly status = h('p', { class: 'timeline-summary' }, 'Loading the timeline…');
  private readonly list = h('ol', { class: 'alert-events', 'aria-label': 'What happened, in time order' });
  private timer: number | undefined;
  private loading = false;
  private disposed = false;
  private last: AlertTimeline | null = null;
  private failedOnce = false;

  constructor(
    private readonly alertId: string,
    private readonly ctx: Pick<AppContext, 'toast'>,
  ) {
    this.element = h(
      'div',
      { class: 'alert-timeline', id: `timeline-${alertId}`, 'data-alert-timeline': alertId, role: 'region' },
      this.status,
      this.list,
    );
    this.element.setAttribute('aria-label', 'Alert timeline');
    void this.refresh();
    this.timer = window.setInterval(() => {
      if (!document.hidden) void this.refresh();
    }, POLL_MS);
  }

  async refresh(): Promise<void> {
    if (this.loading || this.disposed) return;
    this.loading = true;
    try {
      this.last = await getAlertTimeline(this.alertId);
      this.failedOnce = false;
      if (!this.disposed) this.render();
    } catch (error) {
      // Said once per outage, not at every poll.
      if (!this.failedOnce) this.ctx.toast(`Could not load the alert timeline: ${(error as Error).message}`, 'error');
      this.failedOnce = true;
      if (!this.last) this.status.textContent = 'The timeline could not be loaded.';
    } finally {
      this.loading = false;
    }
  }

  /** Redraws from the last answer (the ages move on between polls too). */
  render(): void {
    if (!this.last) return;
    const now = Date.now();
    this.element.dataset.loaded = 'true';
    this.element.dataset.confirmed = String(this.last.confirmation !== null);
    this.status.textContent = timelineSummary(this.last, now);
    replace(
      this.list,
      timelineLines(this.last, now).map((line) => {
        const item = h(
          'li',
          { class: `alert-event event-${line.kind}`, 'data-kind': line.kind },
          h('time', { datetime: line.at }, timeOfDay(line.at)),
          ' ',
          h('span', { class: 'muted' }, `(${relative(line.at, now)})`),
          ' ',
          h('span', { class: 'event-text' }, line.text),
          line.receipts?.length
            ? h(
                'span',
                { class: 'receipts' },
                line.receipts.map((r) =>
                  h(
                    'span',
                    { class: 'receipt', 'data-receipt': r.what.split(/[ :]/)[0] },
                    ` · ${r.what} ${timeOfDay(r.at)} (${age(r.at, now)})`,
                  ),
                ),
              )
            : line.kind === 'delivery'
              ? h('span', { class: 'receipt muted', 'data-receipt': 'none' }, ' · no receipt yet')
              : null,
        );
        for (const [key, val] of Object.entries(line.attrs ?? {})) item.dataset[key] = val;
        return item;
      }),
    );
  }

  dispose(): void {
    this.disposed = true;
    window.clearInterval(this.timer);
  }
}
