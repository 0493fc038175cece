import {
  DEVICE_TYPES,
  METRIC_KEYS,
  type AlertPriority,
  type DeviceStatus,
  type DeviceTypeKey,
  type MetricKey,
  type Reading,
} from '@lantern/domain';
import { alertCommand, decideAlertCommand, type AlertCommand } from './alert-commands.js';
import {
  alertCause,
  clearAlert,
  copyAlert,
  escalateAlert,
  isActive,
  notificationCause,
  openAlert,
  rebaseObserved,
  resolveAlert,
  retriggerAlert,
  type AlertRecord,
  type AlertTransition,
  type Worse,
} from './alert-lifecycle.js';
import {
  clinicianMessage,
  openedNotificationText,
  signalRestoredNotificationText,
  type MessageFacts,
  type NotificationText,
} from './alert-messages.js';
import { DEFAULT_RULES, RISING_WINDOW_SEC, type ThresholdParams } from './rule-catalog.js';
import {
  evaluateBattery,
  evaluatePredictive,
  evaluateRate,
  evaluateSignalHeard,
  evaluateSignalLoss,
  evaluateThreshold,
  evaluateTrend,
  newConditionState,
  rearmed,
  type Condition,
  type ConditionState,
} from './rule-evaluators.js';
import { effectiveRules, type EffectiveRule, type RuleOverride } from './rule-overrides.js';
import { SampleWindow } from './sample-window.js';

function isWorse(value: number | null, peak: number | null, worse: Worse): boolean {
  if (value === null || worse === null) return false;
  return peak === null || (worse === 'lower' ? value < peak : value > peak);
}

/** A triggering reading evaluated more than this after its event time makes a `late` alert (store-and-forward). */
export const LATE_AFTER_MS = 15 * 60_000;

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

/** Alerts of one metric opened within this much event time of the thread's last one join its thread (spec §5). */
export const EPISODE_WINDOW_MS = 30 * 60_000;

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

/** `resolveNote` of a device alert the system resolved because its device was decommissioned. */
export const DEVICE_DECOMMISSIONED_NOTE = 'device decommissioned';
/** `resolveNote` of a device alert the system resolved because its device now belongs to another patient. */
export const DEVICE_REASSIGNED_NOTE = 'device reassigned';

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

const EMPTY: EngineOutput = Object.freeze({ transitions: Object.freeze([]), notifications: Object.freeze([]) });

interface CompiledRule {
  readonly rule: EffectiveRule;
  readonly index: number;
  readonly worse: Worse;
  /** Predictive: index of the threshold rule that takes over, else -1. */
  readonly takeoverIndex: number;
}

interface RuleSet {
  readonly rules: readonly EffectiveRule[];
  readonly byKey: ReadonlyMap<string, CompiledRule>;
  /** Enabled metric rules per metric, in catalog order (threshold rules before the predictive rules they take over). */
  readonly byMetric: Readonly<Record<MetricKey, readonly CompiledRule[]>>;
  /** History each metric's windowed rules need, in ms (0: no window kept). */
  readonly windowMs: Readonly<Record<MetricKey, number>>;
  /** History a restart reads back per metric, in ms (see {@link HistoryNeed}; 0: none needed). */
  readonly historyMs: Readonly<Record<MetricKey, number>>;
  readonly signalLoss: CompiledRule | null;
  readonly battery: readonly CompiledRule[];
}

interface PatientState {
  readonly patientId: string;
  ruleSet: RuleSet;
  /** Metric rules' condition states, by rule index (catalog order). */
  readonly conditions: ConditionState[];
  /** Active alerts by rule key (metric rules) or `rule|device` (device rules). */
  readonly alerts: Map<string, AlertRecord>;
  /**
   * Per metric rule (by index), the event time up to which the database already reflects its
   * inputs (restored after a restart: the last stored alert's times). An input not newer changes
   * nothing for that rule, so a redelivered old reading never re-decides what is stored. Null: none.
   */
  notBefore: Float64Array | null;
  /** The patient thread of each metric's latest episode: a message id and the event time of its latest alert. */
  readonly threads: Map<MetricKey, { id: string; lastAt: number }>;
}

interface StreamState {
  readonly metric: MetricKey;
  lastTime: number;
  window: SampleWindow | null;
  /** While rebuilding: the oldest event time read back; a rate or predictive rule needs a whole window behind a reading. */
  replayFrom: number;
  /**
   * The patient of the stream's last reading, and the rules of its metric in that patient's rule set,
   * looked up once per stream instead of once per reading (a map lookup by patient id and two
   * lookups by metric name); looked up again when the reading's patient or its rule set changes.
   */
  patient: PatientState | null;
  ruleSet: RuleSet | null;
  rules: readonly CompiledRule[];
  windowMs: number;
}

interface DeviceState {
  readonly deviceId: string;
  patientId: string;
  type: DeviceTypeKey | null;
  /**
   * Wall-clock time last heard from; -Infinity: never. Not null: V8 updates a field that only ever
   * holds numbers in place, but boxes every number stored in one that also holds null (an
   * allocation per reading).
   */
  lastHeardAt: number;
  lastStatusTime: number;
  /**
   * One per metric the device has sent, a few at most: a scan of them touches less memory than a
   * Map lookup, which showed as a tenth of the streaming core's time per reading.
   */
  readonly streams: StreamState[];
  readonly signal: ConditionState;
  readonly battery: Map<string, ConditionState>;
}

function worseOf(rule: EffectiveRule): Worse {
  switch (rule.kind) {
    case 'threshold':
    case 'predictive':
      return rule.params.direction === 'below' ? 'lower' : 'higher';
    case 'rate':
      return rule.params.direction === 'falling' ? 'lower' : 'higher';
    case 'trend':
      return rule.params.direction === 'rising' ? 'higher' : 'lower';
    case 'battery':
      return 'lower';
    case 'signal_loss':
      return null;
  }
}

/** A threshold rule's `notWhileRecovering` (null: off). */
function recoveringGuard(p: ThresholdParams): number | null {
  return p.notWhileRecovering ?? null;
}

/** Readings the trend of `notWhileRecovering` needs (fewer: no trend, no wait). */
const RISING_MIN_SAMPLES = 3;

function compile(rules: readonly EffectiveRule[]): RuleSet {
  const byKey = new Map<string, CompiledRule>();
  const byMetric = Object.fromEntries(METRIC_KEYS.map((m) => [m, [] as CompiledRule[]])) as Record<
    MetricKey,
    CompiledRule[]
  >;
  const windowMs = Object.fromEntries(METRIC_KEYS.map((m) => [m, 0])) as Record<MetricKey, number>;
  const spanMs = Object.fromEntries(METRIC_KEYS.map((m) => [m, 0])) as Record<MetricKey, number>;
  const wholeMs = Object.fromEntries(METRIC_KEYS.map((m) => [m, 0])) as Record<MetricKey, number>;
  const indexOf = new Map(rules.map((rule, index) => [rule.key, index]));
  let signalLoss: CompiledRule | null = null;
  const battery: CompiledRule[] = [];
  rules.forEach((rule, index) => {
    const takeover = rule.kind === 'predictive' && rule.takenOverBy ? (indexOf.get(rule.takenOverBy) ?? -1) : -1;
    const compiled: CompiledRule = { rule, index, worse: worseOf(rule), takeoverIndex: takeover };
    byKey.set(rule.key, compiled);
    if (!rule.enabled) return;
    if (rule.scope === 'metric') {
      byMetric[rule.metric].push(compiled);
      const m = rule.metric;
      // A threshold rule that waits while recovering looks at the trend of the last RISING_WINDOW_SEC.
      const windowSec =
        rule.kind !== 'threshold'
          ? rule.params.windowSec
          : recoveringGuard(rule.params) !== null
            ? RISING_WINDOW_SEC
            : 0;
      windowMs[m] = Math.max(windowMs[m], windowSec * 1000);
      if (rule.kind === 'rate' || rule.kind === 'predictive')
        wholeMs[m] = Math.max(wholeMs[m], rule.params.windowSec * 1000);
      const needs = rule.kind === 'threshold' ? Math.max(rule.params.delaySec, windowSec) : rule.params.windowSec;
      spanMs[m] = Math.max(spanMs[m], needs * 1000);
    } else if (rule.kind === 'signal_loss') signalLoss = compiled;
    else battery.push(compiled);
  });
  const historyMs = Object.fromEntries(
    METRIC_KEYS.map((m) => [m, spanMs[m] === 0 ? 0 : spanMs[m] + wholeMs[m]]),
  ) as Record<MetricKey, number>;
  return { rules, byKey, byMetric, windowMs, historyMs, signalLoss, battery };
}

const DEFAULT_RULE_SET = compile(effectiveRules());

/**
 * The streaming core's facade: per-patient and per-device state in memory, fed readings, device
 * statuses and sweep ticks with the evaluation time passed in; returns the alert transitions and
 * patient notifications to persist and emit. Deterministic: no clock, no timers, no I/O.
 */
export class AlertEngine {
  private readonly patients = new Map<string, PatientState>();
  private readonly devices = new Map<string, DeviceState>();
  private readonly alertsById = new Map<string, PatientState>();
  private readonly scratch = new Float64Array(2);
  private pending: { transitions: AlertTransition[]; notifications: NotificationDraft[] } | null = null;

  constructor(private readonly options: AlertEngineOptions) {}

  /**
   * Registers (or updates) a device: its patient and type. Keeps its live state. A device moving to
   * another patient goes through {@link syncDevices}, which also settles the previous patient's alerts.
   */
  registerDevice(registration: DeviceRegistration): void {
    const device = this.device(registration.deviceId, registration.patientId);
    device.patientId = registration.patientId;
    device.type = registration.type;
    if (registration.lastHeardAt !== undefined && registration.lastHeardAt !== null) {
      device.lastHeardAt = Math.max(device.lastHeardAt, registration.lastHeardAt);
    }
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
    const byId = new Map<string, DeviceSync>();
    for (const d of devices) byId.set(d.deviceId, d);
    for (const patient of this.patients.values()) {
      for (const [key, alert] of patient.alerts) {
        const synced = alert.deviceId === null ? undefined : byId.get(alert.deviceId);
        if (synced === undefined || patient.ruleSet.byKey.get(alert.rule)?.rule.scope !== 'device') continue;
        const note = synced.decommissioned
          ? DEVICE_DECOMMISSIONED_NOTE
          : synced.patientId !== alert.patientId
            ? DEVICE_REASSIGNED_NOTE
            : null;
        if (note === null) continue;
        // Deleting the current entry while iterating a Map is safe.
        const step = resolveAlert(alert, null, now, note);
        this.store(patient, key, step.alert);
        this.out().transitions.push(...step.transitions);
      }
    }
    const moved: { synced: DeviceSync; lastHeardAt: number }[] = [];
    for (const [deviceId, device] of this.devices) {
      const synced = byId.get(deviceId);
      if (synced === undefined) continue;
      if (synced.decommissioned || synced.patientId !== device.patientId) this.devices.delete(deviceId);
      if (synced.decommissioned) continue;
      if (synced.patientId !== device.patientId) moved.push({ synced, lastHeardAt: device.lastHeardAt });
      else device.type = synced.type;
    }
    // Re-created after the loop: an entry added while iterating a Map would be visited again.
    for (const { synced, lastHeardAt } of moved) {
      const device = this.device(synced.deviceId, synced.patientId);
      device.type = synced.type;
      device.lastHeardAt = lastHeardAt;
    }
    return this.take();
  }

  /** Whether the engine holds live state of this device (registered, or heard from). */
  holdsDevice(deviceId: string): boolean {
    return this.devices.has(deviceId);
  }

  /** Active alerts held, by priority and state (for /metrics; no allocation per alert). */
  activeAlertCounts(): Record<AlertPriority, Record<'open' | 'acknowledged', number>> {
    const counts = {
      high: { open: 0, acknowledged: 0 },
      medium: { open: 0, acknowledged: 0 },
      low: { open: 0, acknowledged: 0 },
    };
    for (const patient of this.patients.values()) {
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
    const patient = this.patient(patientId);
    const ruleSet = overrides.length === 0 ? DEFAULT_RULE_SET : compile(effectiveRules(overrides));
    patient.ruleSet = ruleSet;
    for (const rule of ruleSet.rules) {
      if (rule.enabled) continue;
      const index = ruleSet.byKey.get(rule.key)!.index;
      patient.conditions[index] = newConditionState();
      for (const [key, alert] of patient.alerts) {
        if (alert.rule !== rule.key) continue;
        const step = resolveAlert(alert, null, now, 'rule disabled');
        this.store(patient, key, step.alert);
        this.out().transitions.push(...step.transitions);
      }
      if (rule.scope === 'device') {
        for (const device of this.devices.values()) {
          if (device.patientId !== patientId) continue;
          if (rule.kind === 'signal_loss') Object.assign(device.signal, newConditionState());
          else device.battery.delete(rule.key);
        }
      }
    }
    return this.take();
  }

  /** The effective rules currently applied to a patient. */
  rulesOf(patientId: string): readonly EffectiveRule[] {
    return (this.patients.get(patientId)?.ruleSet ?? DEFAULT_RULE_SET).rules;
  }

  /**
   * Restores active alerts after a restart (from the alerts table), so a restart neither re-opens
   * nor forgets them: an alert whose condition had not cleared seeds its rule's condition as active,
   * so the next normal reading clears it and the next abnormal one only updates it. Each restored
   * alert of a metric rule also marks how far the database reflects that rule's inputs: an input
   * not newer than its times (a redelivered old reading) changes nothing for the rule.
   */
  restore(alerts: readonly AlertRecord[]): void {
    for (const alert of alerts) {
      if (!isActive(alert)) continue;
      const patient = this.patient(alert.patientId);
      const compiled = patient.ruleSet.byKey.get(alert.rule);
      if (!compiled) continue;
      const rule = compiled.rule;
      if (rule.scope === 'device' && alert.deviceId === null) continue;
      this.store(patient, rule.scope === 'device' ? `${rule.key}|${alert.deviceId}` : rule.key, alert);
      if (rule.scope === 'metric') this.reflected(patient, compiled, alert);
      this.seedThread(patient, alert);
      if (alert.clearedAt !== null) {
        // Latched, cleared, awaiting acknowledgement: its clear started the rule's re-arming wait.
        this.rearmAfter(patient, compiled, alert);
        continue;
      }
      if (rule.scope === 'metric') patient.conditions[compiled.index].active = true;
      else {
        const device = this.device(alert.deviceId!, alert.patientId);
        if (rule.kind === 'signal_loss') device.signal.active = true;
        else this.batteryState(device, rule.key).active = true;
      }
    }
  }

  /**
   * The streams whose recent readings the rules need after a restart (registered devices, their
   * type's metrics with windowed or delayed rules): read them back and pass them to {@link rebuild}.
   */
  historyNeeded(): HistoryNeed[] {
    const needs: HistoryNeed[] = [];
    for (const device of this.devices.values()) {
      if (device.type === null) continue;
      const ruleSet = this.patients.get(device.patientId)?.ruleSet ?? DEFAULT_RULE_SET;
      for (const metric of DEVICE_TYPES[device.type].metrics) {
        const spanMs = ruleSet.historyMs[metric];
        if (spanMs > 0) needs.push({ deviceId: device.deviceId, patientId: device.patientId, metric, spanMs });
      }
    }
    return needs;
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
    for (const alert of recentlyResolved) {
      const patient = this.patient(alert.patientId);
      const compiled = patient.ruleSet.byKey.get(alert.rule);
      if (compiled?.rule.scope !== 'metric') continue;
      this.reflected(patient, compiled, alert);
      this.rearmAfter(patient, compiled, alert);
      this.seedThread(patient, alert);
    }
    // Where the read-back starts, per stream, and the latest such start per (patient, metric).
    const groups = new Map<string, { device: DeviceState; history: StreamHistory }[]>();
    const coveredFrom = new Map<string, number>();
    for (const h of history) {
      const device = this.devices.get(h.deviceId);
      if (device === undefined || h.times.length === 0) continue;
      const ruleSet = this.patients.get(device.patientId)?.ruleSet ?? DEFAULT_RULE_SET;
      const stream = this.stream(device, h.metric);
      stream.replayFrom = h.times[h.times.length - 1] - ruleSet.historyMs[h.metric];
      const group = `${device.patientId}|${h.metric}`;
      coveredFrom.set(group, Math.max(coveredFrom.get(group) ?? -Infinity, stream.replayFrom));
      const list = groups.get(group);
      if (list) list.push({ device, history: h });
      else groups.set(group, [{ device, history: h }]);
    }
    for (const alert of recentlyResolved) this.resuppress(alert, coveredFrom);
    for (const list of groups.values()) {
      if (list.length === 1) {
        const { device, history: h } = list[0];
        for (let i = 0; i < h.times.length; i++)
          this.evaluate(device, device.patientId, h.metric, h.values[i], h.times[i], now, null, true);
        continue;
      }
      // Several devices of one patient measuring one metric feed one condition: merge them in time.
      const order: [number, number][] = [];
      list.forEach(({ history: h }, s) => h.times.forEach((_, i) => order.push([s, i])));
      order.sort((a, b) => list[a[0]].history.times[a[1]] - list[b[0]].history.times[b[1]]);
      for (const [s, i] of order) {
        const { device, history: h } = list[s];
        this.evaluate(device, device.patientId, h.metric, h.values[i], h.times[i], now, null, true);
      }
    }
    for (const device of this.devices.values()) for (const stream of device.streams) stream.replayFrom = -Infinity;
    return this.take();
  }

  /** The active alerts the engine holds. */
  activeAlerts(): AlertRecord[] {
    const result: AlertRecord[] = [];
    for (const patient of this.patients.values()) result.push(...patient.alerts.values());
    return result;
  }

  /** One active alert by id, if the engine holds it. */
  alert(alertId: string): AlertRecord | undefined {
    for (const alert of this.alertsById.get(alertId)?.alerts.values() ?? []) if (alert.id === alertId) return alert;
    return undefined;
  }

  /**
   * Evaluates one reading (canonical unit, event time) at wall-clock `now`. A reading not newer than
   * the last one evaluated for its device and metric changes nothing (the caller still stores it),
   * except that it shows the device is alive.
   */
  onReading(reading: Reading, now: number = reading.receivedAt): EngineOutput {
    const device = this.device(reading.deviceId, reading.patientId);
    this.heard(device, now);
    this.evaluate(
      device,
      reading.patientId,
      reading.metric,
      reading.value,
      reading.time,
      now,
      reading.receivedAt,
      false,
    );
    return this.take();
  }

  /** Evaluates a device status message (battery rules; any status but a last will shows the device is alive). */
  onStatus(status: DeviceStatus, now: number): EngineOutput {
    const device = this.device(status.deviceId, status.patientId);
    // `online: false` is the broker's last will, sent on the device's behalf: not a sign of life.
    if (status.online !== false) this.heard(device, now);
    if (status.battery === undefined || status.time <= device.lastStatusTime) return this.take();
    device.lastStatusTime = status.time;
    const patient = this.patient(device.patientId);
    for (const compiled of patient.ruleSet.battery) {
      const rule = compiled.rule;
      if (rule.kind !== 'battery') continue;
      const state = this.batteryState(device, rule.key);
      const condition = evaluateBattery(state, status.battery, rule.params);
      const key = `${rule.key}|${device.deviceId}`;
      if (condition === 'clear') this.cleared(patient, state, key, status.time, now);
      else if (condition === 'fire') {
        const existing = patient.alerts.get(key);
        if (existing !== undefined) this.retriggered(patient, key, existing, status.battery, status.time, 'lower');
        else if (!state.suppressed) {
          this.opened(patient, rule, key, {
            deviceId: device.deviceId,
            metric: null,
            value: status.battery,
            time: status.time,
            now,
            measuredAt: status.time,
            receivedAt: null,
            late: now - status.time > LATE_AFTER_MS,
            facts: { value: status.battery, deviceType: device.type },
          });
        }
      }
    }
    return this.take();
  }

  /** The periodic sweep at wall-clock `now`: signal loss of every device, then escalation of open alerts. */
  sweep(now: number): EngineOutput {
    for (const device of this.devices.values()) {
      const patient = this.patients.get(device.patientId);
      const compiled = (patient?.ruleSet ?? DEFAULT_RULE_SET).signalLoss;
      if (compiled === null || compiled.rule.kind !== 'signal_loss') continue;
      const rule = compiled.rule;
      const afterSec =
        rule.params.afterSec ?? (device.type === null ? null : DEVICE_TYPES[device.type].signalLossAfterSec);
      if (afterSec === null) continue;
      const heardAt = device.lastHeardAt === -Infinity ? null : device.lastHeardAt;
      if (evaluateSignalLoss(device.signal, heardAt, now, afterSec) !== 'fire') continue;
      const owner = this.patient(device.patientId);
      const key = `${rule.key}|${device.deviceId}`;
      const existing = owner.alerts.get(key);
      if (existing !== undefined) this.retriggered(owner, key, existing, null, now, null);
      else if (!device.signal.suppressed) {
        const silentSec = Math.round((now - device.lastHeardAt) / 1000);
        this.opened(owner, rule, key, {
          deviceId: device.deviceId,
          metric: null,
          value: null,
          time: now,
          now,
          measuredAt: null,
          receivedAt: null,
          late: false,
          facts: { deviceType: device.type, silentSec },
        });
      }
    }
    for (const patient of this.patients.values()) {
      for (const [key, alert] of patient.alerts) {
        if (alert.state !== 'open' || alert.priority === 'low') continue;
        const step = escalateAlert(alert, now);
        if (step.transition === undefined) continue;
        this.store(patient, key, step.alert);
        this.out().transitions.push(step.transition);
      }
    }
    return this.take();
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
    const { patient, key, alert } = this.find(command.alertId);
    const decision = decideAlertCommand(alert, command, {
      rule: patient.ruleSet.byKey.get(alert.rule)?.rule,
      deviceType: alert.deviceId === null ? null : (this.devices.get(alert.deviceId)?.type ?? null),
      newId: this.options.newId,
    });
    this.store(patient, key, decision.alert);
    const out = this.out();
    out.transitions.push(...decision.transitions);
    out.notifications.push(...decision.notifications);
    if (!isActive(decision.alert)) this.suppressIfHolding(patient, alert);
    return this.take();
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
    const patient = this.patient(stored.patientId);
    const compiled = patient.ruleSet.byKey.get(stored.rule);
    if (compiled === undefined) return this.take();
    const key = compiled.rule.scope === 'device' ? `${stored.rule}|${stored.deviceId}` : stored.rule;
    const held = patient.alerts.get(key);
    // Held under another id: the engine has moved on to a newer alert of this rule, written on its own.
    const ours = held !== undefined && (held.id === observed.id || held.id === stored.id);
    const step = rebaseObserved(stored, ours ? held : observed, compiled.worse, now);
    if (ours) {
      if (held.id !== step.alert.id) this.alertsById.delete(held.id);
      this.store(patient, key, step.alert);
      if (!isActive(step.alert)) this.suppressIfHolding(patient, step.alert);
    }
    this.out().transitions.push(...step.transitions);
    return this.take();
  }

  /**
   * Adopts a change made elsewhere (the api acknowledged or resolved the alert in the database):
   * replaces the engine's copy; a hand-resolved alert whose condition still holds suppresses its rule.
   */
  applyExternal(alert: AlertRecord): void {
    const patient = this.patients.get(alert.patientId);
    if (!patient) return;
    const compiled = patient.ruleSet.byKey.get(alert.rule);
    if (!compiled) return;
    const key = compiled.rule.scope === 'device' ? `${alert.rule}|${alert.deviceId}` : alert.rule;
    const held = patient.alerts.get(key);
    if (held === undefined || held.id !== alert.id) return;
    this.store(patient, key, alert);
    if (!isActive(alert)) this.suppressIfHolding(patient, alert);
  }

  /** After a hand resolution: while the rule's condition still holds, it must not open a new alert. */
  private suppressIfHolding(patient: PatientState, alert: AlertRecord): void {
    const compiled = patient.ruleSet.byKey.get(alert.rule);
    const state = compiled && this.conditionOf(patient, compiled, alert.deviceId);
    if (state?.active) state.suppressed = true;
  }

  // ---- internals ----

  /** One reading of a device's stream through its patient's rules; `rebuilding`: read back on start (see rebuild). */
  private evaluate(
    device: DeviceState,
    patientId: string,
    metric: MetricKey,
    value: number,
    time: number,
    now: number,
    /** Wall time the reading was received; null when read back from the database on start. */
    receivedAt: number | null,
    rebuilding: boolean,
  ): void {
    const stream = this.stream(device, metric);
    if (time <= stream.lastTime) return;
    stream.lastTime = time;

    let patient = stream.patient;
    if (patient === null || patient.patientId !== patientId) patient = stream.patient = this.patient(patientId);
    if (stream.ruleSet !== patient.ruleSet) {
      stream.ruleSet = patient.ruleSet;
      stream.rules = patient.ruleSet.byMetric[metric];
      stream.windowMs = patient.ruleSet.windowMs[metric];
    }
    const spanMs = stream.windowMs;
    if (spanMs > 0) {
      if (stream.window === null) stream.window = new SampleWindow(spanMs);
      else stream.window.spanMs = spanMs;
      stream.window.push(time, value);
    }
    const rules = stream.rules;
    const notBefore = patient.notBefore;
    const out = this.scratch;
    for (let i = 0; i < rules.length; i++) {
      const compiled = rules[i];
      // The database already reflects this rule up to here: an older input must not re-decide it.
      if (notBefore !== null && time <= notBefore[compiled.index]) continue;
      const state = patient.conditions[compiled.index];
      const rule = compiled.rule;
      let condition: Condition;
      switch (rule.kind) {
        case 'threshold': {
          // The trend toward range, only for a rule that waits while recovering and not yet active.
          let recovering = NaN;
          if (!state.active && recoveringGuard(rule.params) !== null) {
            const slope = stream.window!.slopePerMin(time - RISING_WINDOW_SEC * 1000, RISING_MIN_SAMPLES);
            recovering = rule.params.direction === 'below' ? slope : -slope;
          }
          condition = evaluateThreshold(state, value, time, rule.params, recovering);
          break;
        }
        case 'rate':
          if (rebuilding && time < stream.replayFrom + rule.params.windowSec * 1000) continue;
          condition = evaluateRate(state, stream.window!, time, rule.params, out, value);
          break;
        case 'predictive': {
          if (rebuilding && time < stream.replayFrom + rule.params.windowSec * 1000) continue;
          // The threshold rule has taken over while its condition holds or its alert is still active (latched).
          const takenOver =
            compiled.takeoverIndex >= 0 &&
            (patient.conditions[compiled.takeoverIndex].active || patient.alerts.has(rule.takenOverBy!));
          condition = evaluatePredictive(state, value, stream.window!, time, rule.params, takenOver, out);
          break;
        }
        case 'trend':
          condition = evaluateTrend(state, value, stream.window!, time, rule.params, out);
          break;
        case 'battery':
        case 'signal_loss':
          // Device rules, never indexed by metric: battery is evaluated in onStatus, signal loss in sweep.
          continue;
      }
      if (condition === 'none') continue;
      if (condition === 'clear') {
        this.cleared(
          patient,
          state,
          rule.key,
          time,
          now,
          rule.kind === 'trend' ? 0 : (rule.params.rearmSec ?? 0) * 1000,
        );
        continue;
      }
      const existing = patient.alerts.get(rule.key);
      if (existing !== undefined) {
        this.retriggered(patient, rule.key, existing, value, time, compiled.worse);
      } else if (
        !state.suppressed &&
        rearmed(state, value, time, compiled.worse === 'lower') &&
        !this.covered(patient, rule)
      ) {
        const facts: MessageFacts = { value };
        if (rule.kind === 'rate') facts.slopePerMin = out[0];
        else if (rule.kind === 'predictive') facts.slopePerMin = out[1];
        else if (rule.kind === 'trend') facts.change = out[0];
        this.opened(patient, rule, rule.key, {
          deviceId: device.deviceId,
          metric,
          value,
          time,
          now,
          measuredAt: time,
          receivedAt,
          late: now - time > LATE_AFTER_MS,
          facts,
        });
      }
    }
  }

  /** Whether an active alert of one of the rule's `coveredBy` rules already covers its episode. */
  private covered(patient: PatientState, rule: EffectiveRule): boolean {
    if (rule.scope !== 'metric' || rule.kind === 'trend') return false;
    const keys = rule.params.coveredBy;
    if (keys === undefined) return false;
    for (const key of keys) if (patient.alerts.has(key)) return true;
    return false;
  }

  private stream(device: DeviceState, metric: MetricKey): StreamState {
    for (const stream of device.streams) if (stream.metric === metric) return stream;
    const stream: StreamState = {
      metric,
      lastTime: -Infinity,
      window: null,
      replayFrom: -Infinity,
      patient: null,
      ruleSet: null,
      rules: [],
      windowMs: 0,
    };
    device.streams.push(stream);
    return stream;
  }

  /** Marks a metric rule's inputs up to this stored alert's times as reflected in the database. */
  private reflected(patient: PatientState, compiled: CompiledRule, alert: AlertRecord): void {
    // Event-time fields only: resolvedAt is wall clock and says nothing of which readings were seen.
    const upTo = Math.max(alert.openedAt, alert.lastTriggeredAt, alert.clearedAt ?? -Infinity);
    patient.notBefore ??= new Float64Array(DEFAULT_RULES.length).fill(-Infinity);
    patient.notBefore[compiled.index] = Math.max(patient.notBefore[compiled.index], upTo);
  }

  /**
   * After a restart: an alert whose condition cleared (stored `clearedAt`, event time) kept its rule
   * quiet for the rule's `rearmSec` after that clear, unless a worse value came — as
   * {@link cleared} set it live. Without this a restart within that hour re-arms the rule at once
   * and the next crossing opens a duplicate alert.
   */
  private rearmAfter(patient: PatientState, compiled: CompiledRule, alert: AlertRecord): void {
    const rule = compiled.rule;
    if (alert.clearedAt === null || rule.scope !== 'metric' || rule.kind === 'trend') return;
    const rearmMs = (rule.params.rearmSec ?? 0) * 1000;
    if (rearmMs <= 0) return;
    const state = patient.conditions[compiled.index];
    if (alert.clearedAt + rearmMs <= state.quietUntil) return;
    state.quietUntil = alert.clearedAt + rearmMs;
    state.quietPeak = alert.peakValue ?? NaN;
  }

  /**
   * After a restart: an alert a clinician resolved while its condition held kept its rule quiet
   * until the condition cleared. Restored only when every reading since the resolution was read
   * back (a clear among them ends it); otherwise nobody knows, and a duplicate alert is the safer mistake.
   */
  private resuppress(alert: AlertRecord, coveredFrom: ReadonlyMap<string, number>): void {
    if (alert.resolvedBy === null || alert.clearedAt !== null || alert.resolvedAt === null) return;
    const patient = this.patients.get(alert.patientId);
    const compiled = patient?.ruleSet.byKey.get(alert.rule);
    if (!patient || !compiled || compiled.rule.scope !== 'metric' || patient.alerts.has(compiled.rule.key)) return;
    // In event time: every reading since the last one that fired the rule must have been read back.
    const from = coveredFrom.get(`${alert.patientId}|${compiled.rule.metric}`);
    if (from === undefined || alert.lastTriggeredAt < from) return;
    const state = patient.conditions[compiled.index];
    state.active = true;
    state.suppressed = true;
  }

  private out(): { transitions: AlertTransition[]; notifications: NotificationDraft[] } {
    return (this.pending ??= { transitions: [], notifications: [] });
  }

  private take(): EngineOutput {
    const result = this.pending;
    this.pending = null;
    return result ?? EMPTY;
  }

  private patient(patientId: string): PatientState {
    let patient = this.patients.get(patientId);
    if (patient === undefined) {
      patient = {
        patientId,
        ruleSet: DEFAULT_RULE_SET,
        conditions: DEFAULT_RULES.map(() => newConditionState()),
        alerts: new Map(),
        notBefore: null,
        threads: new Map(),
      };
      this.patients.set(patientId, patient);
    }
    return patient;
  }

  private device(deviceId: string, patientId: string): DeviceState {
    let device = this.devices.get(deviceId);
    if (device === undefined) {
      device = {
        deviceId,
        patientId,
        type: null,
        lastHeardAt: -Infinity,
        lastStatusTime: -Infinity,
        streams: [],
        signal: newConditionState(),
        battery: new Map(),
      };
      this.devices.set(deviceId, device);
    }
    return device;
  }

  private batteryState(device: DeviceState, ruleKey: string): ConditionState {
    let state = device.battery.get(ruleKey);
    if (state === undefined) {
      state = newConditionState();
      device.battery.set(ruleKey, state);
    }
    return state;
  }

  private conditionOf(
    patient: PatientState,
    compiled: CompiledRule,
    deviceId: string | null,
  ): ConditionState | undefined {
    if (compiled.rule.scope === 'metric') return patient.conditions[compiled.index];
    const device = deviceId === null ? undefined : this.devices.get(deviceId);
    if (!device) return undefined;
    return compiled.rule.kind === 'signal_loss' ? device.signal : device.battery.get(compiled.rule.key);
  }

  private find(alertId: string): { patient: PatientState; key: string; alert: AlertRecord } {
    const patient = this.alertsById.get(alertId);
    if (patient) for (const [key, alert] of patient.alerts) if (alert.id === alertId) return { patient, key, alert };
    throw new AlertNotHeldError(alertId);
  }

  private store(patient: PatientState, key: string, alert: AlertRecord): void {
    if (isActive(alert)) {
      // The engine keeps its own copy: records handed out in transitions never change afterwards.
      patient.alerts.set(key, copyAlert(alert));
      this.alertsById.set(alert.id, patient);
    } else {
      patient.alerts.delete(key);
      this.alertsById.delete(alert.id);
    }
  }

  /** The device was heard from at `now`: ends a signal loss (and tells the patient it is back). */
  private heard(device: DeviceState, now: number): void {
    if (now > device.lastHeardAt) device.lastHeardAt = now;
    if (!device.signal.active) return;
    const wasSuppressed = device.signal.suppressed;
    evaluateSignalHeard(device.signal);
    const patient = this.patient(device.patientId);
    const key = `device.signal_loss|${device.deviceId}`;
    const lost = patient.alerts.get(key);
    this.cleared(patient, device.signal, key, now, now);
    if (lost !== undefined || wasSuppressed) {
      this.notify(
        patient.patientId,
        signalRestoredNotificationText({ deviceType: device.type }),
        now,
        // About the loss it ends: once per lost alert (a loss resolved by hand has none left: the time tells it apart).
        lost === undefined
          ? `notification|${device.deviceId}|signal_restored|${now}`
          : notificationCause(lost.id, 'signal_restored'),
        null,
        device.deviceId,
        // "Back" updates the "we lost your sensor" message: the transitions of one alert, one thread.
        lost === undefined ? null : this.options.newId(notificationCause(lost.id, 'opened')),
      );
    }
  }

  /**
   * A rule's condition cleared at event time `time`. With `rearmMs` (the rule's `rearmSec`), the
   * alert that ends with it keeps the rule quiet for that long unless a worse value comes.
   */
  private cleared(
    patient: PatientState,
    state: ConditionState,
    key: string,
    time: number,
    now: number,
    rearmMs = 0,
  ): void {
    state.suppressed = false;
    const alert = patient.alerts.get(key);
    if (alert === undefined) return;
    if (rearmMs > 0 && alert.clearedAt === null) {
      state.quietUntil = time + rearmMs;
      state.quietPeak = alert.peakValue ?? NaN;
    }
    const step = clearAlert(alert, time, now);
    if (step.transitions.length === 0) return;
    this.store(patient, key, step.alert);
    this.out().transitions.push(...step.transitions);
  }

  private retriggered(
    patient: PatientState,
    key: string,
    alert: AlertRecord,
    value: number | null,
    time: number,
    worse: Worse,
  ): void {
    // Hot path while a condition holds (every reading of a 1 Hz oximeter): nothing to emit, so move
    // lastTriggeredAt on the engine's own copy (see store) instead of allocating a new record.
    if (alert.clearedAt === null && !isWorse(value, alert.peakValue, worse)) {
      if (time > alert.lastTriggeredAt) (alert as { lastTriggeredAt: number }).lastTriggeredAt = time;
      return;
    }
    const step = retriggerAlert(alert, value, time, worse);
    this.store(patient, key, step.alert);
    if (step.transition) this.out().transitions.push(step.transition);
  }

  private opened(
    patient: PatientState,
    rule: EffectiveRule,
    key: string,
    input: {
      deviceId: string | null;
      metric: MetricKey | null;
      value: number | null;
      time: number;
      now: number;
      measuredAt: number | null;
      receivedAt: number | null;
      late: boolean;
      facts: MessageFacts;
    },
  ): void {
    const alert = openAlert({
      id: this.options.newId(
        alertCause(patient.patientId, rule.key, rule.scope === 'device' ? input.deviceId : null, input.time),
      ),
      patientId: patient.patientId,
      deviceId: input.deviceId,
      rule: rule.key,
      metric: input.metric,
      priority: rule.params.priority,
      message: clinicianMessage(rule, input.facts),
      value: input.value,
      time: input.time,
      now: input.now,
      measuredAt: input.measuredAt,
      receivedAt: input.receivedAt,
      late: input.late,
    });
    this.store(patient, key, alert);
    this.out().transitions.push({ kind: 'opened', alert });
    const cause = notificationCause(alert.id, 'opened');
    this.notify(
      patient.patientId,
      openedNotificationText(rule, input.facts),
      input.now,
      cause,
      alert,
      alert.deviceId,
      rule.scope === 'metric' ? this.thread(patient, alert, this.options.newId(cause)) : null,
    );
  }

  /**
   * The thread a metric alert's opening message joins (spec §5): its metric's open thread when the
   * alert opened within EPISODE_WINDOW_MS of event time after that thread's latest alert, or while
   * another alert of the metric is still active (a long urgent low); else it starts one (`ownId`).
   * Event time, so a redelivered or replayed input decides the same thread.
   */
  private thread(patient: PatientState, alert: AlertRecord, ownId: string): string {
    const metric = alert.metric!;
    const open = patient.threads.get(metric);
    let joins = open !== undefined && alert.openedAt - open.lastAt <= EPISODE_WINDOW_MS;
    if (open !== undefined && !joins)
      for (const other of patient.alerts.values()) if (other !== alert && other.metric === metric) joins = true;
    const id = joins ? open!.id : ownId;
    patient.threads.set(metric, { id, lastAt: Math.max(joins ? open!.lastAt : -Infinity, alert.openedAt) });
    return id;
  }

  /**
   * After a restart: the metric's thread continues from a stored alert's opening message (storage
   * resolves a message id to its thread), so an episode that spans a restart stays one thread.
   */
  private seedThread(patient: PatientState, alert: AlertRecord): void {
    if (alert.metric === null) return;
    const known = patient.threads.get(alert.metric);
    if (known !== undefined && known.lastAt >= alert.openedAt) return;
    patient.threads.set(alert.metric, {
      id: this.options.newId(notificationCause(alert.id, 'opened')),
      lastAt: alert.openedAt,
    });
  }

  private notify(
    patientId: string,
    text: NotificationText,
    now: number,
    cause: string,
    alert: AlertRecord | null,
    deviceId: string | null = alert?.deviceId ?? null,
    threadId: string | null = null,
  ): void {
    this.out().notifications.push({
      ...text,
      id: this.options.newId(cause),
      patientId,
      createdAt: now,
      alertId: alert?.id ?? null,
      deviceId,
      threadId,
    });
  }
}

/** The engine holds no active alert with this id (unknown, or already resolved). */
export class AlertNotHeldError extends Error {
  readonly code = 'alert_not_held';
  constructor(readonly alertId: string) {
    super(`no active alert ${alertId}`);
    this.name = 'AlertNotHeldError';
  }
}
