import {
  DEVICE_TYPES,
  DEVICE_TYPE_KEYS,
  METRIC_KEYS,
  isMetricKey,
  type AlertResource,
  type MetricKey,
} from '@lantern/domain';
import {
  ApiError,
  deleteAlertRule,
  getAlertRules,
  getAlerts,
  getBuckets,
  getDevices,
  getLatest,
  getPatient,
  normalizeDevice,
  patientName,
  provisionDevice,
  putAlertRule,
  type AlertRule,
  type Device,
  type DeviceCredentials,
  type LatestReading,
} from './api.js';
import { AlertTimelinePanel } from './alert-timeline.js';
import type { AppContext } from './app-context.js';
import { priorityBadge, stateBadge, statusBadge } from './badges.js';
import { MetricChart, type ThresholdLine } from './chart.js';
import { h, replace } from './dom.js';
import { escalationSection } from './escalation-editor.js';
import { age, clock, metricLabel, ruleLabel, value } from './format.js';
import { deviceProblem, isNewerAlert, type ClinicianStore } from './store.js';

/** History ranges and the rollup bucket each one reads (contract §3.3). */
const RANGES = [
  { key: '6h', label: '6 h', seconds: 6 * 3600, bucket: '1m' },
  { key: '24h', label: '24 h', seconds: 24 * 3600, bucket: '5m' },
  { key: '7d', label: '7 d', seconds: 7 * 86400, bucket: '1h' },
  { key: '90d', label: '90 d', seconds: 90 * 86400, bucket: '1d' },
] as const;
type Range = (typeof RANGES)[number];

const RULE_META = new Set([
  'key',
  'ruleKey',
  'kind',
  'metric',
  'enabled',
  'source',
  'params',
  'description',
  'label',
  'updatedAt',
  'scope',
  'takenOverBy',
  'updatedBy',
]);
const NUMERIC_PARAMS = [
  'threshold',
  'delaySec',
  'hysteresis',
  'ratePerMin',
  'windowSec',
  'minSamples',
  'horizonSec',
  'delta',
  'afterSec',
];

/** A rule's parameters, whether the server nests them under `params` or lists them flat. */
export function ruleParams(rule: AlertRule): Record<string, unknown> {
  if (rule.params && typeof rule.params === 'object')
    return { ...rule.params, ...(rule.priority ? { priority: rule.priority } : {}) };
  return Object.fromEntries(Object.entries(rule).filter(([k]) => !RULE_META.has(k)));
}

function ruleKeyOf(rule: AlertRule): string {
  return rule.key ?? (rule.ruleKey as string);
}

function ruleMetric(rule: AlertRule): MetricKey | null {
  if (rule.metric && isMetricKey(rule.metric)) return rule.metric;
  const prefix = ruleKeyOf(rule).split('.')[0];
  return isMetricKey(prefix) ? prefix : null;
}

/** Patient detail: live charts with thresholds, history ranges, alert timeline, rules, devices. */
export function patientDetailView(
  root: HTMLElement,
  patientId: string,
  store: ClinicianStore,
  ctx: AppContext,
): () => void {
  const disposers: (() => void)[] = [];
  const charts = new Map<MetricKey, MetricChart>();
  const alerts = new Map<string, AlertResource>();
  /** Open timelines by alert id: kept across re-renders of the list, so they keep polling and focus. */
  const timelines = new Map<string, AlertTimelinePanel>();
  let rules: AlertRule[] = [];
  let devices: Device[] = [];
  let latest = new Map<string, LatestReading>();
  let range: Range = RANGES[0];
  let disposed = false;

  const title = h('h1', {}, 'Patient');
  const meta = h('p', { class: 'muted' });
  const rangeBar = h('div', { class: 'ranges', role: 'group', 'aria-label': 'History range' });
  const chartGrid = h('div', { class: 'charts' });
  const alertList = h('ol', { class: 'timeline', 'aria-label': 'Alert timeline' });
  const ruleTable = h('div', { class: 'rules' });
  const deviceList = h('div', { class: 'device-list' });
  const credentialsBox = h('div', {
    class: 'credentials',
    hidden: true,
    role: 'region',
    'aria-label': 'New device credentials',
  });

  replace(
    root,
    h('p', {}, h('a', { href: '/', 'data-link': true }, '← Triage board')),
    title,
    meta,
    ...(ctx.session.user.role === 'admin' ? [fhirRecordLink(ctx, patientId)] : []),
    h(
      'section',
      { class: 'card', 'aria-labelledby': 'h-charts' },
      h('div', { class: 'section-head' }, h('h2', { id: 'h-charts' }, 'Vitals'), rangeBar),
      chartGrid,
    ),
    h('section', { class: 'card', 'aria-labelledby': 'h-alerts' }, h('h2', { id: 'h-alerts' }, 'Alerts'), alertList),
    h('section', { class: 'card', 'aria-labelledby': 'h-rules' }, h('h2', { id: 'h-rules' }, 'Alert rules'), ruleTable),
    escalationSection(patientId, ctx),
    h(
      'section',
      { class: 'card', 'aria-labelledby': 'h-devices' },
      h('h2', { id: 'h-devices' }, 'Devices'),
      deviceList,
      credentialsBox,
      provisionForm(),
    ),
  );

  function renderRanges(): void {
    replace(
      rangeBar,
      RANGES.map((r) =>
        h(
          'button',
          {
            type: 'button',
            class: 'range',
            'aria-pressed': String(r.key === range.key),
            'data-range': r.key,
            onclick: () => {
              range = r;
              renderRanges();
              void loadHistory();
            },
          },
          r.label,
        ),
      ),
    );
  }

  function chartMetrics(): MetricKey[] {
    const set = new Set<MetricKey>();
    for (const d of devices) for (const m of DEVICE_TYPES[d.type]?.metrics ?? []) set.add(m);
    for (const m of latest.keys()) if (isMetricKey(m)) set.add(m);
    return METRIC_KEYS.filter((m) => set.has(m));
  }

  function renderCharts(): void {
    const metrics = chartMetrics();
    for (const [m, chart] of charts) {
      if (metrics.includes(m)) continue;
      chart.destroy();
      charts.delete(m);
    }
    replace(
      chartGrid,
      metrics.length ? null : h('p', { class: 'muted' }, 'No readings or devices yet.'),
      metrics.map((metric) => {
        const last = latest.get(metric);
        const host = h('div', { class: 'chart-host' });
        const figure = h(
          'figure',
          { class: 'chart', 'data-metric': metric },
          h(
            'figcaption',
            {},
            h('strong', {}, metricLabel(metric)),
            ' ',
            h(
              'span',
              { class: 'latest', 'data-metric-latest': metric },
              last ? `${value(metric, last.value)} · ${age(last.ts)}` : 'no data',
            ),
          ),
          host,
        );
        charts.get(metric)?.destroy();
        const chart = new MetricChart(host, metric);
        charts.set(metric, chart);
        chart.setThresholds(thresholdsFor(metric));
        return figure;
      }),
    );
  }

  function thresholdsFor(metric: MetricKey): ThresholdLine[] {
    return rules
      .filter((r) => r.kind === 'threshold' && r.enabled && ruleMetric(r) === metric)
      .map((r) => {
        const p = ruleParams(r);
        return {
          value: Number(p.threshold),
          label: typeof r.label === 'string' ? r.label : ruleLabel(ruleKeyOf(r).split('.').slice(1).join('.')),
          priority: typeof p.priority === 'string' ? p.priority : '',
        };
      })
      .filter((t) => Number.isFinite(t.value));
  }

  async function loadHistory(): Promise<void> {
    const to = new Date();
    const from = new Date(to.getTime() - range.seconds * 1000);
    const current = range;
    await Promise.all(
      [...charts].map(async ([metric, chart]) => {
        try {
          const buckets = await getBuckets(patientId, metric, from, to, current.bucket);
          if (current === range && !disposed) chart.setHistory(buckets, current.seconds);
        } catch (error) {
          ctx.toast(`Could not load ${metricLabel(metric)} history: ${(error as Error).message}`, 'error');
        }
      }),
    );
    root.dataset.historyLoaded = current.key;
  }

  function renderAlerts(): void {
    const list = [...alerts.values()].sort((a, b) => Date.parse(b.openedAt) - Date.parse(a.openedAt));
    replace(
      alertList,
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
                      { type: 'button', class: 'primary', onclick: () => void act(ctx.acknowledge(a)) },
                      'Acknowledge',
                    )
                  : null,
                h('button', { type: 'button', onclick: () => void act(ctx.resolve(a)) }, 'Resolve'),
              ),
          h(
            'button',
            {
              type: 'button',
              class: 'small',
              'aria-expanded': String(timelines.has(a.id)),
              'aria-controls': `timeline-${a.id}`,
              onclick: () => toggleTimeline(a.id),
            },
            timelines.has(a.id) ? 'Hide timeline' : 'Show timeline',
          ),
          timelines.get(a.id)?.element,
        ),
      ),
    );
  }

  /** Who was told, when, on what channel, and who took care of it (contract §4.3). */
  function toggleTimeline(alertId: string): void {
    const open = timelines.get(alertId);
    if (open) {
      open.dispose();
      timelines.delete(alertId);
    } else timelines.set(alertId, new AlertTimelinePanel(alertId, ctx));
    renderAlerts();
    // The list was redrawn: keep the keyboard on the button just pressed.
    alertList.querySelector<HTMLButtonElement>(`button[aria-controls="timeline-${alertId}"]`)?.focus();
  }

  async function act(result: Promise<AlertResource | null>): Promise<void> {
    const alert = await result;
    if (!alert) return;
    mergeAlert(alert);
    store.applyAlert(alert);
    renderAlerts();
  }

  /** Rules for what this patient's devices measure (and device rules) first; the rest folded away. */
  function renderRules(): void {
    const measured = new Set<string>(chartMetrics());
    const relevant = rules.filter((r) => r.scope === 'device' || !ruleMetric(r) || measured.has(ruleMetric(r)!));
    const others = rules.filter((r) => !relevant.includes(r));
    const table = (list: AlertRule[]): HTMLTableElement =>
      h(
        'table',
        { class: 'rule-table' },
        h(
          'thead',
          {},
          h(
            'tr',
            {},
            ['Rule', 'Parameters', 'Priority', 'On', 'Source', ''].map((t) => h('th', { scope: 'col' }, t)),
          ),
        ),
        h(
          'tbody',
          {},
          list.map((rule) => ruleRow(rule)),
        ),
      );
    replace(
      ruleTable,
      rules.length ? table(relevant) : h('p', { class: 'muted' }, 'No rules.'),
      others.length
        ? h(
            'details',
            { class: 'other-rules' },
            h('summary', {}, `${others.length} rules for metrics this patient has no device for`),
            table(others),
          )
        : null,
    );
  }

  function ruleRow(rule: AlertRule): HTMLTableRowElement {
    const key = ruleKeyOf(rule);
    const params = ruleParams(rule);
    const inputs = new Map<string, HTMLInputElement>();
    const fields = NUMERIC_PARAMS.filter((p) => typeof params[p] === 'number').map((p) => {
      const input = h('input', {
        type: 'number',
        step: 'any',
        value: String(params[p]),
        name: p,
        'aria-label': `${ruleLabel(key)} ${p}`,
      });
      inputs.set(p, input);
      return h('label', { class: 'param' }, h('span', {}, p), input);
    });
    const direction =
      typeof params.direction === 'string' ? h('span', { class: 'muted' }, `${params.direction} `) : null;
    const priority = h(
      'select',
      { name: 'priority', 'aria-label': `${ruleLabel(key)} priority` },
      ['high', 'medium', 'low'].map((p) => h('option', { value: p, selected: params.priority === p }, p)),
    );
    const enabled = h('input', { type: 'checkbox', checked: rule.enabled, 'aria-label': `${ruleLabel(key)} enabled` });
    const save = async (): Promise<void> => {
      const body: Record<string, unknown> = { enabled: enabled.checked };
      for (const [p, input] of inputs) if (Number(input.value) !== params[p]) body[p] = Number(input.value);
      if (priority.value !== params.priority) body.priority = priority.value;
      try {
        await putAlertRule(patientId, key, body);
        ctx.toast(`Saved ${ruleLabel(key)} for this patient.`);
        await reloadRules();
      } catch (error) {
        ctx.toast(`Could not save ${ruleLabel(key)}: ${(error as Error).message}`, 'error');
      }
    };
    const revert = async (): Promise<void> => {
      try {
        await deleteAlertRule(patientId, key);
        ctx.toast(`${ruleLabel(key)} is back to the default.`);
        await reloadRules();
      } catch (error) {
        ctx.toast(`Could not revert ${ruleLabel(key)}: ${(error as Error).message}`, 'error');
      }
    };
    return h(
      'tr',
      { 'data-rule': key, class: rule.source === 'patient' ? 'overridden' : '' },
      h('th', { scope: 'row', 'data-label': 'Rule' }, ruleLabel(key), h('div', { class: 'muted' }, rule.kind)),
      h('td', { 'data-label': 'Parameters' }, direction, fields),
      h('td', { 'data-label': 'Priority' }, priority),
      h('td', { 'data-label': 'On' }, enabled),
      h(
        'td',
        { 'data-label': 'Source' },
        rule.source === 'patient'
          ? h('span', { class: 'badge warn' }, '✎ Patient override')
          : h('span', { class: 'badge' }, 'Default'),
      ),
      h(
        'td',
        { class: 'actions' },
        h('button', { type: 'button', class: 'small', onclick: () => void save() }, 'Save'),
        rule.source === 'patient'
          ? h('button', { type: 'button', class: 'small', onclick: () => void revert() }, 'Revert')
          : null,
      ),
    );
  }

  async function reloadRules(): Promise<void> {
    rules = await getAlertRules(patientId);
    renderRules();
    for (const [metric, chart] of charts) chart.setThresholds(thresholdsFor(metric));
  }

  function renderDevices(): void {
    replace(
      deviceList,
      devices.length ? null : h('p', { class: 'muted' }, 'No devices yet.'),
      h(
        'ul',
        { class: 'devices' },
        devices.map((d) => {
          const problem = deviceProblem(d);
          return h(
            'li',
            { 'data-device-id': d.id },
            h('strong', {}, DEVICE_TYPES[d.type]?.label ?? d.type),
            d.serial ? ` · ${d.serial}` : '',
            ' ',
            statusBadge(problem === null, d.online ? 'Online' : 'Offline', problem ?? ''),
            d.battery !== null ? ` · battery ${d.battery}%` : '',
            ` · last seen ${age(d.lastSeenAt)}`,
          );
        }),
      ),
    );
  }

  function showCredentials(device: Device, credentials: DeviceCredentials): void {
    credentialsBox.hidden = false;
    const rows = Object.entries(credentials).map(([k, v]) => [
      h('dt', {}, k),
      h('dd', {}, h('code', { 'data-credential': k }, String(v))),
    ]);
    replace(
      credentialsBox,
      h('h3', {}, `Credentials for the new ${DEVICE_TYPES[device.type]?.label ?? device.type}`),
      h('p', { class: 'warning' }, '⚠ Copy these now: the password is shown only once and cannot be retrieved later.'),
      h('dl', {}, rows.flat()),
      h(
        'button',
        { type: 'button', onclick: () => ((credentialsBox.hidden = true), replace(credentialsBox)) },
        'I have copied them — hide',
      ),
    );
    credentialsBox.focus();
  }

  function provisionForm(): HTMLFormElement {
    const type = h(
      'select',
      { name: 'type', required: true },
      DEVICE_TYPE_KEYS.map((k) => h('option', { value: k }, DEVICE_TYPES[k].label)),
    );
    const serial = h('input', { name: 'serial', placeholder: 'Serial (optional)', autocomplete: 'off' });
    const model = h('input', { name: 'model', placeholder: 'Model (optional)', autocomplete: 'off' });
    const form = h(
      'form',
      { class: 'provision', 'aria-label': 'Provision a device' },
      h('label', {}, 'Type ', type),
      serial,
      model,
      h('button', { type: 'submit', class: 'primary' }, 'Provision device'),
    );
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      void (async () => {
        try {
          const created = await provisionDevice({
            patientId,
            type: type.value as Device['type'],
            serial: serial.value || undefined,
            model: model.value || undefined,
          });
          const { credentials, ...device } = created;
          devices.push(normalizeDevice(device));
          form.reset();
          renderDevices();
          showCredentials(device, credentials);
          renderCharts();
          void loadHistory();
        } catch (error) {
          ctx.toast(`Could not provision: ${(error as Error).message}`, 'error');
        }
      })();
    });
    return form;
  }

  disposers.push(
    ctx.live.on('reading', (e) => {
      if (e.patientId !== patientId) return;
      latest.set(e.metric, { metric: e.metric, value: e.value, ts: e.ts, deviceId: e.deviceId });
      charts.get(e.metric)?.addReading(e.ts, e.value);
      const label = chartGrid.querySelector(`[data-metric-latest="${e.metric}"]`);
      if (label) label.textContent = `${value(e.metric, e.value)} · ${age(e.ts)}`;
      else if (!charts.has(e.metric)) {
        renderCharts();
        void loadHistory();
      }
    }),
    ctx.live.on('alert', (a) => {
      if (a.patientId !== patientId) return;
      mergeAlert(a);
      renderAlerts();
      void timelines.get(a.id)?.refresh();
    }),
    ctx.live.on('device', (e) => {
      const device = devices.find((d) => d.id === e.deviceId);
      if (!device) return;
      Object.assign(device, {
        online: e.online,
        battery: e.battery ?? device.battery,
        lastSeenAt: e.lastSeenAt ?? device.lastSeenAt,
      });
      renderDevices();
    }),
  );

  function mergeAlert(a: AlertResource): void {
    const current = alerts.get(a.id);
    if (!current || isNewerAlert(a, current)) alerts.set(a.id, a);
  }

  /** After a reconnect: what happened while the socket was down (alerts, devices, the charts' gap). */
  async function catchUp(): Promise<void> {
    try {
      const [alertList, latestList, deviceList] = await Promise.all([
        getAlerts({ patientId, limit: '200' }, 1),
        getLatest(patientId),
        getDevices(patientId),
      ]);
      if (disposed) return;
      for (const a of alertList) mergeAlert(a);
      for (const r of latestList) {
        const current = latest.get(r.metric);
        if (!current || Date.parse(current.ts) <= Date.parse(r.ts)) latest.set(r.metric, r);
      }
      devices = deviceList;
      renderAlerts();
      renderDevices();
      renderCharts();
      await loadHistory();
    } catch (error) {
      ctx.toast(`Could not catch up after reconnecting: ${(error as Error).message}`, 'error');
    }
  }
  disposers.push(
    ctx.live.onConnect(() => {
      if (root.dataset.ready === 'true') void catchUp();
    }),
  );

  void (async () => {
    try {
      // Watch this patient even when the store does not (e.g. an admin opening any record).
      void ctx.live.subscribe(patientId);
      // The patient must load; any other part that fails is reported and left empty.
      const part = <T>(what: string, promise: Promise<T>, fallback: T): Promise<T> =>
        promise.catch((error: Error) => {
          ctx.toast(`Could not load ${what}: ${error.message}`, 'error');
          return fallback;
        });
      const [patient, latestList, deviceList_, alertList_, ruleList] = await Promise.all([
        getPatient(patientId),
        part('latest readings', getLatest(patientId), []),
        part('devices', getDevices(patientId), []),
        part('alerts', getAlerts({ patientId, limit: '200' }, 1), []),
        part('alert rules', getAlertRules(patientId), []),
      ]);
      if (disposed) return;
      title.textContent = patientName(patient);
      document.title = `${patientName(patient)} · Lantern`;
      replace(meta, [
        patient.mrn ? `MRN ${patient.mrn}` : null,
        patient.dateOfBirth ? ` · born ${patient.dateOfBirth}` : null,
      ]);
      latest = new Map(latestList.map((r) => [r.metric, r]));
      devices = deviceList_;
      rules = ruleList;
      for (const a of alertList_) mergeAlert(a);
      renderRanges();
      renderCharts();
      renderAlerts();
      renderRules();
      renderDevices();
      await loadHistory();
      root.dataset.ready = 'true';
    } catch (error) {
      if (error instanceof ApiError && error.status === 404)
        replace(
          root,
          h('h1', {}, 'Patient not found'),
          h('p', {}, h('a', { href: '/', 'data-link': true }, 'Back to the board')),
        );
      else ctx.toast(`Could not load the patient: ${(error as Error).message}`, 'error');
    }
  })();

  const ticker = window.setInterval(() => renderDevices(), 30_000);
  return () => {
    disposed = true;
    window.clearInterval(ticker);
    disposers.forEach((d) => d());
    for (const timeline of timelines.values()) timeline.dispose();
    for (const chart of charts.values()) chart.destroy();
    if (!store.patients.has(patientId)) ctx.live.unsubscribe(patientId);
  };
}

/**
 * For admins: the patient's FHIR R4 record (what an EHR integration reads). The FHIR server wants
 * the same bearer token as REST, which a plain link in a new tab would not send, so the record is
 * fetched with it and opened as a document; the URL itself is shown to copy into an EHR's setup.
 */
function fhirRecordLink(ctx: AppContext, patientId: string): HTMLElement {
  const url = `/fhir/R4/Patient/${encodeURIComponent(patientId)}`;
  const open = async (event: Event): Promise<void> => {
    event.preventDefault();
    try {
      const res = await fetch(url, {
        headers: { Authorization: `Bearer ${ctx.session.token}`, Accept: 'application/fhir+json' },
      });
      if (!res.ok) throw new Error(`${res.status} ${res.statusText}`);
      const text = JSON.stringify(await res.json(), null, 2);
      window.open(URL.createObjectURL(new Blob([text], { type: 'application/json' })), '_blank', 'noopener');
    } catch (error) {
      ctx.toast(`Could not open the FHIR record: ${(error as Error).message}`, 'error');
    }
  };
  return h(
    'p',
    { class: 'muted' },
    'FHIR R4: ',
    h('a', { href: url, onclick: (e: Event) => void open(e) }, 'Patient record'),
    ` (${location.origin}${url}; observations at /fhir/R4/Observation?patient=${patientId})`,
  );
}
