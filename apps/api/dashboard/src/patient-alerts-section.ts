import type { AlertResource } from '@lantern/domain';
import { AlertTimelinePanel } from './alert-timeline.js';
import type { AppContext } from './app-context.js';
import { priorityBadge, stateBadge } from './badges.js';
import { h, replace } from './dom.js';
import { clock, ruleLabel, value } from './format.js';
import type { PatientSection } from './patient-section.js';
import { isNewerAlert, type ClinicianStore } from './store.js';

/** "Alerts": the patient's alerts, newest first, each with its actions and its escalation timeline. */
export class PatientAlertsSection implements PatientSection {
  private readonly alertList = h('ol', { class: 'timeline', 'aria-label': 'Alert timeline' });
  readonly element = h(
    'section',
    { class: 'card', 'aria-labelledby': 'h-alerts' },
    h('h2', { id: 'h-alerts' }, 'Alerts'),
    this.alertList,
  );
  private readonly alerts = new Map<string, AlertResource>();
  /** Open timelines by alert id: kept across re-renders of the list, so they keep polling and focus. */
  private readonly timelines = new Map<string, AlertTimelinePanel>();
  private readonly offAlert: () => void;

  constructor(
    patientId: string,
    private readonly store: ClinicianStore,
    private readonly ctx: AppContext,
  ) {
    this.offAlert = ctx.live.on('alert', (a) => {
      if (a.patientId !== patientId) return;
      this.merge(a);
      this.render();
      void this.timelines.get(a.id)?.refresh();
    });
  }

  /** Takes in alerts from REST (first load, catch-up); call `render` after. */
  mergeAll(alerts: readonly AlertResource[]): void {
    for (const a of alerts) this.merge(a);
  }

  render(): void {
    const list = [...this.alerts.values()].sort((a, b) => Date.parse(b.openedAt) - Date.parse(a.openedAt));
    replace(
      this.alertList,
      list.length ? null : h('li', { class: 'muted' }, 'No alerts.'),
      list.map((a) =>
        h(
          'li',
          {
            class: `timeline-item row-${a.state === 'open' ? a.priority : 'quiet'}`,
            'data-alert-id': a.id,
            'data-state': a.state,
          },
          h(
            'div',
            { class: 'timeline-head' },
            priorityBadge(a.priority),
            ' ',
            stateBadge(a.state),
            ' ',
            h('strong', {}, ruleLabel(a.rule)),
            a.late ? h('span', { class: 'badge' }, ' late') : null,
            a.escalationLevel ? h('span', { class: 'badge warn' }, ` escalated ×${a.escalationLevel}`) : null,
          ),
          h('p', { class: 'alert-message' }, a.message),
          h(
            'p',
            { class: 'muted' },
            `Opened ${clock(a.openedAt)}`,
            a.peakValue !== undefined && a.metric ? ` · worst ${value(a.metric, a.peakValue)}` : '',
            a.clearedAt ? ` · condition cleared ${clock(a.clearedAt)}` : '',
            a.acknowledgedAt ? ` · acknowledged ${clock(a.acknowledgedAt)}` : '',
            a.resolvedAt ? ` · resolved ${clock(a.resolvedAt)}` : '',
          ),
          a.state === 'resolved'
            ? null
            : h(
                'div',
                { class: 'actions' },
                a.state === 'open'
                  ? h(
                      'button',
                      { type: 'button', class: 'primary', onclick: () => void this.act(this.ctx.acknowledge(a)) },
                      'Acknowledge',
                    )
                  : null,
                h('button', { type: 'button', onclick: () => void this.act(this.ctx.resolve(a)) }, 'Resolve'),
              ),
          h(
            'button',
            {
              type: 'button',
              class: 'small',
              'aria-expanded': String(this.timelines.has(a.id)),
              'aria-controls': `timeline-${a.id}`,
              onclick: () => this.toggleTimeline(a.id),
            },
            this.timelines.has(a.id) ? 'Hide timeline' : 'Show timeline',
          ),
          this.timelines.get(a.id)?.element,
        ),
      ),
    );
  }

  dispose(): void {
    this.offAlert();
    for (const timeline of this.timelines.values()) timeline.dispose();
  }

  private merge(a: AlertResource): void {
    const current = this.alerts.get(a.id);
    if (!current || isNewerAlert(a, current)) this.alerts.set(a.id, a);
  }

  /** Who was told, when, on what channel, and who took care of it (contract §4.3). */
  private toggleTimeline(alertId: string): void {
    const open = this.timelines.get(alertId);
    if (open) {
      open.dispose();
      this.timelines.delete(alertId);
    } else this.timelines.set(alertId, new AlertTimelinePanel(alertId, this.ctx));
    this.render();
    // The list was redrawn: keep the keyboard on the button just pressed.
    this.alertList.querySelector<HTMLButtonElement>(`button[aria-controls="timeline-${alertId}"]`)?.focus();
  }

  private async act(result: Promise<AlertResource | null>): Promise<void> {
    const alert = await result;
    if (!alert) return;
    this.merge(alert);
    this.store.applyAlert(alert);
    this.render();
  }
}
