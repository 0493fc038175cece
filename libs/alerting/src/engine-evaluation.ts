import type { MetricKey } from '@lantern/domain';
import type { MessageFacts } from './alert-messages.js';
import { cleared, opened, retriggered } from './engine-alerts.js';
import { recoveringGuard, RISING_MIN_SAMPLES } from './engine-rule-set.js';
import type { DeviceState, EngineState, PatientState } from './engine-state.js';
import { RISING_WINDOW_SEC } from './rule-catalog.js';
import {
  evaluateBattery,
  evaluatePredictive,
  evaluateRate,
  evaluateThreshold,
  evaluateTrend,
  rearmed,
  type Condition,
} from './rule-evaluators.js';
import type { EffectiveRule } from './rule-overrides.js';
import { SampleWindow } from './sample-window.js';

/** A triggering reading evaluated more than this after its event time makes a `late` alert (store-and-forward). */
export const LATE_AFTER_MS = 15 * 60_000;

/**
 * One reading of a device's stream through its patient's rules; `rebuilding`: read back on start
 * (see AlertEngine.rebuild). The hot path: plain calls on the engine's state, nothing allocated
 * unless an alert opens or changes.
 */
export function evaluateReading(
  engine: EngineState,
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
  const stream = engine.stream(device, metric);
  if (time <= stream.lastTime) return;
  stream.lastTime = time;

  let patient = stream.patient;
  if (patient === null || patient.patientId !== patientId) patient = stream.patient = engine.patient(patientId);
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
  const out = engine.scratch;
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
        // Device rules, never indexed by metric: battery is evaluated in evaluateBatteryLevel, signal loss in sweep.
        continue;
    }
    if (condition === 'none') continue;
    if (condition === 'clear') {
      cleared(
        engine,
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
      retriggered(engine, existing, value, time, compiled.worse);
    } else if (
      !state.suppressed &&
      rearmed(state, value, time, compiled.worse === 'lower') &&
      !covered(patient, rule)
    ) {
      const facts: MessageFacts = { value };
      if (rule.kind === 'rate') facts.slopePerMin = out[0];
      else if (rule.kind === 'predictive') facts.slopePerMin = out[1];
      else if (rule.kind === 'trend') facts.change = out[0];
      opened(engine, patient, rule, rule.key, {
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
function covered(patient: PatientState, rule: EffectiveRule): boolean {
  if (rule.scope !== 'metric' || rule.kind === 'trend') return false;
  const keys = rule.params.coveredBy;
  if (keys === undefined) return false;
  for (const key of keys) if (patient.alerts.has(key)) return true;
  return false;
}

/** A battery level reported at event time `time`, newer than the device's last status, through its patient's battery rules. */
export function evaluateBatteryLevel(
  engine: EngineState,
  device: DeviceState,
  battery: number,
  time: number,
  now: number,
): void {
  device.lastStatusTime = time;
  const patient = engine.patient(device.patientId);
  for (const compiled of patient.ruleSet.battery) {
    const rule = compiled.rule;
    if (rule.kind !== 'battery') continue;
    const state = engine.batteryState(device, rule.key);
    const condition = evaluateBattery(state, battery, rule.params);
    const key = `${rule.key}|${device.deviceId}`;
    if (condition === 'clear') cleared(engine, patient, state, key, time, now);
    else if (condition === 'fire') {
      const existing = patient.alerts.get(key);
      if (existing !== undefined) retriggered(engine, existing, battery, time, 'lower');
      else if (!state.suppressed) {
        opened(engine, patient, rule, key, {
          deviceId: device.deviceId,
          metric: null,
          value: battery,
          time,
          now,
          measuredAt: time,
          receivedAt: null,
          late: now - time > LATE_AFTER_MS,
          facts: { value: battery, deviceType: device.type },
        });
      }
    }
  }
}
