import { DEVICE_TYPES } from '@lantern/domain';
import type { HistoryNeed, StreamHistory } from './alert-engine.js';
import { isActive, type AlertRecord } from './alert-lifecycle.js';
import { seedThread } from './engine-alerts.js';
import { evaluateReading } from './engine-evaluation.js';
import { DEFAULT_RULE_SET, type CompiledRule } from './engine-rule-set.js';
import type { DeviceState, EngineState, PatientState } from './engine-state.js';
import { DEFAULT_RULES } from './rule-catalog.js';

/** Restores the active alerts read from the alerts table after a restart (see AlertEngine.restore). */
export function restoreAlerts(engine: EngineState, alerts: readonly AlertRecord[]): void {
  for (const alert of alerts) {
    if (!isActive(alert)) continue;
    const patient = engine.patient(alert.patientId);
    const compiled = patient.ruleSet.byKey.get(alert.rule);
    if (!compiled) continue;
    const rule = compiled.rule;
    if (rule.scope === 'device' && alert.deviceId === null) continue;
    engine.store(patient, rule.scope === 'device' ? `${rule.key}|${alert.deviceId}` : rule.key, alert);
    if (rule.scope === 'metric') reflected(patient, compiled, alert);
    seedThread(engine, patient, alert);
    if (alert.clearedAt !== null) {
      // Latched, cleared, awaiting acknowledgement: its clear started the rule's re-arming wait.
      rearmAfter(patient, compiled, alert);
      continue;
    }
    if (rule.scope === 'metric') patient.conditions[compiled.index].active = true;
    else {
      const device = engine.device(alert.deviceId!, alert.patientId);
      if (rule.kind === 'signal_loss') device.signal.active = true;
      else engine.batteryState(device, rule.key).active = true;
    }
  }
}

/** The streams whose recent readings the rules need after a restart (see AlertEngine.historyNeeded). */
export function historyNeeded(engine: EngineState): HistoryNeed[] {
  const needs: HistoryNeed[] = [];
  for (const device of engine.devices.values()) {
    if (device.type === null) continue;
    const ruleSet = engine.patients.get(device.patientId)?.ruleSet ?? DEFAULT_RULE_SET;
    for (const metric of DEVICE_TYPES[device.type].metrics) {
      const spanMs = ruleSet.historyMs[metric];
      if (spanMs > 0) needs.push({ deviceId: device.deviceId, patientId: device.patientId, metric, spanMs });
    }
  }
  return needs;
}

/** Evaluates the readings read back after a restart, newer than what the database reflects (see AlertEngine.rebuild). */
export function rebuildFromHistory(
  engine: EngineState,
  history: readonly StreamHistory[],
  recentlyResolved: readonly AlertRecord[],
  now: number,
): void {
  for (const alert of recentlyResolved) {
    const patient = engine.patient(alert.patientId);
    const compiled = patient.ruleSet.byKey.get(alert.rule);
    if (compiled?.rule.scope !== 'metric') continue;
    reflected(patient, compiled, alert);
    rearmAfter(patient, compiled, alert);
    seedThread(engine, patient, alert);
  }
  // Where the read-back starts, per stream, and the latest such start per (patient, metric).
  const groups = new Map<string, { device: DeviceState; history: StreamHistory }[]>();
  const coveredFrom = new Map<string, number>();
  for (const h of history) {
    const device = engine.devices.get(h.deviceId);
    if (device === undefined || h.times.length === 0) continue;
    const ruleSet = engine.patients.get(device.patientId)?.ruleSet ?? DEFAULT_RULE_SET;
    const stream = engine.stream(device, h.metric);
    stream.replayFrom = h.times[h.times.length - 1] - ruleSet.historyMs[h.metric];
    const group = `${device.patientId}|${h.metric}`;
    coveredFrom.set(group, Math.max(coveredFrom.get(group) ?? -Infinity, stream.replayFrom));
    const list = groups.get(group);
    if (list) list.push({ device, history: h });
    else groups.set(group, [{ device, history: h }]);
  }
  for (const alert of recentlyResolved) resuppress(engine, alert, coveredFrom);
  for (const list of groups.values()) {
    if (list.length === 1) {
      const { device, history: h } = list[0];
      for (let i = 0; i < h.times.length; i++)
        evaluateReading(engine, device, device.patientId, h.metric, h.values[i], h.times[i], now, null, true);
      continue;
    }
    // Several devices of one patient measuring one metric feed one condition: merge them in time.
    const order: [number, number][] = [];
    list.forEach(({ history: h }, s) => h.times.forEach((_, i) => order.push([s, i])));
    order.sort((a, b) => list[a[0]].history.times[a[1]] - list[b[0]].history.times[b[1]]);
    for (const [s, i] of order) {
      const { device, history: h } = list[s];
      evaluateReading(engine, device, device.patientId, h.metric, h.values[i], h.times[i], now, null, true);
    }
  }
  for (const device of engine.devices.values()) for (const stream of device.streams) stream.replayFrom = -Infinity;
}

/** Marks a metric rule's inputs up to this stored alert's times as reflected in the database. */
function reflected(patient: PatientState, compiled: CompiledRule, alert: AlertRecord): void {
  // Event-time fields only: resolvedAt is wall clock and says nothing of which readings were seen.
  const upTo = Math.max(alert.openedAt, alert.lastTriggeredAt, alert.clearedAt ?? -Infinity);
  patient.notBefore ??= new Float64Array(DEFAULT_RULES.length).fill(-Infinity);
  patient.notBefore[compiled.index] = Math.max(patient.notBefore[compiled.index], upTo);
}

/**
 * After a restart: an alert whose condition cleared (stored `clearedAt`, event time) kept its rule
 * quiet for the rule's `rearmSec` after that clear, unless a worse value came — as `cleared` set
 * it live. Without this a restart within that hour re-arms the rule at once and the next crossing
 * opens a duplicate alert.
 */
function rearmAfter(patient: PatientState, compiled: CompiledRule, alert: AlertRecord): void {
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
function resuppress(engine: EngineState, alert: AlertRecord, coveredFrom: ReadonlyMap<string, number>): void {
  if (alert.resolvedBy === null || alert.clearedAt !== null || alert.resolvedAt === null) return;
  const patient = engine.patients.get(alert.patientId);
  const compiled = patient?.ruleSet.byKey.get(alert.rule);
  if (!patient || !compiled || compiled.rule.scope !== 'metric' || patient.alerts.has(compiled.rule.key)) return;
  // In event time: every reading since the last one that fired the rule must have been read back.
  const from = coveredFrom.get(`${alert.patientId}|${compiled.rule.metric}`);
  if (from === undefined || alert.lastTriggeredAt < from) return;
  const state = patient.conditions[compiled.index];
  state.active = true;
  state.suppressed = true;
}
