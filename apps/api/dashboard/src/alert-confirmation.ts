import { METRICS, isMetricKey, type AlertConfirmation, type AlertResource } from '@lantern/domain';
import { confirmAlert, getAlerts, getAlertTimeline } from './api.js';
import type { AppContext } from './app-context.js';
import { h, replace } from './dom.js';
import { clock, whenSpoken } from './format.js';
import { isNewerAlert } from './store.js';

/** Who is looking: the patient about their own alerts, or a caregiver about someone who shares them. */
export type Viewer = 'patient' | 'caregiver';

/**
 * "I'm taking care of it" (contract §4.3, `POST /me/alerts/:id/acknowledge`) for patients and
 * caregivers: remembers who confirmed each alert shown (from its timeline, asked once per alert and
 * again when the alert changes) and draws the button or the words that replace it. The chain of
 * deliveries stops at the first confirmation, whoever gave it, so the page says who that was.
 */
export class Confirmations {
  private readonly known = new Map<string, AlertConfirmation | null>();
  private readonly asking = new Set<string>();
  private readonly sending = new Set<string>();
  private readonly listeners = new Set<() => void>();

  constructor(
    private readonly ctx: Pick<AppContext, 'session' | 'toast'>,
    private readonly viewer: Viewer,
  ) {}

  /** Called whenever what a control shows may have changed: redraw. */
  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Learns who confirmed the alert, if not known yet (or again, when `again`: the alert changed). */
  load(alertId: string, again = false): void {
    if (this.asking.has(alertId) || (this.known.has(alertId) && !again)) return;
    this.asking.add(alertId);
    getAlertTimeline(alertId)
      .then((timeline) => this.known.set(alertId, timeline.confirmation))
      // Not knowing leaves the button: confirming twice is harmless, not offering it is not.
      .catch(() => undefined)
      .finally(() => {
        this.asking.delete(alertId);
        this.changed();
      });
  }

  /** The button, or who is taking care of it; empty for an alert no longer active. */
  control(alert: AlertResource, patientName = ''): HTMLElement {
    const box = h('div', { class: 'confirmation', 'data-confirmation': alert.id });
    if (alert.state === 'resolved') return box;
    const confirmation = this.known.get(alert.id) ?? null;
    if (confirmation) {
      box.dataset.confirmed = confirmation.by.id === this.ctx.session.user.id ? 'self' : confirmation.by.role;
      replace(
        box,
        h(
          'p',
          { class: 'confirmed' },
          h('span', { 'aria-hidden': 'true' }, '✓ '),
          this.words(confirmation, patientName),
        ),
      );
      return box;
    }
    if (alert.state === 'acknowledged') {
      box.dataset.confirmed = 'care_team';
      const whose = this.viewer === 'patient' ? 'Your' : `${patientName}'s`;
      replace(
        box,
        h('p', { class: 'confirmed' }, h('span', { 'aria-hidden': 'true' }, '✓ '), `${whose} care team has seen this.`),
      );
      return box;
    }
    const sending = this.sending.has(alert.id);
    replace(
      box,
      h(
        'button',
        { type: 'button', class: 'primary', disabled: sending, onclick: () => void this.confirm(alert, patientName) },
        sending ? 'Sending…' : this.viewer === 'patient' ? "I'm taking care of it" : "I'm on it",
      ),
    );
    return box;
  }

  private words(c: AlertConfirmation, patientName: string): string {
    const at = clock(c.at);
    const team = this.viewer === 'patient' ? 'your care team' : `${patientName}'s care team`;
    if (c.by.id === this.ctx.session.user.id)
      return this.viewer === 'patient'
        ? `You told your care team you are taking care of it at ${at}.`
        : `You told ${team} you are on it at ${at}.`;
    switch (c.by.role) {
      case 'patient':
        return `${patientName} told their care team they are taking care of it at ${at}.`;
      case 'caregiver': {
        const name = c.by.name ?? (this.viewer === 'patient' ? 'Someone you share with' : 'Another caregiver');
        return `${name} told ${team} they are on it at ${at}.`;
      }
      case 'clinician':
      case 'admin':
        return `${this.viewer === 'patient' ? 'Your' : `${patientName}'s`} care team is taking care of it (since ${at}).`;
    }
  }

  private async confirm(alert: AlertResource, patientName: string): Promise<void> {
    this.sending.add(alert.id);
    this.changed();
    try {
      const confirmed = await confirmAlert(alert.id);
      this.known.set(alert.id, { at: confirmed.confirmedAt, by: confirmed.by });
      this.ctx.toast(
        this.viewer === 'patient'
          ? 'Your care team knows you are taking care of it.'
          : `${patientName}'s care team knows you are on it.`,
      );
    } catch (error) {
      this.ctx.toast(`Could not send that: ${(error as Error).message}`, 'error');
      // Someone else may have been first: show who.
      this.load(alert.id, true);
    } finally {
      this.sending.delete(alert.id);
      this.changed();
    }
  }

  private changed(): void {
    for (const listener of this.listeners) listener();
  }
}

/**
 * The patient's own active alerts, each with "I'm taking care of it" (hidden while there are none).
 * Kept current from `/live`: chain deliveries to the patient arrive as `alert` events like any other
 * and are merged by version, so a repeat changes nothing.
 */
export function ownAlertsSection(patientId: string, ctx: AppContext): { element: HTMLElement; dispose: () => void } {
  const alerts = new Map<string, AlertResource>();
  const confirmations = new Confirmations(ctx, 'patient');
  const list = h('ul', { class: 'own-alerts plain', 'aria-label': 'Alerts about you' });
  const element = h(
    'section',
    { class: 'card own-alerts-card', 'aria-labelledby': 'h-own-alerts', 'data-section': 'own-alerts', hidden: true },
    h('h2', { id: 'h-own-alerts' }, 'Needs your attention'),
    list,
  );

  function merge(alert: AlertResource): boolean {
    const current = alerts.get(alert.id);
    if (current && !isNewerAlert(alert, current)) return false;
    if (alert.state === 'resolved') alerts.delete(alert.id);
    else alerts.set(alert.id, alert);
    return true;
  }

  function render(): void {
    const active = [...alerts.values()].sort((a, b) => Date.parse(b.openedAt) - Date.parse(a.openedAt));
    element.hidden = active.length === 0;
    replace(
      list,
      active.map((a) => {
        const what = a.metric && isMetricKey(a.metric) ? `your ${METRICS[a.metric].patientLabel}` : 'your device';
        return h(
          'li',
          { class: `own-alert own-alert-${a.priority}`, 'data-alert-id': a.id, 'data-state': a.state },
          h(
            'p',
            {},
            h('strong', {}, a.priority === 'high' ? 'Urgent: ' : a.priority === 'medium' ? 'Please check: ' : ''),
            `an alert about ${what}, ${whenSpoken(a.raisedAt ?? a.openedAt)}.`,
          ),
          confirmations.control(a),
        );
      }),
    );
  }

  const offs = [
    confirmations.onChange(render),
    ctx.live.on('alert', (a) => {
      if (a.patientId !== patientId || !merge(a)) return;
      if (a.state !== 'resolved') confirmations.load(a.id, true);
      render();
    }),
    // Events sent while the socket was down are gone: read the active alerts again.
    ctx.live.onConnect(() => void load()),
  ];

  async function load(): Promise<void> {
    try {
      const [open, acknowledged] = await Promise.all([
        getAlerts({ patientId, state: 'open', limit: '50' }, 1),
        getAlerts({ patientId, state: 'acknowledged', limit: '50' }, 1),
      ]);
      const listed = new Set([...open, ...acknowledged].map((a) => a.id));
      for (const id of [...alerts.keys()]) if (!listed.has(id)) alerts.delete(id);
      for (const a of [...open, ...acknowledged]) {
        merge(a);
        confirmations.load(a.id);
      }
      render();
    } catch (error) {
      ctx.toast(`Could not load your alerts: ${(error as Error).message}`, 'error');
    }
  }
  void load();

  return { element, dispose: () => offs.forEach((off) => off()) };
}
