import { Prng } from '../../../device-simulator/src/prng.js';
import { CgmSensor, SENSOR_MODELS, type SensorModelName } from './cgm-sensor.js';
import { basalFor, HOVORKA_NOMINAL, HovorkaModel, MGDL_PER_MMOL, type HovorkaParams } from './hovorka-model.js';

export type PatientGroup = 'adult' | 'child';

/** How a group lives with its diabetes: the sources of variability the corpus draws from. */
interface GroupProfile {
  readonly bodyWeightKg: readonly [number, number];
  /** Coefficient of variation of the model's parameters between patients (sensitivities; others get half). */
  readonly parameterCv: number;
  /** Day-to-day variation of insulin sensitivity (log-normal sd). */
  readonly dailySensitivitySd: number;
  /** Error of carbohydrate counting per meal (log-normal sd). */
  readonly carbCountSd: number;
  readonly missedBolus: number;
  readonly lateBolus: number;
  readonly unbolusedSnack: number;
  readonly exercisePerDay: number;
  readonly compressionPerNight: number;
  /** Chance of acting on a high (a correction bolus) once it has lasted an hour. */
  readonly correctionAdherence: number;
  readonly meals: readonly {
    readonly hour: number;
    readonly sdMin: number;
    readonly grams: readonly [number, number];
  }[];
  readonly bedtimeHour: readonly [number, number];
  readonly rescueGrams: readonly [number, number];
}

const PROFILES: Record<PatientGroup, GroupProfile> = {
  adult: {
    bodyWeightKg: [55, 100],
    parameterCv: 0.3,
    dailySensitivitySd: 0.22,
    carbCountSd: 0.2,
    missedBolus: 0.05,
    lateBolus: 0.08,
    unbolusedSnack: 0.15,
    exercisePerDay: 0.45,
    compressionPerNight: 0.15,
    correctionAdherence: 0.7,
    meals: [
      { hour: 7.25, sdMin: 40, grams: [30, 70] },
      { hour: 12.75, sdMin: 45, grams: [45, 90] },
      { hour: 19.25, sdMin: 50, grams: [50, 100] },
    ],
    bedtimeHour: [22, 23.75],
    rescueGrams: [15, 20],
  },
  child: {
    bodyWeightKg: [20, 50],
    parameterCv: 0.4,
    dailySensitivitySd: 0.25,
    carbCountSd: 0.3,
    missedBolus: 0.1,
    lateBolus: 0.15,
    unbolusedSnack: 0.35,
    exercisePerDay: 0.6,
    compressionPerNight: 0.3,
    correctionAdherence: 0.65,
    meals: [
      { hour: 7, sdMin: 30, grams: [25, 55] },
      { hour: 12.25, sdMin: 30, grams: [35, 65] },
      { hour: 18.5, sdMin: 40, grams: [35, 70] },
    ],
    bedtimeHour: [20.5, 21.75],
    rescueGrams: [10, 15],
  },
};

/** One labelled trace: the blood glucose every minute (ground truth) and the sensor's readings. */
export interface PatientTrace {
  readonly id: string;
  readonly group: PatientGroup;
  /** Epoch ms of minute 0 (local midnight of day 1; the corpus treats UTC as local time). */
  readonly start: number;
  readonly days: number;
  /** Blood glucose (mg/dL) at each minute from `start`. */
  readonly trueGlucose: Float64Array;
  /** Sensor readings that reached Lantern: event times (epoch ms) and values (mg/dL); dropouts left out. */
  readonly readingTimes: readonly number[];
  readonly readingValues: readonly number[];
  /** What happened (meals, boluses, rescues, exercise, compression lows, dropouts), for the docs and for debugging. */
  readonly log: readonly string[];
  /** Where compression lows pulled the readings down (event time, epoch ms; none for the `ideal` sensor). */
  readonly compressions: readonly TimeSpan[];
}

/** A span of event time, epoch ms. */
export interface TimeSpan {
  readonly start: number;
  readonly end: number;
}

export interface TraceOptions {
  readonly id: string;
  readonly group: PatientGroup;
  readonly seed: number;
  readonly days: number;
  readonly start: number;
  /** Minutes between readings (5: most CGMs; 1: some). */
  readonly intervalMin: number;
  /** The sensor generation (absent: `modern`). */
  readonly sensor?: SensorModelName;
}

const MIN_MS = 60_000;
const DAY_MIN = 1440;

function logNormal(prng: Prng, sd: number): number {
  return Math.exp(prng.gaussian(sd) - (sd * sd) / 2);
}

/** Draws a patient whose model settles at a plausible fasting glucose with a plausible basal rate. */
function drawPatient(prng: Prng, profile: GroupProfile): { params: HovorkaParams; basal: number; fasting: number } {
  for (;;) {
    const cv = profile.parameterCv;
    const n = HOVORKA_NOMINAL;
    const params: HovorkaParams = {
      ...n,
      bodyWeightKg: prng.between(...profile.bodyWeightKg),
      k12: n.k12 * logNormal(prng, cv / 2),
      ka1: n.ka1 * logNormal(prng, cv / 2),
      ka2: n.ka2 * logNormal(prng, cv / 2),
      ka3: n.ka3 * logNormal(prng, cv / 2),
      sit: n.sit * logNormal(prng, cv),
      sid: n.sid * logNormal(prng, cv),
      sie: n.sie * logNormal(prng, cv),
      ke: n.ke * logNormal(prng, cv / 3),
      f01PerKg: n.f01PerKg * logNormal(prng, cv / 3),
      egp0PerKg: n.egp0PerKg * logNormal(prng, cv / 3),
      tmaxI: n.tmaxI * logNormal(prng, cv / 2),
      tmaxG: n.tmaxG * logNormal(prng, cv / 2),
    };
    const fasting = prng.between(105, 140) / MGDL_PER_MMOL;
    const basal = basalFor(params, fasting);
    // U/h between 0.1 and 2.5 (mU/min × 60 / 1000).
    if (basal === null || basal * 0.06 < 0.1 || basal * 0.06 > 2.5) continue;
    return { params, basal, fasting: fasting * MGDL_PER_MMOL };
  }
}

const QUIET = { sensitivity: 1, egpFactor: 1, exercise: 0 };

/** Units per gram of carbohydrate that bring a 50 g meal back to fasting glucose after 5 h. */
function calibrateCarbRatio(params: HovorkaParams, basal: number, fasting: number): number {
  let lo = 0;
  let hi = 30;
  for (let i = 0; i < 25; i++) {
    const units = (lo + hi) / 2;
    const model = new HovorkaModel(params);
    model.settle(basal);
    model.eat(50);
    model.bolus(units);
    for (let m = 0; m < 300; m++) model.step({ basalMuPerMin: basal, ...QUIET });
    if (model.glucoseMgdl() > fasting) lo = units;
    else hi = units;
  }
  return (lo + hi) / 2 / 50;
}

/** mg/dL the lowest point falls after 1 U (the patient's insulin sensitivity factor). */
function calibrateIsf(params: HovorkaParams, basal: number, fasting: number): number {
  const model = new HovorkaModel(params);
  model.settle(basal);
  model.bolus(1);
  let lowest = fasting;
  for (let m = 0; m < 300; m++) {
    model.step({ basalMuPerMin: basal, ...QUIET });
    lowest = Math.min(lowest, model.glucoseMgdl());
  }
  return Math.max(5, fasting - lowest);
}

interface Planned {
  readonly minute: number;
  readonly what: 'meal' | 'bolus' | 'snack';
  readonly grams: number;
  readonly units: number;
}

/**
 * Simulates one patient for `days` days: meals with counted (and miscounted, late or missed)
 * boluses, basal insulin a little off the patient's need, day-to-day sensitivity, a dawn rise,
 * exercise with its late effect, compression lows and dropouts at the sensor, and the patient's own
 * reactions to their CGM — rescue carbohydrates when low (late at night: only once woken),
 * corrections of a lasting high. The patient reacts to the same readings the alert algorithms see,
 * never to an algorithm's alerts, so every algorithm faces the same traces.
 */
export function simulatePatient(o: TraceOptions): PatientTrace {
  const prng = new Prng(o.seed).fork(o.id);
  const profile = PROFILES[o.group];
  const { params, basal, fasting } = drawPatient(prng, profile);
  const carbRatio = calibrateCarbRatio(params, basal, fasting);
  const isf = calibrateIsf(params, basal, fasting);
  // The patient's therapy settings, each a little off the truth.
  const therapyBasal = basal * logNormal(prng, 0.15);
  const therapyRatio = carbRatio * logNormal(prng, 0.12);
  const therapyIsf = isf * logNormal(prng, 0.15);
  const sensorModel = SENSOR_MODELS[o.sensor ?? 'modern'];
  // Drawn in the same order for every model, so the patients and their lives stay the same.
  const sensor = new CgmSensor(prng.fork('sensor'), {
    lagMin: prng.between(sensorModel.lagMin[0], sensorModel.lagMin[1]),
    gain: 1 + prng.gaussian(sensorModel.gainSd),
    whiteSd: sensorModel.whiteSd,
    slowError: sensorModel.slowError,
    slowErrorScale: sensorModel.slowErrorScale,
    compressionLows: sensorModel.compressionLows,
  });
  const log: string[] = [
    `${o.id} ${o.group}: ${params.bodyWeightKg.toFixed(0)} kg, fasting ${fasting.toFixed(0)} mg/dL, basal ${(therapyBasal * 0.06).toFixed(2)} U/h (needs ${(basal * 0.06).toFixed(2)}), ${(1 / therapyRatio).toFixed(1)} g/U, ISF ${isf.toFixed(0)} mg/dL/U`,
  ];

  const model = new HovorkaModel(params);
  model.settle(therapyBasal);
  const total = o.days * DAY_MIN;
  const trueGlucose = new Float64Array(total);
  const readingTimes: number[] = [];
  const readingValues: number[] = [];
  const planned: Planned[] = [];
  const compressions: TimeSpan[] = [];
  const days: {
    sensitivity: number;
    wake: number;
    bed: number;
    exercise: { from: number; to: number; intensity: number } | null;
  }[] = [];
  for (let d = 0; d < o.days; d++) {
    const base = d * DAY_MIN;
    const wake = base + Math.round(prng.between(6.25, 7.75) * 60);
    const bed = base + Math.round(prng.between(...profile.bedtimeHour) * 60);
    for (const meal of profile.meals) {
      const minute = Math.max(wake + 5, base + Math.round(meal.hour * 60 + prng.gaussian(meal.sdMin)));
      const grams = Math.round(prng.between(...meal.grams));
      planned.push({ minute, what: 'meal', grams, units: 0 });
      if (prng.chance(profile.missedBolus)) {
        log.push(`day ${d + 1} ${clock(minute)}: ${grams} g, bolus missed`);
        continue;
      }
      const counted = grams * logNormal(prng, profile.carbCountSd);
      const units = Math.round(counted * therapyRatio * 10) / 10;
      const late = prng.chance(profile.lateBolus);
      const at = minute + (late ? prng.int(30, 60) : prng.int(-15, 5));
      planned.push({ minute: at, what: 'bolus', grams: 0, units });
      log.push(`day ${d + 1} ${clock(minute)}: ${grams} g, ${units} U${late ? ` late (${clock(at)})` : ''}`);
    }
    if (prng.chance(profile.unbolusedSnack)) {
      const minute = base + Math.round(prng.between(15, 17) * 60);
      planned.push({ minute, what: 'snack', grams: prng.int(15, 35), units: 0 });
    }
    let exercise: { from: number; to: number; intensity: number } | null = null;
    if (prng.chance(profile.exercisePerDay)) {
      const from = base + Math.round(prng.between(15.5, 19) * 60);
      exercise = { from, to: from + prng.int(30, 75), intensity: prng.between(0.5, 1.2) };
      log.push(`day ${d + 1} ${clock(from)}: exercise ${exercise.to - from} min at ${exercise.intensity.toFixed(2)}`);
    }
    if (prng.chance(profile.compressionPerNight)) {
      const startMin = base + Math.round(prng.between(0.5, 5.5) * 60);
      const c = { startMin, durationMin: prng.int(20, 60), depthMgdl: prng.between(30, 75) };
      sensor.addCompression(c);
      if (sensorModel.compressionLows)
        compressions.push({ start: o.start + startMin * MIN_MS, end: o.start + (startMin + c.durationMin) * MIN_MS });
      log.push(
        `day ${d + 1} ${clock(startMin)}: compression low ${c.durationMin} min, −${c.depthMgdl.toFixed(0)} mg/dL`,
      );
    }
    days.push({ sensitivity: logNormal(prng, profile.dailySensitivitySd), wake, bed, exercise });
  }
  planned.sort((a, b) => a.minute - b.minute);

  let next = 0;
  let lastReading = NaN;
  let lowSince = -1;
  let highSince = -1;
  let trueLowSince = -1;
  let rescueAt = -1;
  let rescueGrams = 0;
  let rescueCooldown = -1;
  let lastBolus = -Infinity;
  let correctionCheckedFor = -1;
  let afterExercise = 0;
  let dropoutUntil = -1;
  for (let m = 0; m < total; m++) {
    const day = days[Math.floor(m / DAY_MIN)];
    const hour = (m % DAY_MIN) / 60;
    const awake = m >= day.wake && m < day.bed;
    while (next < planned.length && planned[next].minute <= m) {
      const p = planned[next++];
      if (p.what === 'bolus') {
        model.bolus(p.units);
        lastBolus = m;
      } else model.eat(p.grams);
    }
    const ex = day.exercise !== null && m >= day.exercise.from && m < day.exercise.to ? day.exercise.intensity : 0;
    if (ex > 0) afterExercise = Math.max(afterExercise, 0.5 * ex);
    else afterExercise *= Math.exp(-1 / 300);
    // Dawn phenomenon: production up to +20 % between 4 and 8 h.
    const dawn = hour >= 4 && hour < 8 ? 1 + 0.2 * Math.sin(((hour - 4) / 4) * Math.PI) : 1;
    model.step({
      basalMuPerMin: therapyBasal,
      sensitivity: day.sensitivity * (1 + afterExercise + 0.5 * ex),
      egpFactor: dawn,
      exercise: ex,
    });
    const g = model.glucoseMgdl();
    trueGlucose[m] = g;
    sensor.advance(g);

    if (m % o.intervalMin === 0) {
      if (m >= dropoutUntil && prng.chance(0.004)) {
        dropoutUntil = m + o.intervalMin * prng.int(1, 4);
      } else if (m >= dropoutUntil && prng.chance(0.3 / (DAY_MIN / o.intervalMin))) {
        dropoutUntil = m + prng.int(30, 120);
        log.push(`day ${Math.floor(m / DAY_MIN) + 1} ${clock(m)}: sensor signal lost until ${clock(dropoutUntil)}`);
      }
      const value = sensor.read(m);
      if (m >= dropoutUntil) {
        readingTimes.push(o.start + m * MIN_MS);
        readingValues.push(value);
        // The patient's own receiver misses the same readings.
        lastReading = value;
        lowSince = value < 70 ? (lowSince < 0 ? m : lowSince) : -1;
        highSince = value > 250 ? (highSince < 0 ? m : highSince) : -1;
      }
    }
    trueLowSince = g < 55 ? (trueLowSince < 0 ? m : trueLowSince) : -1;

    // Rescue carbohydrates: awake on a low reading (or symptoms), after a reaction delay; asleep only once woken.
    if (rescueAt < 0 && m >= rescueCooldown) {
      const symptoms = trueLowSince >= 0 && m - trueLowSince >= (awake ? 5 : 20) && prng.chance(awake ? 0.2 : 0.03);
      const alarmWakes = !awake && lowSince >= 0 && lastReading < 55 && m - lowSince >= 15 && prng.chance(0.02);
      if ((awake && lowSince >= 0) || symptoms || alarmWakes) {
        rescueAt = m + prng.int(2, awake ? 25 : 5);
        const over = prng.chance(0.3) ? prng.between(1.8, 3) : 1;
        rescueGrams = Math.round(prng.between(...profile.rescueGrams) * over);
      }
    }
    if (rescueAt === m) {
      model.eat(rescueGrams, true);
      log.push(
        `day ${Math.floor(m / DAY_MIN) + 1} ${clock(m)}: rescue ${rescueGrams} g (reading ${lastReading}, true ${g.toFixed(0)})`,
      );
      rescueAt = -1;
      rescueCooldown = m + 20;
    }
    // A high that has lasted an hour: a correction, unless insulin was given lately.
    if (awake && highSince >= 0 && m - highSince >= 60 && m - lastBolus >= 150 && correctionCheckedFor !== highSince) {
      correctionCheckedFor = highSince;
      if (prng.chance(profile.correctionAdherence)) {
        const units = Math.round(((lastReading - 120) / therapyIsf) * logNormal(prng, 0.15) * 10) / 10;
        model.bolus(units);
        lastBolus = m;
        log.push(`day ${Math.floor(m / DAY_MIN) + 1} ${clock(m)}: correction ${units} U at ${lastReading}`);
      }
    }
  }
  return {
    id: o.id,
    group: o.group,
    start: o.start,
    days: o.days,
    trueGlucose,
    readingTimes,
    readingValues,
    log,
    compressions,
  };
}

function clock(minute: number): string {
  const m = ((minute % DAY_MIN) + DAY_MIN) % DAY_MIN;
  return `${String(Math.floor(m / 60)).padStart(2, '0')}:${String(m % 60).padStart(2, '0')}`;
}
