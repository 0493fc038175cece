import { describe, expect, it } from '@jest/globals';
import {
  DexcomLikeAlgorithm,
  LanternAlgorithm,
  NightscoutLikeAlgorithm,
  type RaisedAlert,
} from '../../bench/src/eval-alerts/alert-algorithms.js';
import { computeMetrics, observable, outcomeOf } from '../../bench/src/eval-alerts/alert-metrics.js';
import { checkTargets } from '../../bench/src/eval-alerts/alert-targets.js';
import { buildCorpus, DEFAULT_CORPUS } from '../../bench/src/eval-alerts/corpus.js';
import { evaluate } from '../../bench/src/eval-alerts/eval-runner.js';
import { findEvents } from '../../bench/src/eval-alerts/glycaemic-events.js';
import { changeSteps } from '../../bench/src/eval-alerts/lantern-variants.js';
import { sensorAccuracy } from '../../bench/src/eval-alerts/sensor-accuracy.js';
import type { PatientTrace } from '../../bench/src/eval-alerts/virtual-patient.js';

const MIN = 60_000;
const START = Date.UTC(2026, 0, 5);
const at = (minute: number): number => START + minute * MIN;

/**
 * One day by hand, a value per minute: 120, then a level-2 low (45 mg/dL from 10:00 for 30 min,
 * back to 120 at 10:30), a 10-minute dip to 50 at 14:00 (no event: shorter than 15 min), a
 * level-1-only low (62 from 16:00 for 20 min) and a high (300 from 19:00 for 60 min).
 */
function handTrace(readings: 'none' | 'sensor'): PatientTrace {
  const g = new Float64Array(1440).fill(120);
  for (let m = 600; m < 630; m++) g[m] = 45;
  for (let m = 840; m < 850; m++) g[m] = 50;
  for (let m = 960; m < 980; m++) g[m] = 62;
  for (let m = 1140; m < 1200; m++) g[m] = 300;
  const times: number[] = [];
  const values: number[] = [];
  if (readings === 'sensor') {
    // The sensor every 5 min, exact but 5 min late (a pure lag): what the engine sees.
    for (let m = 5; m < 1440; m += 5) {
      times.push(at(m));
      values.push(g[m - 5]);
    }
  }
  return {
    id: 'hand',
    group: 'adult',
    start: START,
    days: 1,
    trueGlucose: g,
    readingTimes: times,
    readingValues: values,
    log: [],
    compressions: [],
  };
}

const alert = (
  rule: string,
  target: RaisedAlert['target'],
  priority: RaisedAlert['priority'],
  minute: number,
): RaisedAlert => ({
  rule,
  target,
  priority,
  raisedAt: at(minute),
  endedAt: at(minute + 20),
});

describe('alert-quality harness: events by the consensus definitions', () => {
  it('finds the level-1, level-2 and high events of a hand-made trace, and not a 10-minute dip', () => {
    const g = handTrace('none').trueGlucose;
    expect(findEvents('level2', g, START)).toEqual([{ kind: 'level2', start: at(600), end: at(630), extreme: 45 }]);
    expect(findEvents('level1', g, START).map((e) => [e.start, e.end])).toEqual([
      [at(600), at(630)],
      [at(960), at(980)],
    ]);
    expect(findEvents('high', g, START)).toEqual([{ kind: 'high', start: at(1140), end: at(1200), extreme: 300 }]);
  });
});

describe('alert-quality harness: metrics on known alerts', () => {
  it('counts sensitivity, warning, false and not-followed alerts exactly', () => {
    const trace = handTrace('none');
    const alerts: RaisedAlert[] = [
      alert('predict', 'level2', 'medium', 590), // 10 min before the level-2 event: a warning
      alert('urgent', 'level2', 'high', 603), // during it: followed
      alert('urgent', 'level2', 'high', 300), // 05:00, nothing near: a false urgent alert
      alert('low', 'level1', 'medium', 965), // during the level-1-only low: followed by level 1, not level 2
      alert('high', 'high', 'low', 1170), // 30 min into the high
    ];
    const m = computeMetrics([outcomeOf(trace, alerts)]);
    expect(m.level2).toEqual({ events: 1, detected: 1, alreadyActive: 0, medianWarningMin: -10 });
    // Level 1: the first low-class alert of each event — −10 min and +5 min.
    expect(m.level1).toEqual({ events: 2, detected: 2, alreadyActive: 0, medianWarningMin: -2.5 });
    expect(m.high).toEqual({ events: 1, detected: 1, alreadyActive: 0, medianWarningMin: 30 });
    expect(m.falseLowPerPatientDay).toBe(1);
    expect(m.urgentPerPatientDay).toBe(2);
    expect(m.urgentNotFollowed).toBe(0.5);
    expect(m.level2RulesNotFollowed).toBeCloseTo(1 / 3);
    expect(m.glucoseAlertsPerPatientDay).toBe(5);
    expect(m.rules.find((r) => r.rule === 'low')).toMatchObject({ alerts: 1, followed: 1 });
  });

  it('sorts urgent alarms not followed by a level-2 event by what the true glucose did in the hour after', () => {
    // A compression low over 05:00–05:40 only: the sensor read low while the truth stayed 120.
    const trace: PatientTrace = { ...handTrace('none'), compressions: [{ start: at(300), end: at(340) }] };
    const urgent = (minute: number): RaisedAlert => alert('urgent', 'level2', 'high', minute);
    const alerts = [
      urgent(603), // during the level-2 event: followed, in no bucket
      urgent(305), // in the compression low, truth 120
      urgent(420), // 07:00, truth 120, no compression: another sensor error
      urgent(835), // 5 min before the 10-minute dip to 50: below 54, too briefly for level 2
      urgent(955), // 5 min before the level-1-only low at 62
    ];
    expect(computeMetrics([outcomeOf(trace, alerts)]).urgentMisses).toEqual({
      urgent: 5,
      notFollowed: 4,
      trueBelow54Briefly: 1,
      true54To59: 0,
      true60To69: 1,
      noHypoCompression: 1,
      noHypoOtherSensorError: 1,
    });
  });

  it('a level-2 event the readings never show below 70 is unobservable, and reported apart', () => {
    const trace = handTrace('sensor');
    const [event] = findEvents('level2', trace.trueGlucose, START);
    expect(observable(trace, event)).toBe(true);
    // The same event under a sensor reading 95 throughout (an error no rule on readings can see).
    const blind: PatientTrace = { ...trace, readingValues: trace.readingValues.map(() => 95) };
    expect(observable(blind, event)).toBe(false);
    const m = computeMetrics([outcomeOf(blind, [])]);
    expect(m.level2.events).toBe(1);
    expect(m.level2Observable.events).toBe(0);
  });

  it('an alert raised more than an hour before an event but still active at its start counts as already active', () => {
    const early: RaisedAlert = { ...alert('predict', 'level2', 'medium', 500), endedAt: at(620) };
    const m = computeMetrics([outcomeOf(handTrace('none'), [early])]);
    expect(m.level2).toMatchObject({ events: 1, detected: 0, alreadyActive: 1 });
  });
});

describe('alert-quality harness: the real engine and the references on a hand-made trace', () => {
  it("Lantern's engine raises urgent low for the level-2 event and high for the high; the references too", () => {
    const trace = handTrace('sensor');
    const lantern = new LanternAlgorithm('Lantern', { acknowledgeAfterMin: 5, latencyMs: 2000 }).run(trace);
    // The sensor reads 45 from 10:05: urgent low then; the 10-minute dip (50 at 14:05, 14:10) too.
    expect(lantern.filter((a) => a.rule === 'glucose.urgent_low').map((a) => a.raisedAt)).toEqual([at(605), at(845)]);
    // 300 from 19:05: glucose.high after its 30-min delay.
    expect(lantern.filter((a) => a.rule === 'glucose.high').map((a) => a.raisedAt)).toEqual([at(1175)]);
    const m = computeMetrics([outcomeOf(trace, lantern)]);
    expect(m.level2).toMatchObject({ events: 1, detected: 1, medianWarningMin: 5 });
    // In the order raised (one reading can raise both lows).
    expect(new NightscoutLikeAlgorithm().run(trace).map((a) => a.rule)).toEqual([
      'urgent low <55',
      'low <80',
      'urgent low <55',
      'low <80',
      'low <80',
      'urgent high >260',
    ]);
    expect(new DexcomLikeAlgorithm().run(trace).filter((a) => a.rule === 'urgent low <55')).toHaveLength(2);
  });
});

describe('alert-quality harness: a small corpus through the real engine', () => {
  const small = { ...DEFAULT_CORPUS, adults: 3, children: 3, days: 3 };

  it('is deterministic: the same seed gives the same traces and the same numbers', () => {
    const a = buildCorpus(small);
    const b = buildCorpus(small);
    expect(a.map((t) => t.readingValues)).toEqual(b.map((t) => t.readingValues));
    const lantern = new LanternAlgorithm('Lantern', { acknowledgeAfterMin: 5, latencyMs: 2000 });
    expect(evaluate(a, [lantern])).toEqual(evaluate(b, [lantern]));
  });

  it('the default rules against spec §4 (before) meet the targets they meet on the default corpus, and do better on the others', () => {
    const corpus = buildCorpus(small);
    const steps = changeSteps();
    const options = { acknowledgeAfterMin: 5, latencyMs: 2000 };
    const [before, now] = evaluate(corpus, [
      new LanternAlgorithm('before', { ...options, overrides: steps[0].overrides }),
      new LanternAlgorithm('now', { ...options, overrides: steps[steps.length - 1].overrides }),
    ]);
    const b = before.metrics.all;
    const n = now.metrics.all;
    expect(b.level2.events).toBeGreaterThan(0);
    const checks = Object.fromEntries(checkTargets(b, n).map((c) => [c.target, c.ok]));
    expect(checks).toMatchObject({
      'level-2 sensitivity 100 %': true,
      'level-2 sensitivity 100 %, events the sensor showed': true,
      'level-2 median warning ≥ 5 min before the event': true,
      'level 1 no worse: sensitivity': true,
      'level 1 no worse: median warning': true,
      'level 1 no worse: false low-class alerts per patient-day': true,
    });
    // Not met (docs/alert-quality.md, "Targets not met"), but no worse than the first round's gains.
    expect(n.urgentPerPatientDay).toBeLessThanOrEqual(b.urgentPerPatientDay / 2);
    expect(n.glucoseAlertsPerPatientDay).toBeLessThanOrEqual(b.glucoseAlertsPerPatientDay * 0.8);
  });

  it('the modern sensor model is as accurate as a Dexcom G6/G7-class sensor; the legacy one fails iCGM at lows', () => {
    const modern = sensorAccuracy(buildCorpus({ ...small, sensor: 'modern' }), 'all');
    const legacy = sensorAccuracy(buildCorpus({ ...small, sensor: 'legacy' }), 'all');
    expect(modern.mard).toBeGreaterThan(0.07);
    expect(modern.mard).toBeLessThan(0.11);
    expect(modern.within20).toBeGreaterThan(0.87);
    expect(modern.lowWithin15Mgdl).toBeGreaterThan(0.85);
    expect(legacy.lowWithin15Mgdl).toBeLessThan(0.85);
  });
});
