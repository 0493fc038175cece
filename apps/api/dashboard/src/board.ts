import { DEVICE_TYPES, METRICS, isMetricKey } from '@lantern/domain';
import { patientName } from './api.js';
import { priorityBadge, stateBadge, statusBadge } from './badges.js';
import { h, replace } from './dom.js';
import { age, clock, lostSince, metricLabel, value } from './format.js';
import { compareTriage, deviceProblem, sortedAlerts, type ClinicianStore, type PatientState } from './store.js';
import type { AppContext } from './app-context.js';

/** Clinician triage board: one row per care-team patient, worst first, updated live. */
export function boardView(root: HTMLElement, store: ClinicianStore, ctx: AppContext): () => void {
  const tbody = h('tbody');
  const empty = h('p', { class: 'empty', hidden: true }, 'No patients on your care team yet.');
  const table = h(
    'table',
    { class: 'board', 'aria-describedby': 'board-caption' },
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        ['Status', 'Patient', 'Latest vitals', 'Devices', 'Active alerts'].map((t) => h('th', { scope: 'col' }, t)),
      ),
    ),
    tbody,
  );
  replace(
    root,
    h('h1', {}, 'Triage board'),
    h('p', { id: 'board-caption', class: 'muted' }, 'Your care team’s patients, most urgent first. Updates live.'),
    empty,
    table,
  );

  const rows = new Map<string, HTMLTableRowElement>();
  const dirty = new Set<string>();
  let frame = 0;

  const schedule = (patientId?: string): void => {
    if (patientId) dirty.add(patientId);
    else for (const id of store.patients.keys()) dirty.add(id);
    if (!frame) frame = requestAnimationFrame(render);
  };

  function render(): void {
    frame = 0;
    const now = Date.now();
    for (const id of dirty) {
      const state = store.patients.get(id);
      if (!state) continue;
      let row = rows.get(id);
      if (!row) {
        row = h('tr', { 'data-patient-id': id });
        rows.set(id, row);
      }
      renderRow(row, state, now, ctx, store);
    }
    dirty.clear();
    const ordered = [...store.patients.values()].sort((a, b) => compareTriage(a, b, now));
    ordered.forEach((state, index) => {
      const row = rows.get(state.patient.id)!;
      // Move only rows whose position changed, so focus and selection survive updates.
      if (tbody.children[index] !== row) tbody.insertBefore(row, tbody.children[index] ?? null);
      row.dataset.rank = String(index);
    });
    empty.hidden = store.patients.size > 0 || !store.loaded;
    table.hidden = store.patients.size === 0;
  }

  const off = store.onChange(schedule);
  // Ages ("3 min ago") and staleness change with time alone.
  const ticker = window.setInterval(() => schedule(), 15_000);
  schedule();
  return () => {
    off();
    window.clearInterval(ticker);
    cancelAnimationFrame(frame);
  };
}

function renderRow(
  row: HTMLTableRowElement,
  state: PatientState,
  now: number,
  ctx: AppContext,
  store: ClinicianStore,
): void {
  const alerts = sortedAlerts(state.alerts.values());
  const worst = alerts[0];
  const devices = [...state.devices.values()];
  const problems = devices.filter((d) => deviceProblem(d, now) !== null);
  const status =
    worst?.state === 'open' && worst.priority !== 'low'
      ? priorityBadge(worst.priority)
      : problems.length
        ? statusBadge(false, '', 'Device')
        : worst
          ? worst.state === 'acknowledged'
            ? stateBadge('acknowledged')
            : priorityBadge(worst.priority)
          : statusBadge(true, 'OK', '');
  row.className = worst?.state === 'open' ? `row-${worst.priority}` : problems.length ? 'row-device' : '';

  const vitals = [...state.latest.values()]
    .filter((r) => isMetricKey(r.metric))
    .sort((a, b) => Object.keys(METRICS).indexOf(a.metric) - Object.keys(METRICS).indexOf(b.metric))
    .map((r) => {
      const lost = lostSince(r, r.deviceId === undefined ? undefined : state.devices.get(r.deviceId)?.type, now);
      return lost === null
        ? h(
            'li',
            { 'data-metric': r.metric, 'data-monitoring': 'ok' },
            h('span', { class: 'vital-label' }, metricLabel(r.metric)),
            ' ',
            h('strong', { class: 'vital-value' }, value(r.metric, r.value)),
            ' ',
            h('time', { datetime: r.ts, class: 'age' }, age(r.ts, now)),
          )
        : h(
            'li',
            { 'data-metric': r.metric, 'data-monitoring': 'lost', class: 'vital-lost' },
            h('span', { class: 'vital-label' }, metricLabel(r.metric)),
            ' ',
            h(
              'time',
              { datetime: lost, class: 'age' },
              `We cannot see this device since ${clock(lost)} (${age(lost, now)})`,
            ),
          );
    });

  const deviceItems = devices.map((d) => {
    const problem = deviceProblem(d, now);
    return h(
      'li',
      { 'data-device-id': d.id },
      h('span', {}, DEVICE_TYPES[d.type]?.label ?? d.type),
      ' ',
      statusBadge(problem === null, d.online ? 'Online' : 'Offline', problem ?? ''),
      d.battery !== null ? h('span', { class: 'battery' }, ` · battery ${d.battery}%`) : null,
      ' ',
      h('time', { class: 'age', datetime: d.lastSeenAt ?? '' }, `seen ${age(d.lastSeenAt, now)}`),
    );
  });

  const alertItems = alerts.map((a) =>
    h(
      'li',
      { 'data-alert-id': a.id, 'data-state': a.state },
      priorityBadge(a.priority),
      ' ',
      stateBadge(a.state),
      ' ',
      h('span', { class: 'alert-message' }, a.message),
      ' ',
      h('time', { class: 'age', datetime: a.openedAt }, age(a.openedAt, now)),
      a.state === 'open'
        ? h(
            'button',
            {
              type: 'button',
              class: 'small',
              onclick: () => void ctx.acknowledge(a).then((x) => x && store.applyAlert(x)),
            },
            'Acknowledge',
          )
        : null,
    ),
  );

  replace(
    row,
    h('td', { class: 'status', 'data-label': 'Status' }, status),
    h(
      'td',
      { class: 'patient', 'data-label': 'Patient' },
      h('a', { href: `/patients/${state.patient.id}`, 'data-link': true }, patientName(state.patient)),
      state.patient.mrn ? h('div', { class: 'muted' }, `MRN ${state.patient.mrn}`) : null,
    ),
    h(
      'td',
      { 'data-label': 'Latest vitals' },
      vitals.length ? h('ul', { class: 'vitals' }, vitals) : h('span', { class: 'muted' }, 'No readings yet'),
    ),
    h(
      'td',
      { 'data-label': 'Devices' },
      deviceItems.length ? h('ul', { class: 'devices' }, deviceItems) : h('span', { class: 'muted' }, 'No devices'),
    ),
    h(
      'td',
      { 'data-label': 'Active alerts' },
      alertItems.length ? h('ul', { class: 'alerts' }, alertItems) : h('span', { class: 'muted' }, 'None'),
    ),
  );
}
