import type { AlertPriority, DeviceStatus, DeviceTypeKey, MetricKey, Reading } from '@lantern/domain';
import { alertCommand, type AlertCommand } from './alert-commands.js';
import type { AlertRecord, AlertTransition } from './alert-lifecycle.js';
import type { NotificationText } from './alert-messages.js';
import { heard } from './engine-alerts.js';
import { evaluateBatteryLevel, evaluateReading } from './engine-evaluation.js';
import { applyCommand, applyExternal, reconcileStored } from './engine-reconcile.js';
import { registerDevice, setOverrides, syncDevices } from './engine-registry.js';
import { historyNeeded, rebuildFromHistory, restoreAlerts } from './engine-restore.js';
import { DEFAULT_RULE_SET } from './engine-rule-set.js';
import { EngineState } from './engine-state.js';
import { sweepAll } from './engine-sweep.js';
import type { EffectiveRule, RuleOverride } from './rule-overrides.js';

export { EPISODE_WINDOW_MS } from './engine-alerts.js';
export { LATE_AFTER_MS } from './engine-evaluation.js';
export { DEVICE_DECOMMISSIONED_NOTE, DEVICE_REASSIGNED_NOTE } from './engine-registry.js';
export { AlertNotHeldError } from './engine-state.js';

/** A patient notification to store and publish (§6); times in epoch milliseconds. */
export interface NotificationDraft extends NotificationText {
  readonly id: string;
  readonly patientId: string;
  readonly createdAt: number;
  readonly alertId: string | null;
  readonly deviceId: string | null;
  /**
   * The patient thread it updates (spec/alerting.md §5, "one episode, one thread"): the id of a
   * message of that thread — its own id when it starts one. Absent or null: storage files it in
   * the thread of its alert's first message (an acknowledgement), else in a thread of its own.
   */
  readonly threadId?: string | null;
}

/** What one call of the engine decided, in order: persist the transitions, then the notifications, then emit each once. */
export interface EngineOutput {
  readonly transitions: readonly AlertTransition[];
  readonly notifications: readonly NotificationDraft[];
}

/** The device facts the engine needs: whose it is and its type (signal-loss default, patient wording). */
export interface DeviceRegistration {
  readonly deviceId: string;
  readonly patientId: string;
  readonly type: DeviceTypeKey | null;
  /** Wall-clock time it was last heard from (restored from `devices.last_seen_at`), null if never. */
  readonly lastHeardAt?: number | null;
}

/** What the device registry (the database) says about one device now: see {@link AlertEngine.syncDevices}. */
export interface DeviceSync {
  readonly deviceId: string;
  readonly patientId: string;
  readonly type: DeviceTypeKey | null;
  readonly decommissioned: boolean;
}

export interface AlertEngineOptions {
  /**
   * Issues alert and notification ids from their cause ({@link alertCause}, {@link notificationCause}):
   * in production a name-based UUID of the cause, so that evaluating the same input again (a message
   * redelivered after a crash) yields the same ids and storage recognises what it already holds; a
   * counter in tests. The core has no randomness.
   */
  readonly newId: (cause: string) => string;
}

/** The recent readings of one device and metric read back from the database on start, oldest first. */
export interface StreamHistory {
  readonly deviceId: string;
  readonly metric: MetricKey;
  readonly times: readonly number[];
  readonly values: readonly number[];
}

/**
 * One stream whose recent readings the rules need after a restart: `spanMs` of event time behind
 * its newest stored reading (the longest window or delay of its patient's rules for the metric,
 * plus one rate/predictive window so that those rules see whole windows from the first reading they
 * evaluate).
 */
export interface HistoryNeed {
  readonly deviceId: string;
  readonly patientId: string;
  readonly metric: MetricKey;
  readonly spanMs: number;
}

/**
 * The streaming core's facade: per-patient and per-device state in memory, fed readings, device
 * statuses and sweep ticks with the evaluation time passed in; returns the alert transitions and
 * patient notifications to persist and emit. Deterministic: no clock, no timers, no I/O.
 *
 * The work is done by functions of its {@link EngineState}, one file per concern: registry
 * (engine-registry), one reading or status (engine-evaluation), alert bookkeeping and patient
 * messages (engine-alerts), the sweep (engine-sweep), restart (engine-restore) and commands and
 * stored rows (engine-reconcile). Each public call runs them and hands out what they decided.
 */
export class AlertEngine {
  private readonly state: EngineState;

  constructor(options: AlertEngineOptions) {
    this.state = new EngineState(options.newId);
  }

  /**
   * Registers (or updates) a device: its patient and type. Keeps its live state. A device moving to
   * another patient goes through {@link syncDevices}, which also settles the previous patient's alerts.
   */
  registerDevice(registration: DeviceRegistration): void {
    registerDevice(this.state, registration);
  }

  /**
   * Brings the engine in step with the device registry (the database), given every device it knows:
   * - decommissioned: the device is forgotten (no more signal-loss checks) and its active
   *   device-rule alerts (signal loss, battery) are resolved by the system, note "device decommissioned";
   * - now another patient's: the previous patient's device-rule alerts of this device are resolved
   *   (note "device reassigned") and the device starts afresh for its new patient (condition states
   *   and sample windows reset; when it was last heard from is a fact of the device and is kept).
   * Alerts of metric rules are the patient's (their condition is the patient's, not the device's) and
   * are left alone. Devices not listed are left alone. Idempotent: a second call changes nothing.
   */
  syncDevices(devices: Iterable<DeviceSync>, now: number): EngineOutput {
    syncDevices(this.state, devices, now);
    return this.state.take();
  }

  /** Whether the engine holds live state of this device (registered, or heard from). */
  holdsDevice(deviceId: string): boolean {
    return this.state.devices.has(deviceId);
  }

  /** Active alerts held, by priority and state (for /metrics; no allocation per alert). */
  activeAlertCounts(): Record<AlertPriority, Record<'open' | 'acknowledged', number>> {
    const counts = {
      high: { open: 0, acknowledged: 0 },
      medium: { open: 0, acknowledged: 0 },
      low: { open: 0, acknowledged: 0 },
    };
    for (const patient of this.state.patients.values()) {
      for (const alert of patient.alerts.values()) {
        if (alert.state !== 'resolved') counts[alert.priority][alert.state] += 1;
      }
    }
    return counts;
  }

  /**
   * Replaces a patient's overrides. Rules that become disabled have their active alerts resolved
   * (by the system, note "rule disabled") and their condition state reset.
   */
  setOverrides(patientId: string, overrides: readonly RuleOverride[], now: number): EngineOutput {
    setOverrides(this.state, patientId, overrides, now);
    return this.state.take();
  }

  /** The effective rules currently applied to a patient. */
  rulesOf(patientId: string): readonly EffectiveRule[] {
    return (this.state.patients.get(patientId)?.ruleSet ?? DEFAULT_RULE_SET).rules;
  }

  /**
   * Restores active alerts after a restart (from the alerts table), so a restart neither re-opens
   * nor forgets them: an alert whose condition had not cleared seeds its rule's condition as active,
   * so the next normal reading clears it and the next abnormal one only updates it. Each restored
   * alert of a metric rule also marks how far the database reflects that rule's inputs: an input
   * not newer than its times (a redelivered old reading) changes nothing for the rule.
   */
  restore(alerts: readonly AlertRecord[]): void {
    restoreAlerts(this.state, alerts);
  }

  /**
   * The streams whose recent readings the rules need after a restart (registered devices, their
   * type's metrics with windowed or delayed rules): read them back and pass them to {@link rebuild}.
   */
  historyNeeded(): HistoryNeed[] {
    return historyNeeded(this.state);
  }

  /**
   * Rebuilds what the rules need after a restart, before any live input and after
   * {@link restore}: sample windows, each stream's last event time and threshold delay timers, by
   * evaluating the readings read back from the database (see {@link historyNeeded}) in event-time
   * order at wall-clock `now`. `recentlyResolved` is the latest resolved alert of each (patient,
   * metric rule) lately: with the active ones it says how far the database already reflects each
   * rule, and a rule is evaluated only on newer readings — so the rebuild re-decides nothing that
   * is stored, and what it returns is exactly what a crash lost between a reading's commit and its
   * alert's (persist and emit it like any output; ids are by cause, so storage takes each once).
   * A rate or predictive rule is evaluated only where a whole window lies behind the reading; an
   * alert resolved by hand while its condition held keeps its rule quiet until the condition clears,
   * when the readings since the resolution were all read back.
   */
  rebuild(history: readonly StreamHistory[], recentlyResolved: readonly AlertRecord[], now: number): EngineOutput {
    rebuildFromHistory(this.state, history, recentlyResolved, now);
    return this.state.take();
  }

  /** The active alerts the engine holds. */
  activeAlerts(): AlertRecord[] {
    const result: AlertRecord[] = [];
    for (const patient of this.state.patients.values()) result.push(...patient.alerts.values());
    return result;
  }

  /** One active alert by id, if the engine holds it. */
  alert(alertId: string): AlertRecord | undefined {
    for (const alert of this.state.alertsById.get(alertId)?.alerts.values() ?? [])
      if (alert.id === alertId) return alert;
    return undefined;
  }

  /**
   * Evaluates one reading (canonical unit, event time) at wall-clock `now`. A reading not newer than
   * the last one evaluated for its device and metric changes nothing (the caller still stores it),
   * except that it shows the device is alive.
   */
  onReading(reading: Reading, now: number = reading.receivedAt): EngineOutput {
    const state = this.state;
    const device = state.device(reading.deviceId, reading.patientId);
    heard(state, device, now);
    evaluateReading(
      state,
      device,
      reading.patientId,
      reading.metric,
      reading.value,
      reading.time,
      now,
      reading.receivedAt,
      false,
    );
    return state.take();
  }

  /** Evaluates a device status message (battery rules; any status but a last will shows the device is alive). */
  onStatus(status: DeviceStatus, now: number): EngineOutput {
    const device = this.state.device(status.deviceId, status.patientId);
    // `online: false` is the broker's last will, sent on the device's behalf: not a sign of life.
    if (status.online !== false) heard(this.state, device, now);
    if (status.battery !== undefined && status.time > device.lastStatusTime)
      evaluateBatteryLevel(this.state, device, status.battery, status.time, now);
    return this.state.take();
  }

  /** The periodic sweep at wall-clock `now`: signal loss of every device, then escalation of open alerts. */
  sweep(now: number): EngineOutput {
    sweepAll(this.state, now);
    return this.state.take();
  }

  /**
   * A clinician acknowledges an active alert held by the engine (see {@link decideAlertCommand});
   * notifies the patient. Throws AlertTransitionError on an illegal transition.
   */
  acknowledge(alertId: string, by: string, now: number, note: string | null = null): EngineOutput {
    return this.command(alertCommand({ action: 'acknowledge', alertId, by, at: now, note }));
  }

  /** A clinician resolves an active alert by hand; no new alert for its rule until its condition has cleared. */
  resolve(alertId: string, by: string, now: number, note: string | null = null): EngineOutput {
    return this.command(alertCommand({ action: 'resolve', alertId, by, at: now, note }));
  }

  /**
   * Applies a clinician's command to an alert the engine holds, through the same
   * {@link decideAlertCommand} the api runs on the stored row. Throws AlertNotHeldError or
   * AlertTransitionError.
   */
  command(command: AlertCommand): EngineOutput {
    applyCommand(this.state, command);
    return this.state.take();
  }

  /**
   * The database did not take what the engine decided about an alert — `stored` is the row as it
   * is: a clinician changed it meanwhile, it was already stored (an input evaluated again after a
   * crash), or it is another active alert of the same (patient, rule) that an opened one collided
   * with. Re-applies the engine's observations to the stored row ({@link rebaseObserved}) and, when
   * the engine still holds that alert, adopts the result; returns the transitions still to store.
   * `now`: wall clock, dating a resolution decided here.
   */
  reconcile(observed: AlertRecord, stored: AlertRecord, now: number): EngineOutput {
    reconcileStored(this.state, observed, stored, now);
    return this.state.take();
  }

  /**
   * Adopts a change made elsewhere (the api acknowledged or resolved the alert in the database):
   * replaces the engine's copy; a hand-resolved alert whose condition still holds suppresses its rule.
   */
  applyExternal(alert: AlertRecord): void {
    applyExternal(this.state, alert);
  }
}
