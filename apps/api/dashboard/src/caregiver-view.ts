import { METRIC_KEYS, METRICS, isMetricKey, type AlertResource, type PatientResource } from '@lantern/domain';
import { getAlerts, getLatest, getPatients, patientName, type LatestReading } from './api.js';
import { Confirmations } from './alert-confirmation.js';
import type { AppContext } from './app-context.js';
import { h, replace } from './dom.js';
import { ageSpoken, valueSpoken } from './format.js';
import { isNewerAlert } from './store.js';

/** What a caregiver sees of one patient: what the REST answers hold, which is only what was shared. */
interface SharedPatient {
  patient: PatientResource;
  latest: Map<string, LatestReading>;
  /** Open alerts; only those shared arrive, so the section shows only when there are some. */
  alerts: Map<string, AlertResource>;
  box: HTMLElement;
}

/** Another patient's first name for "Ana's glucose…", or their whole name. */
function possessive(patient: PatientResource): string {
  const name = patientName(patient);
  return `${name}${name.endsWith('s') ? "'" : "'s"}`;
}

/**
 * The caregiver's page (contract §4.2): each patient who shares with them, with only the shared
 * signals — the server leaves the rest out of every answer and every live event, so this view
 * shows what it receives and has no rule of its own about scopes.
 */
export function caregiverView(root: HTMLElement, ctx: AppContext): () => void {
  const shared = new Map<string, SharedPatient>();
  // "I'm on it" (contract §4.3): the button, or who is taking care of each alert.
  const confirmations = new Confirmations(ctx, 'caregiver');
  const listBox = h('div', { class: 'shared-patients' });
  replace(
    root,
    h('h1', {}, `Hello${ctx.session.user.displayName ? `, ${ctx.session.user.displayName}` : ''}`),
    h(
      'p',
      { class: 'muted' },
      'You see only what each person chose to share with you. They can change it at any time.',
    ),
    listBox,
  );

  function render(entry: SharedPatient): void {
    const readings = METRIC_KEYS.filter((m) => entry.latest.has(m)).map((m) => entry.latest.get(m)!);
    const alerts = [...entry.alerts.values()].filter((a) => a.state !== 'resolved');
    replace(
      entry.box,
      h('h2', {}, patientName(entry.patient)),
      h(
        'ul',
        { class: 'plain shared-readings' },
        readings.length ? null : h('li', { class: 'muted' }, 'Nothing shared has arrived yet.'),
        readings.map((r) =>
          h(
            'li',
            { 'data-metric': r.metric },
            `${possessive(entry.patient)} ${isMetricKey(r.metric) ? METRICS[r.metric].patientLabel : r.metric} was `,
            h('strong', {}, valueSpoken(r.metric, r.value)),
            `, ${ageSpoken(r.ts)}.`,
          ),
        ),
      ),
      alerts.length === 0
        ? null
        : h(
            'div',
            { class: 'shared-alerts' },
            h('h3', {}, 'Alerts'),
            h(
              'ul',
              { class: 'plain' },
              alerts.map((a) =>
                h(
                  'li',
                  { 'data-alert-id': a.id, 'data-metric': a.metric ?? '' },
                  a.message,
                  confirmations.control(a, patientName(entry.patient)),
                ),
              ),
            ),
          ),
    );
  }

  const offs = [
    confirmations.onChange(() => shared.forEach(render)),
    ctx.live.on('reading', (e) => {
      const entry = shared.get(e.patientId);
      if (!entry) return;
      entry.latest.set(e.metric, { metric: e.metric, value: e.value, ts: e.ts, deviceId: e.deviceId });
      render(entry);
    }),
    ctx.live.on('alert', (a) => {
      const entry = shared.get(a.patientId);
      if (!entry) return;
      const current = entry.alerts.get(a.id);
      // Chain deliveries repeat an alert the page may have: keep the newer version.
      if (current && !isNewerAlert(a, current)) return;
      entry.alerts.set(a.id, a);
      if (a.state !== 'resolved') confirmations.load(a.id, true);
      render(entry);
    }),
  ];

  void (async () => {
    try {
      // Every open alert the caregiver may see, across patients: alerts not shared are left out,
      // so this never asks about what was not shared (which would answer 404).
      const [patients, alerts] = await Promise.all([getPatients(), getAlerts({ state: 'open' }, 1)]);
      if (patients.length === 0) replace(listBox, h('p', {}, 'Nobody shares their data with you at the moment.'));
      for (const patient of patients) {
        const entry: SharedPatient = {
          patient,
          latest: new Map(),
          alerts: new Map(alerts.filter((a) => a.patientId === patient.id).map((a) => [a.id, a])),
          box: h('section', { class: 'card shared-patient', 'data-patient-id': patient.id }),
        };
        shared.set(patient.id, entry);
        for (const id of entry.alerts.keys()) confirmations.load(id);
        listBox.appendChild(entry.box);
        void ctx.live.subscribe(patient.id);
        for (const r of await getLatest(patient.id)) entry.latest.set(r.metric, r);
        render(entry);
      }
      root.dataset.ready = 'true';
    } catch (error) {
      ctx.toast(`Could not load what is shared with you: ${(error as Error).message}`, 'error');
    }
  })();

  const ticker = window.setInterval(() => shared.forEach(render), 30_000);
  return () => {
    window.clearInterval(ticker);
    offs.forEach((off) => off());
    for (const id of shared.keys()) ctx.live.unsubscribe(id);
  };
}
