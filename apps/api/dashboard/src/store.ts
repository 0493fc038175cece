import {
  DEVICE_TYPES,
  PRIORITY_RANK,
  isMetricKey,
  type AlertResource,
  type LiveDeviceEvent,
  type LiveReadingEvent,
} from '@lantern/domain';
import { getAlerts, getDevices, getLatest, getPatients, type Device, type LatestReading, type Patient } from './api.js';
import type { LiveConnection } from './live.js';

/** What the board knows about one patient, kept current by live events. */
export interface PatientState {
  patient: Patient;
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

/**
 * The clinician's care-team patients: loaded over REST once, then kept current from `/live`
 * (every patient is watched while the app is open, so alerts reach the banner from any page).
 */
export class ClinicianStore {
  readonly patients = new Map<string, PatientState>();
  private readonly listeners = new Set<(patientId: string) => void>();
  loaded = false;

  constructor(private readonly live: LiveConnection) {
    live.on('reading', (e) => this.applyReading(e));
    live.on('alert', (e) => this.applyAlert(e));
    live.on('device', (e) => this.applyDevice(e));
  }

  /** Loads the care team's patients; a part that fails (say, alerts) leaves the rest usable and is reported. */
  async load(): Promise<string[]> {
    const problems: string[] = [];
    const settle = async <T>(what: string, promise: Promise<T>, fallback: T): Promise<T> => {
      try {
        return await promise;
      } catch (error) {
        problems.push(`${what}: ${(error as Error).message}`);
        return fallback;
      }
    };
    const patients = await getPatients();
    const [open, acknowledged] = await Promise.all([
      settle('open alerts', getAlerts({ state: 'open', limit: '1000' }), []),
      settle('acknowledged alerts', getAlerts({ state: 'acknowledged', limit: '1000' }), []),
    ]);
    await Promise.all(
      patients.map(async (patient) => {
        const [latest, devices] = await Promise.all([
          settle('latest readings', getLatest(patient.id), []),
          settle('devices', getDevices(patient.id), []),
        ]);
        this.patients.set(patient.id, {
          patient,
          latest: new Map(latest.filter((r) => isMetricKey(r.metric)).map((r) => [r.metric, r])),
          devices: new Map(devices.map((d) => [d.id, d])),
          alerts: new Map(),
        });
      }),
    );
    for (const alert of [...open, ...acknowledged]) this.patients.get(alert.patientId)?.alerts.set(alert.id, alert);
    this.loaded = true;
    await Promise.all(patients.map((p) => this.live.subscribe(p.id)));
    for (const id of this.patients.keys()) this.emit(id);
    return [...new Set(problems)];
  }

  onChange(listener: (patientId: string) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Records an alert fetched or changed by this client (e.g. after acknowledging). */
  applyAlert(alert: AlertResource): void {
    const state = this.patients.get(alert.patientId);
    if (!state) return;
    if (alert.state === 'resolved') state.alerts.delete(alert.id);
    else state.alerts.set(alert.id, alert);
    this.emit(alert.patientId);
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
