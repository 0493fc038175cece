import {
  DEVICE_TYPES,
  METRIC_KEYS,
  METRICS,
  isMetricKey,
  type NotificationSeverity,
  type PatientNotificationResource,
} from '@lantern/domain';
import {
  getDevices,
  getLatest,
  getNotifications,
  getSummary,
  markNotificationRead,
  type Device,
  type LatestReading,
} from './api.js';
import { ownAlertsSection } from './alert-confirmation.js';
import type { AppContext } from './app-context.js';
import { accessLogSection, careCircleSection } from './care-circle.js';
import { quietHoursSection } from './quiet-hours-form.js';
import { h, replace } from './dom.js';
import { ageSpoken, clock, lostSince, valueSpoken, whenSpoken } from './format.js';
import { BATTERY_LOW } from './store.js';

const SEVERITY: Record<NotificationSeverity, { icon: string; text: string }> = {
  urgent: { icon: '⚠', text: 'Urgent' },
  warning: { icon: '!', text: 'Please note' },
  info: { icon: 'ℹ', text: 'For your information' },
};

/** Glucose time-in-range figures, in percent of readings (contract §3.3 summary). */
export interface TimeInRange {
  below54: number;
  below70: number;
  inRange: number;
  above180: number;
  above250: number;
}

/** Finds the CGM figures in a summary answer, whatever nesting and naming the server chose. */
export function readTimeInRange(summary: unknown): TimeInRange | null {
  const glucose = findGlucose(summary);
  if (!glucose) return null;
  const numbers = new Map<string, number>();
  const walk = (obj: unknown, depth: number): void => {
    if (!obj || typeof obj !== 'object' || depth > 3) return;
    for (const [k, v] of Object.entries(obj)) {
      if (typeof v === 'number') numbers.set(k.toLowerCase().replace(/[^a-z0-9]/g, ''), v);
      else walk(v, depth + 1);
    }
  };
  walk(glucose, 0);
  const pick = (...names: string[]): number | undefined =>
    names.map((n) => numbers.get(n)).find((v) => v !== undefined);
  const inRange = pick('timeinrange', 'tir', 'inrange', 'timeinrange70180', 'inrange70180', 'percentinrange');
  const below70 = pick('below70', 'timebelow70', 'tbr70', 'percentbelow70', 'belowrange');
  const below54 = pick('below54', 'timebelow54', 'tbr54', 'percentbelow54');
  const above180 = pick('above180', 'timeabove180', 'tar180', 'percentabove180', 'aboverange');
  const above250 = pick('above250', 'timeabove250', 'tar250', 'percentabove250');
  if (inRange === undefined || below70 === undefined || above180 === undefined) return null;
  // Accept fractions (0..1) as well as percentages.
  const scale = inRange + below70 + above180 <= 1.5 ? 100 : 1;
  return {
    inRange: inRange * scale,
    below70: below70 * scale,
    below54: (below54 ?? 0) * scale,
    above180: above180 * scale,
    above250: (above250 ?? 0) * scale,
  };
}

function findGlucose(summary: unknown): unknown {
  if (!summary || typeof summary !== 'object') return null;
  const s = summary as Record<string, unknown>;
  if (Array.isArray(s)) return s.find((m: { metric?: string }) => m?.metric === 'glucose') ?? null;
  if (s.glucose) return s.glucose;
  for (const key of ['metrics', 'items', 'data']) {
    const inner = s[key];
    if (Array.isArray(inner)) return inner.find((m: { metric?: string }) => m?.metric === 'glucose') ?? null;
    if (inner && typeof inner === 'object' && (inner as Record<string, unknown>).glucose)
      return (inner as Record<string, unknown>).glucose;
  }
  return null;
}

/** What a patient should do about a device, in plain words, or null when all is well. */
export function deviceAdvice(device: Device, now = Date.now()): string | null {
  const name = DEVICE_TYPES[device.type]?.patientLabel ?? 'device';
  const silentFor = device.lastSeenAt ? (now - Date.parse(device.lastSeenAt)) / 1000 : Infinity;
  if (device.battery !== null && device.battery <= 5)
    return `Charge your ${name} now: the battery is almost empty (${device.battery} percent).`;
  if (device.battery !== null && device.battery <= BATTERY_LOW)
    return `Please charge your ${name} soon: the battery is at ${device.battery} percent.`;
  if (!device.lastSeenAt) return `Your ${name} has not sent anything yet. Switch it on and keep it near your phone.`;
  const lossAfter = DEVICE_TYPES[device.type]?.signalLossAfterSec ?? 3600;
  if (!device.online || silentFor > lossAfter) {
    return `We have not heard from your ${name} since ${clock(device.lastSeenAt)}. Check that it is switched on and near your phone.`;
  }
  if (device.sensorExpiresAt && Date.parse(device.sensorExpiresAt) - now < 2 * 86400_000) {
    return `Your ${name} stops working on ${new Date(device.sensorExpiresAt).toLocaleDateString()}. Have a new one ready.`;
  }
  return null;
}

/**
 * A live update of a thread (spec §5: one episode, one thread): its latest words replace the shown
 * ones, the message they replace goes to the thread's history, and it is unread again.
 */
function threadUpdated(
  had: PatientNotificationResource | undefined,
  n: PatientNotificationResource,
): PatientNotificationResource {
  if (had === undefined) return n;
  const entry = (m: PatientNotificationResource): NonNullable<PatientNotificationResource['history']>[number] => ({
    id: m.id,
    kind: m.kind,
    severity: m.severity,
    title: m.title,
    createdAt: m.updatedAt ?? m.createdAt,
  });
  const history = had.history ?? [entry(had)];
  return { ...n, createdAt: had.createdAt, updates: history.length, history: [...history, entry(n)] };
}

/** The patient's own page: latest readings in plain words, notifications, glucose time in range, devices. */
export function patientView(root: HTMLElement, ctx: AppContext): () => void {
  const patientId = ctx.session.user.patientId;
  if (!patientId) {
    replace(root, h('p', {}, 'Your account is not linked to a patient record.'));
    return () => undefined;
  }
  const latest = new Map<string, LatestReading>();
  const notifications = new Map<string, PatientNotificationResource>();
  let devices: Device[] = [];

  const readingsBox = h('div', { class: 'plain-readings' });
  const notificationList = h('ul', { class: 'notifications', 'aria-label': 'Your messages' });
  const tirBox = h('div', { class: 'tir-box' });
  const deviceBox = h('ul', { class: 'patient-devices' });
  const ownAlerts = ownAlertsSection(patientId, ctx);
  replace(
    root,
    h('h1', {}, `Hello${ctx.session.user.displayName ? `, ${ctx.session.user.displayName}` : ''}`),
    ownAlerts.element,
    h('section', { class: 'card', 'aria-labelledby': 'h-msg' }, h('h2', { id: 'h-msg' }, 'Messages'), notificationList),
    h(
      'section',
      { class: 'card', 'aria-labelledby': 'h-now' },
      h('h2', { id: 'h-now' }, 'Your latest readings'),
      readingsBox,
    ),
    h(
      'section',
      { class: 'card', 'aria-labelledby': 'h-tir', hidden: true, 'data-section': 'tir' },
      h('h2', { id: 'h-tir' }, 'Glucose over the last 14 days'),
      tirBox,
    ),
    h('section', { class: 'card', 'aria-labelledby': 'h-dev' }, h('h2', { id: 'h-dev' }, 'Your devices'), deviceBox),
    quietHoursSection(ctx),
    careCircleSection(ctx),
    accessLogSection(ctx),
  );

  function renderReadings(): void {
    const list = METRIC_KEYS.filter((m) => latest.has(m)).map((m) => latest.get(m)!);
    replace(
      readingsBox,
      list.length ? null : h('p', {}, 'No readings have arrived yet.'),
      h(
        'ul',
        { class: 'plain' },
        list.map((r) => {
          const what = isMetricKey(r.metric) ? METRICS[r.metric].patientLabel : r.metric;
          const device = devices.find((d) => d.id === r.deviceId);
          const lost = lostSince(r, device?.type);
          // A lost device's last value is not news about now: say what we cannot see, not the number.
          return lost === null
            ? h(
                'li',
                { 'data-metric': r.metric, 'data-monitoring': 'ok' },
                `Your ${what} was `,
                h('strong', {}, valueSpoken(r.metric, r.value)),
                `, ${ageSpoken(r.ts)}.`,
              )
            : h(
                'li',
                { 'data-metric': r.metric, 'data-monitoring': 'lost', class: 'vital-lost' },
                `We cannot see your ${what} since ${whenSpoken(lost)} (${ageSpoken(lost)}): `,
                `nothing has arrived from your ${device ? DEVICE_TYPES[device.type].patientLabel : 'device'}. `,
                'Check that it is on, close by and charged.',
              );
        }),
      ),
    );
  }

  function renderNotifications(): void {
    // One item per thread (spec §5), the latest updated first.
    const at = (n: PatientNotificationResource): number => Date.parse(n.updatedAt ?? n.createdAt);
    const list = [...notifications.values()].sort((a, b) => at(b) - at(a));
    replace(
      notificationList,
      list.length ? null : h('li', { class: 'muted' }, 'No messages.'),
      list.map((n) => {
        const sev = SEVERITY[n.severity] ?? SEVERITY.info;
        // The thread's earlier messages, oldest first (its latest is the one shown).
        const earlier = (n.history ?? []).slice(0, -1);
        return h(
          'li',
          {
            class: `notification sev-${n.severity} ${n.readAt ? 'read' : 'unread'}`,
            'data-notification-id': n.id,
            'data-kind': n.kind,
          },
          h(
            'div',
            { class: 'notification-head' },
            h('span', { class: 'badge' }, h('span', { 'aria-hidden': 'true' }, sev.icon), ` ${sev.text}`),
            n.readAt ? null : h('span', { class: 'badge new' }, 'New'),
            ' ',
            h('time', { datetime: n.updatedAt ?? n.createdAt, class: 'muted' }, clock(n.updatedAt ?? n.createdAt)),
          ),
          h('h3', {}, n.title),
          h('p', {}, n.body),
          earlier.length
            ? h(
                'details',
                { class: 'thread-history', 'data-updates': String(earlier.length) },
                h('summary', {}, `Earlier in this conversation (${earlier.length})`),
                h(
                  'ul',
                  {},
                  earlier.map((m) => h('li', {}, `${clock(m.createdAt)}: ${m.title}`)),
                ),
              )
            : null,
          n.readAt
            ? null
            : h(
                'button',
                {
                  type: 'button',
                  class: 'small',
                  onclick: () =>
                    void markNotificationRead(n.id)
                      .then(() => {
                        notifications.set(n.id, { ...n, readAt: new Date().toISOString() });
                        renderNotifications();
                      })
                      .catch((e: Error) => ctx.toast(`Could not mark as read: ${e.message}`, 'error')),
                },
                'Mark as read',
              ),
        );
      }),
    );
  }

  function renderDevices(): void {
    replace(
      deviceBox,
      devices.length ? null : h('li', {}, 'You have no devices yet.'),
      devices.map((d) => {
        const advice = deviceAdvice(d);
        const name = DEVICE_TYPES[d.type]?.patientLabel ?? d.type;
        return h(
          'li',
          { 'data-device-id': d.id, class: advice ? 'attention' : 'ok' },
          h('strong', {}, name.charAt(0).toUpperCase() + name.slice(1)),
          d.battery !== null ? ` — battery ${d.battery} percent` : '',
          h(
            'p',
            {},
            advice
              ? h('span', {}, h('span', { 'aria-hidden': 'true' }, '⚠ '), advice)
              : h('span', {}, h('span', { 'aria-hidden': 'true' }, '✓ '), 'Working normally.'),
          ),
        );
      }),
    );
  }

  function renderTimeInRange(tir: TimeInRange): void {
    const segments = [
      { key: 'very-low', label: 'Very low (under 54)', pct: tir.below54 },
      { key: 'low', label: 'Low (54 to 69)', pct: Math.max(0, tir.below70 - tir.below54) },
      { key: 'in-range', label: 'In range (70 to 180)', pct: tir.inRange },
      { key: 'high', label: 'High (181 to 250)', pct: Math.max(0, tir.above180 - tir.above250) },
      { key: 'very-high', label: 'Very high (over 250)', pct: tir.above250 },
    ];
    const section = tirBox.closest('section')!;
    section.hidden = false;
    replace(
      tirBox,
      h(
        'p',
        {},
        `Your glucose was in your target range (70 to 180 milligrams per decilitre) `,
        h('strong', {}, `${Math.round(tir.inRange)} percent`),
        ' of the time.',
      ),
      h(
        'div',
        {
          class: 'tir-bar',
          role: 'img',
          'aria-label': segments.map((s) => `${s.label}: ${Math.round(s.pct)} percent`).join(', '),
        },
        segments
          .filter((s) => s.pct > 0)
          .map((s) =>
            h('span', {
              class: `tir-${s.key}`,
              style: `flex-basis:${s.pct}%`,
              title: `${s.label}: ${Math.round(s.pct)}%`,
            }),
          ),
      ),
      h(
        'ul',
        { class: 'tir-legend' },
        segments.map((s) =>
          h(
            'li',
            {},
            h('span', { class: `swatch tir-${s.key}`, 'aria-hidden': 'true' }),
            `${s.label}: ${Math.round(s.pct)}%`,
          ),
        ),
      ),
    );
  }

  const offs = [
    ctx.live.on('reading', (e) => {
      if (e.patientId !== patientId) return;
      latest.set(e.metric, { metric: e.metric, value: e.value, ts: e.ts, deviceId: e.deviceId });
      renderReadings();
    }),
    ctx.live.on('notification', (n) => {
      if (n.patientId !== patientId) return;
      notifications.set(n.id, n.update ? threadUpdated(notifications.get(n.id), n) : n);
      renderNotifications();
    }),
    ctx.live.on('device', (e) => {
      const d = devices.find((x) => x.id === e.deviceId);
      if (!d) return;
      Object.assign(d, { online: e.online, battery: e.battery ?? d.battery, lastSeenAt: e.lastSeenAt ?? d.lastSeenAt });
      renderDevices();
    }),
  ];

  void (async () => {
    try {
      void ctx.live.subscribe(patientId);
      const to = new Date();
      // Each part loads on its own: one failing leaves the others readable.
      const part = <T>(what: string, promise: Promise<T>, fallback: T): Promise<T> =>
        promise.catch((error: Error) => {
          ctx.toast(`Could not load ${what}: ${error.message}`, 'error');
          return fallback;
        });
      const [latestList, notes, devs] = await Promise.all([
        part('your readings', getLatest(patientId), []),
        part('your messages', getNotifications(), []),
        part('your devices', getDevices(patientId), []),
      ]);
      for (const r of latestList) latest.set(r.metric, r);
      for (const n of notes) notifications.set(n.id, n);
      devices = devs;
      renderReadings();
      renderNotifications();
      renderDevices();
      if (devices.some((d) => d.type === 'cgm') || latest.has('glucose')) {
        const summary = await part(
          'your glucose summary',
          getSummary(patientId, new Date(to.getTime() - 14 * 86400_000), to),
          null,
        );
        const tir = readTimeInRange(summary);
        if (tir) renderTimeInRange(tir);
      }
      root.dataset.ready = 'true';
    } catch (error) {
      ctx.toast(`Could not load your page: ${(error as Error).message}`, 'error');
    }
  })();

  const ticker = window.setInterval(() => (renderReadings(), renderDevices()), 30_000);
  return () => {
    window.clearInterval(ticker);
    offs.forEach((off) => off());
    ownAlerts.dispose();
  };
}
