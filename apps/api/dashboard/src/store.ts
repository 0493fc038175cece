import {
  DEVICE_TYPES,
  PRIORITY_RANK,
  isMetricKey,
  type AlertResource,
  type LiveDeviceEvent,
  type LiveReadingEvent,
  type PatientResource,
} from '@lantern/domain';
import { getAlerts, getDevices, getLatest, getPatients, type Device, type LatestReading } from './api.js';
import type { LiveConnection } from './live.js';

/** What the board knows about one patient, kept current by live events. */
export interface PatientState {
  patient: PatientResource;
  latest: Map<string, LatestReading>;
  devices: Map<string, Device>;
  /** Active alerts (open or acknowledged), by id. */
  alerts: Map<string, AlertResource>;
}

/** Battery level at which a device needs attention (the default `device.battery_low` rule). */
export const BATTERY_LOW = 15;

/** Why a device needs attention, or null: offline, silent past its type's signal-loss time, or low battery. */
export function deviceProblem(device: Device, now = Date.now()): string | null {
  if (!device.online && device.lastSeenAt === null) return 'never connected';
  const def = DEVICE_TYPES[device.type] as (typeof DEVICE_TYPES)[keyof typeof DEVICE_TYPES] | undefined;
  const silentFor = device.lastSeenAt ? (now - Date.parse(device.lastSeenAt)) / 1000 : Infinity;
  if (def && silentFor > def.signalLossAfterSec) return 'no signal';
  if (!device.online) return 'offline';
  if (device.battery !== null && device.battery <= BATTERY_LOW) return 'battery low';
  return null;
}

/**
 * Triage order, worst first: open high alerts, then open medium, then devices needing attention,
 * then acknowledged alerts, then open low; ties go to the most recent alert, then the name.
 */
export function triageKey(state: PatientState, now = Date.now()): number[] {
  let openHigh = 0;
  let openMedium = 0;
  let acknowledged = 0;
  let openLow = 0;
  let newest = 0;
  for (const alert of state.alerts.values()) {
    if (alert.state === 'open') {
      if (alert.priority === 'high') openHigh++;
      else if (alert.priority === 'medium') openMedium++;
      else openLow++;
    } else if (alert.state === 'acknowledged' && alert.priority !== 'low') acknowledged++;
    newest = Math.max(newest, Date.parse(alert.lastTriggeredAt || alert.openedAt));
  }
  const stale = [...state.devices.values()].filter((d) => deviceProblem(d, now) !== null).length;
  return [-openHigh, -openMedium, -stale, -acknowledged, -openLow, -newest];
}

export function compareTriage(a: PatientState, b: PatientState, now = Date.now()): number {
  const ka = triageKey(a, now);
  const kb = triageKey(b, now);
  for (let i = 0; i < ka.length; i++) if (ka[i] !== kb[i]) return ka[i] - kb[i];
  return (a.patient.displayName ?? '').localeCompare(b.patient.displayName ?? '');
}

/** Active alerts, worst first. */
export function sortedAlerts(alerts: Iterable<AlertResource>): AlertResource[] {
  const stateRank = { open: 0, acknowledged: 1, resolved: 2 } as const;
  return [...alerts].sort(
    (a, b) =>
      stateRank[a.state] - stateRank[b.state] ||
      PRIORITY_RANK[a.priority] - PRIORITY_RANK[b.priority] ||
      Date.parse(b.openedAt) - Date.parse(a.openedAt),
  );
}

const STATE_RANK = { open: 0, acknowledged: 1, resolved: 2 } as const;

/**
 * Whether `incoming` is at least as recent as `current`, two versions of one alert. Alerts carry
 * no version number, but each only moves forward: open → acknowledged → resolved, escalation
 * only rises, `lastTriggeredAt` only advances, and clearing (`clearedAt` set) comes after the
 * trigger it clears. Ties go to the incoming version.
 */
export function isNewerAlert(incoming: AlertResource, current: AlertResource): boolean {
  const key = (a: AlertResource): number[] => [
    STATE_RANK[a.state],
    a.escalationLevel,
    Date.parse(a.lastTriggeredAt || a.openedAt) || 0,
    a.clearedAt ? 1 : 0,
  ];
  const ki = key(incoming);
  const kc = key(current);
  for (let i = 0; i < ki.length; i++) if (ki[i] !== kc[i]) return ki[i] > kc[i];
  return true;
}

/** The REST reads the store makes (the api module's functions; tests pass fakes). */
export interface StoreSource {
  getPatients: () => Promise<PatientResource[]>;
  getAlerts: (query: Record<string, string>) => Promise<AlertResource[]>;
  getLatest: (patientId: string) => Promise<LatestReading[]>;
  getDevices: (patientId: string) => Promise<Device[]>;
}

/** What the store needs of the live connection. */
export type StoreLive = Pick<LiveConnection, 'on' | 'onConnect' | 'subscribe' | 'unsubscribe'>;

type LiveEvent =
  | { kind: 'reading'; event: LiveReadingEvent }
  | { kind: 'alert'; event: AlertResource }
  | { kind: 'device'; event: LiveDeviceEvent };

/**
 * The clinician's care-team patients, kept current from `/live` (every patient is watched while
 * the app is open, so alerts reach the banner from any page) and caught up over REST.
 *
 * Nothing is missed between the two: `refresh` subscribes before it reads, holds the live events
 * that arrive while it reads and applies them on top of what it read, and runs again after every
 * reconnect (events sent while the socket was down are gone), also picking up patients added to
 * the care team meanwhile.
 */
export class ClinicianStore {
  readonly patients = new Map<string, PatientState>();
  private readonly listeners = new Set<(patientId: string) => void>();
  private readonly alertListeners = new Set<(alert: AlertResource) => void>();
  /** Alerts seen resolved: a late, older copy (a snapshot read before the resolution) must not bring them back. */
  private readonly resolved = new Set<string>();
  /** Live events held while a refresh reads, null otherwise. */
  private held: LiveEvent[] | null = null;
  /** `listing` until the refresh has subscribed: a connect before then needs no second refresh. */
  private phase: 'idle' | 'listing' | 'reading' = 'idle';
  private running: Promise<string[]> | null = null;
  private again = false;
  loaded = false;

  constructor(
    private readonly live: StoreLive,
    private readonly source: StoreSource = { getPatients, getAlerts, getLatest, getDevices },
  ) {
    live.on('reading', (event) => this.receive({ kind: 'reading', event }));
    live.on('alert', (event) => this.receive({ kind: 'alert', event }));
    live.on('device', (event) => this.receive({ kind: 'device', event }));
    live.onConnect(() => {
      if (this.phase === 'listing') return;
      if (this.loaded || this.phase === 'reading') void this.refresh().catch(() => undefined);
    });
  }

  /** The first load; a part that fails (say, alerts) leaves the rest usable and is reported. */
  load(): Promise<string[]> {
    return this.refresh();
  }

  /**
   * Reads the care team, its latest values, devices and active alerts and merges them with what
   * arrived live. Concurrent calls share one run, followed by one more if asked for meanwhile.
   */
  refresh(): Promise<string[]> {
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = (async () => {
      try {
        let problems: string[];
        do {
          this.again = false;
          problems = await this.readAndMerge();
        } while (this.again);
        return problems;
      } finally {
        this.running = null;
      }
    })();
    return this.running;
  }

  private async readAndMerge(): Promise<string[]> {
    const problems: string[] = [];
    const settle = async <T>(what: string, promise: Promise<T>, fallback: T): Promise<T> => {
      try {
        return await promise;
      } catch (error) {
        problems.push(`${what}: ${(error as Error).message}`);
        return fallback;
      }
    };
    this.held ??= [];
    this.phase = 'listing';
    try {
      const patients = await this.source.getPatients();
      this.phase = 'reading';
      await Promise.all(patients.map((p) => this.live.subscribe(p.id)));
      let alertsRead = true;
      const alertsOr = (what: string, state: string): Promise<AlertResource[]> =>
        this.source.getAlerts({ state, limit: '1000' }).catch((error: Error) => {
          alertsRead = false;
          problems.push(`${what}: ${error.message}`);
          return [];
        });
      const [open, acknowledged, perPatient] = await Promise.all([
        alertsOr('open alerts', 'open'),
        alertsOr('acknowledged alerts', 'acknowledged'),
        Promise.all(
          patients.map(async (patient) => {
            const [latest, devices] = await Promise.all([
              settle('latest readings', this.source.getLatest(patient.id), null),
              settle('devices', this.source.getDevices(patient.id), null),
            ]);
            return { patient, latest, devices };
          }),
        ),
      ]);

      const listed = new Set(patients.map((p) => p.id));
      for (const id of [...this.patients.keys()]) {
        if (listed.has(id)) continue;
        // Taken off the care team meanwhile.
        this.patients.delete(id);
        this.live.unsubscribe(id);
        this.emit(id);
      }
      const quiet = !this.loaded;
      for (const { patient, latest, devices } of perPatient) {
        const state = this.patients.get(patient.id);
        const readings = (latest ?? []).filter((r) => isMetricKey(r.metric));
        if (!state) {
          this.patients.set(patient.id, {
            patient,
            latest: new Map(readings.map((r) => [r.metric, r])),
            devices: new Map((devices ?? []).map((d) => [d.id, d])),
            alerts: new Map(),
          });
          continue;
        }
        state.patient = patient;
        for (const r of readings) {
          const current = state.latest.get(r.metric);
          if (!current || Date.parse(current.ts) <= Date.parse(r.ts)) state.latest.set(r.metric, r);
        }
        if (devices) state.devices = new Map(devices.map((d) => [d.id, d]));
      }
      const active = [...open, ...acknowledged];
      if (alertsRead) {
        // Active here but not in the answer: resolved while we were not listening.
        const stillActive = new Set(active.map((a) => a.id));
        for (const state of this.patients.values())
          for (const alert of [...state.alerts.values()])
            if (!stillActive.has(alert.id)) this.mergeAlert({ ...alert, state: 'resolved' }, quiet);
      }
      for (const alert of active) this.mergeAlert(alert, quiet);
    } finally {
      // What arrived during the read is at least as new as what was read: apply it on top, in order.
      const held = this.held ?? [];
      this.held = null;
      this.phase = 'idle';
      this.loaded = true;
      for (const item of held) this.apply(item);
      for (const id of this.patients.keys()) this.emit(id);
    }
    return [...new Set(problems)];
  }

  onChange(listener: (patientId: string) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Alert changes from any source (live, catch-up, this client's actions), after the initial load. */
  onAlert(listener: (alert: AlertResource) => void): () => void {
    this.alertListeners.add(listener);
    return () => this.alertListeners.delete(listener);
  }

  /** Records an alert fetched or changed by this client (e.g. after acknowledging). */
  applyAlert(alert: AlertResource): void {
    if (this.mergeAlert(alert, false)) this.emit(alert.patientId);
  }

  private receive(item: LiveEvent): void {
    if (this.held) this.held.push(item);
    else this.apply(item);
  }

  private apply(item: LiveEvent): void {
    switch (item.kind) {
      case 'reading':
        return this.applyReading(item.event);
      case 'alert':
        return this.applyAlert(item.event);
      case 'device':
        return this.applyDevice(item.event);
    }
  }

  /** Keeps the newer version; true when the store changed. `quiet`: the first load, which sounds nothing. */
  private mergeAlert(alert: AlertResource, quiet: boolean): boolean {
    const state = this.patients.get(alert.patientId);
    if (!state || this.resolved.has(alert.id)) return false;
    const current = state.alerts.get(alert.id);
    // The same version again (a snapshot repeating what arrived live) changes nothing.
    if (current && (!isNewerAlert(alert, current) || JSON.stringify(alert) === JSON.stringify(current))) return false;
    if (alert.state === 'resolved') {
      this.resolved.add(alert.id);
      if (!state.alerts.delete(alert.id)) return false;
    } else state.alerts.set(alert.id, alert);
    if (!quiet) for (const listener of this.alertListeners) listener(alert);
    return true;
  }

  private applyReading(e: LiveReadingEvent): void {
    const state = this.patients.get(e.patientId);
    if (!state) return;
    const current = state.latest.get(e.metric);
    if (current && Date.parse(current.ts) > Date.parse(e.ts)) return;
    state.latest.set(e.metric, { metric: e.metric, value: e.value, ts: e.ts, deviceId: e.deviceId, unit: e.unit });
    const device = state.devices.get(e.deviceId);
    if (device && (!device.lastSeenAt || device.lastSeenAt < e.ts)) {
      device.lastSeenAt = e.ts;
      device.online = true;
    }
    this.emit(e.patientId);
  }

  private applyDevice(e: LiveDeviceEvent): void {
    const state = this.patients.get(e.patientId);
    const device = state?.devices.get(e.deviceId);
    if (!state || !device) return;
    Object.assign(device, {
      online: e.online,
      battery: e.battery ?? device.battery,
      lastSeenAt: e.lastSeenAt ?? device.lastSeenAt,
    });
    this.emit(e.patientId);
  }

  private emit(patientId: string): void {
    for (const listener of this.listeners) listener(patientId);
  }
}
