import { describe, expect, it } from '@jest/globals';
import type { AlertResource, LiveServerToClientEvents, PatientResource } from '@lantern/domain';
import type { Device, LatestReading } from './api.js';
import { ClinicianStore, isNewerAlert, type StoreLive, type StoreSource } from './store.js';

const T0 = Date.parse('2026-11-22T12:00:00Z');
const at = (minutes: number): string => new Date(T0 + minutes * 60_000).toISOString();

function alert(id: string, over: Partial<AlertResource> = {}): AlertResource {
  return {
    id,
    patientId: 'p1',
    rule: 'spo2.critical',
    priority: 'high',
    state: 'open',
    message: 'SpO2 critical',
    openedAt: at(0),
    lastTriggeredAt: at(0),
    escalationLevel: 0,
    late: false,
    ...over,
  };
}

const patient = (id: string): PatientResource => ({ id, displayName: id, createdAt: at(-60) });

/** A `/live` connection driven by the test: `send` delivers a server event, `reconnect` a new connect. */
class FakeLive implements StoreLive {
  readonly subscribed: string[] = [];
  private readonly handlers = new Map<string, Set<(payload: never) => void>>();
  private readonly connectListeners = new Set<() => void>();

  on<E extends keyof LiveServerToClientEvents>(event: E, handler: LiveServerToClientEvents[E]): () => void {
    const set = this.handlers.get(event) ?? new Set();
    set.add(handler);
    this.handlers.set(event, set);
    return () => set.delete(handler);
  }
  onConnect(listener: () => void): () => void {
    this.connectListeners.add(listener);
    return () => this.connectListeners.delete(listener);
  }
  subscribe(patientId: string): Promise<{ ok: true }> {
    this.subscribed.push(patientId);
    return Promise.resolve({ ok: true });
  }
  unsubscribe(): void {}
  send<E extends keyof LiveServerToClientEvents>(event: E, payload: Parameters<LiveServerToClientEvents[E]>[0]): void {
    for (const handler of this.handlers.get(event) ?? []) (handler as (p: typeof payload) => void)(payload);
  }
  reconnect(): void {
    for (const listener of this.connectListeners) listener();
  }
}

/** The server's state as REST answers it; `gate` holds the alert reads back until released. */
class FakeServer implements StoreSource {
  patients: PatientResource[] = [patient('p1')];
  alerts: AlertResource[] = [];
  latest = new Map<string, LatestReading[]>();
  devices = new Map<string, Device[]>();
  gate: Promise<void> = Promise.resolve();

  getPatients = (): Promise<PatientResource[]> => Promise.resolve([...this.patients]);
  getAlerts = async (query: Record<string, string>): Promise<AlertResource[]> => {
    const answer = this.alerts.filter((a) => a.state === query.state);
    await this.gate;
    return answer;
  };
  getLatest = (id: string): Promise<LatestReading[]> => Promise.resolve(this.latest.get(id) ?? []);
  getDevices = (id: string): Promise<Device[]> => Promise.resolve(this.devices.get(id) ?? []);
}

function setup(): { live: FakeLive; server: FakeServer; store: ClinicianStore; heard: AlertResource[] } {
  const live = new FakeLive();
  const server = new FakeServer();
  const store = new ClinicianStore(live, server);
  const heard: AlertResource[] = [];
  store.onAlert((a) => heard.push(a));
  return { live, server, store, heard };
}

const activeIds = (store: ClinicianStore, patientId = 'p1'): string[] => [
  ...(store.patients.get(patientId)?.alerts.keys() ?? []),
];

async function until(check: () => boolean): Promise<void> {
  for (let i = 0; i < 100 && !check(); i++) await new Promise((r) => setTimeout(r, 1));
  expect(check()).toBe(true);
}

describe('isNewerAlert', () => {
  it('orders the versions of one alert by state, escalation, last trigger, then clearing', () => {
    const open = alert('a');
    expect(isNewerAlert(alert('a', { state: 'acknowledged' }), open)).toBe(true);
    expect(isNewerAlert(open, alert('a', { state: 'acknowledged' }))).toBe(false);
    expect(isNewerAlert(open, alert('a', { state: 'resolved' }))).toBe(false);
    expect(isNewerAlert(alert('a', { escalationLevel: 1 }), open)).toBe(true);
    expect(isNewerAlert(alert('a', { lastTriggeredAt: at(5) }), open)).toBe(true);
    expect(isNewerAlert(open, alert('a', { lastTriggeredAt: at(5) }))).toBe(false);
    const cleared = alert('a', { lastTriggeredAt: at(5), clearedAt: at(6) });
    expect(isNewerAlert(cleared, alert('a', { lastTriggeredAt: at(5) }))).toBe(true);
    // Firing again after clearing (clearedAt gone) is newer than the cleared version.
    expect(isNewerAlert(alert('a', { lastTriggeredAt: at(9) }), cleared)).toBe(true);
    expect(isNewerAlert(open, { ...open })).toBe(true);
  });
});

describe('ClinicianStore', () => {
  it('subscribes before it reads, and keeps an alert raised during the first load', async () => {
    const { live, server, store, heard } = setup();
    server.alerts = [alert('old')];
    let release!: () => void;
    server.gate = new Promise((r) => (release = r));
    const loading = store.load();
    await until(() => live.subscribed.includes('p1'));
    // Raised after the alerts were read, before the answer arrived: only the socket knows it.
    live.send('alert', alert('new', { openedAt: at(1), lastTriggeredAt: at(1) }));
    release();
    await expect(loading).resolves.toEqual([]);
    expect(activeIds(store).sort()).toEqual(['new', 'old']);
    // What was already open at load time is shown, not sounded; the new one is heard.
    expect(heard.map((a) => a.id)).toEqual(['new']);
  });

  it('applies live events held during a read on top of what was read (newer wins)', async () => {
    const { live, server, store } = setup();
    server.alerts = [alert('a')];
    let release!: () => void;
    server.gate = new Promise((r) => (release = r));
    const loading = store.load();
    await until(() => live.subscribed.includes('p1'));
    live.send('alert', alert('a', { state: 'acknowledged', acknowledgedAt: at(2) }));
    release();
    await loading;
    expect(store.patients.get('p1')?.alerts.get('a')?.state).toBe('acknowledged');
    // A late copy of the open version (say, a slow REST answer) does not undo it.
    store.applyAlert(alert('a'));
    expect(store.patients.get('p1')?.alerts.get('a')?.state).toBe('acknowledged');
  });

  it('catches up after a reconnect: alerts raised or resolved meanwhile, new patients, devices, latest values', async () => {
    const { live, server, store, heard } = setup();
    server.alerts = [alert('gone'), alert('kept', { state: 'acknowledged' })];
    await store.load();
    expect(activeIds(store).sort()).toEqual(['gone', 'kept']);

    // While the socket was down: one alert resolved, one raised, a patient added, a new reading.
    server.alerts = [alert('kept', { state: 'acknowledged' }), alert('missed', { openedAt: at(3) })];
    server.patients = [patient('p1'), patient('p2')];
    server.latest.set('p1', [{ metric: 'spo2', value: 83, ts: at(3), deviceId: 'd1' }]);
    server.devices.set('p2', [
      {
        id: 'd2',
        patientId: 'p2',
        type: 'pulse_oximeter',
        status: 'active',
        createdAt: at(-60),
        secretRotatedAt: at(-60),
        online: true,
        battery: 90,
        lastSeenAt: at(3),
      },
    ]);
    let changed = 0;
    store.onChange(() => changed++);
    live.reconnect();
    await until(() => store.patients.has('p2') && activeIds(store).includes('missed'));

    expect(activeIds(store).sort()).toEqual(['kept', 'missed']);
    expect(live.subscribed).toContain('p2');
    expect(store.patients.get('p2')?.devices.has('d2')).toBe(true);
    expect(store.patients.get('p1')?.latest.get('spo2')?.value).toBe(83);
    expect(changed).toBeGreaterThan(0);
    // The alarm hears both: the missed alert sounds, the resolved one leaves the banner.
    expect(heard.map((a) => [a.id, a.state])).toEqual([
      ['gone', 'resolved'],
      ['missed', 'open'],
    ]);
    // Resolved stays resolved, even if an old copy shows up again.
    store.applyAlert(alert('gone'));
    expect(activeIds(store)).not.toContain('gone');
  });

  it('keeps what it has when the alerts cannot be read after a reconnect', async () => {
    const { live, server, store } = setup();
    server.alerts = [alert('a')];
    await store.load();
    server.getAlerts = () => Promise.reject(new Error('503 Service Unavailable'));
    live.reconnect();
    await expect(store.refresh()).resolves.toEqual([
      'open alerts: 503 Service Unavailable',
      'acknowledged alerts: 503 Service Unavailable',
    ]);
    expect(activeIds(store)).toEqual(['a']);
  });
});
