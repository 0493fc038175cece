import type { DeviceTypeKey, MetricKey } from '@lantern/domain';
import type { EngineOutput, NotificationDraft } from './alert-engine.js';
import { copyAlert, isActive, type AlertRecord, type AlertTransition } from './alert-lifecycle.js';
import { DEFAULT_RULES } from './rule-catalog.js';
import { newConditionState, type ConditionState } from './rule-evaluators.js';
import { DEFAULT_RULE_SET, type CompiledRule, type RuleSet } from './engine-rule-set.js';
import type { SampleWindow } from './sample-window.js';

/** One patient's rules, condition states, active alerts and threads. */
export interface PatientState {
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

/** One device's readings of one metric. */
export interface StreamState {
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

/** One device's live state: its owner, when it was last heard from, its streams and device-rule conditions. */
export interface DeviceState {
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

const EMPTY: EngineOutput = Object.freeze({ transitions: Object.freeze([]), notifications: Object.freeze([]) });

/** The engine holds no active alert with this id (unknown, or already resolved). */
export class AlertNotHeldError extends Error {
  readonly code = 'alert_not_held';
  constructor(readonly alertId: string) {
    super(`no active alert ${alertId}`);
    this.name = 'AlertNotHeldError';
  }
}

/**
 * Everything the engine holds in memory, and the output of the call in progress. The engine's
 * parts (evaluation, sweep, restore, reconcile) are functions of it, so that one reading is a chain
 * of direct calls on one object.
 */
export class EngineState {
  readonly patients = new Map<string, PatientState>();
  readonly devices = new Map<string, DeviceState>();
  /** The patient holding each active alert, so that a command finds it without a scan of every patient. */
  readonly alertsById = new Map<string, PatientState>();
  /** Out-parameters of the rule evaluators (slopes, changes), reused rather than allocated per reading. */
  readonly scratch = new Float64Array(2);
  private pending: { transitions: AlertTransition[]; notifications: NotificationDraft[] } | null = null;

  constructor(readonly newId: (cause: string) => string) {}

  /** The output of the call in progress, created on its first transition. */
  out(): { transitions: AlertTransition[]; notifications: NotificationDraft[] } {
    return (this.pending ??= { transitions: [], notifications: [] });
  }

  /** Ends the call: its output, or one shared empty output when it decided nothing. */
  take(): EngineOutput {
    const result = this.pending;
    this.pending = null;
    return result ?? EMPTY;
  }

  patient(patientId: string): PatientState {
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

  device(deviceId: string, patientId: string): DeviceState {
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

  stream(device: DeviceState, metric: MetricKey): StreamState {
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

  batteryState(device: DeviceState, ruleKey: string): ConditionState {
    let state = device.battery.get(ruleKey);
    if (state === undefined) {
      state = newConditionState();
      device.battery.set(ruleKey, state);
    }
    return state;
  }

  conditionOf(patient: PatientState, compiled: CompiledRule, deviceId: string | null): ConditionState | undefined {
    if (compiled.rule.scope === 'metric') return patient.conditions[compiled.index];
    const device = deviceId === null ? undefined : this.devices.get(deviceId);
    if (!device) return undefined;
    return compiled.rule.kind === 'signal_loss' ? device.signal : device.battery.get(compiled.rule.key);
  }

  find(alertId: string): { patient: PatientState; key: string; alert: AlertRecord } {
    const patient = this.alertsById.get(alertId);
    if (patient) for (const [key, alert] of patient.alerts) if (alert.id === alertId) return { patient, key, alert };
    throw new AlertNotHeldError(alertId);
  }

  store(patient: PatientState, key: string, alert: AlertRecord): void {
    if (isActive(alert)) {
      // The engine keeps its own copy: records handed out in transitions never change afterwards.
      patient.alerts.set(key, copyAlert(alert));
      this.alertsById.set(alert.id, patient);
    } else {
      patient.alerts.delete(key);
      this.alertsById.delete(alert.id);
    }
  }
}
