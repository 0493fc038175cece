import type { DeviceTypeKey, MetricKey } from '@lantern/domain';
import { Prng } from './prng.js';

/** One generated reading, in the metric's canonical unit unless `unit` says otherwise. */
export interface GeneratedReading {
  metric: MetricKey;
  value: number;
  unit?: string;
}

/**
 * A pure, seeded signal source for one device: `sample(time)` is called at increasing event times
 * (every `intervalMs`) and returns that moment's readings. Same seed and times → same values.
 */
export interface SignalGenerator {
  readonly deviceType: DeviceTypeKey;
  readonly intervalMs: number;
  sample(time: number): GeneratedReading[];
}

/** Physiology of a virtual patient, drawn once from the seed. */
export interface PatientProfile {
  restingHeartRate: number;
  baselineSpo2: number;
  baselineGlucose: number;
  weightKg: number;
  systolic: number;
  diastolic: number;
  respiratoryRate: number;
  temperature: number;
}

/** Draws a plausible, healthy-ish profile from a seed. */
export function patientProfile(seed: number | string): PatientProfile {
  const prng = new Prng(seed).fork('profile');
  return {
    restingHeartRate: Math.round(prng.between(58, 82)),
    baselineSpo2: Math.round(prng.between(95, 99)),
    baselineGlucose: Math.round(prng.between(100, 128)),
    weightKg: Math.round(prng.between(55, 105) * 10) / 10,
    systolic: Math.round(prng.between(112, 142)),
    diastolic: Math.round(prng.between(70, 88)),
    respiratoryRate: Math.round(prng.between(12, 18)),
    temperature: Math.round(prng.between(36.4, 37.1) * 10) / 10,
  };
}

const MINUTE = 60_000;
const HOUR = 3_600_000;
const DAY = 86_400_000;

const clamp = (v: number, min: number, max: number): number => Math.min(max, Math.max(min, v));
const round = (v: number, decimals = 0): number => Math.round(v * 10 ** decimals) / 10 ** decimals;
/** Hours since midnight UTC, as a fraction. */
const hourOfDay = (time: number): number => (((time % DAY) + DAY) % DAY) / HOUR;
/** A day-long wave peaking in the afternoon: -1 at 04:00, +1 at 16:00. */
const circadian = (time: number): number => -Math.cos(((hourOfDay(time) - 4) / 24) * 2 * Math.PI);
const awake = (time: number): boolean => hourOfDay(time) >= 7 && hourOfDay(time) < 23;

/** Gamma-like absorption curve: 0 at t=0, peak 1 at `peakMin`, long tail. */
function absorption(minutesSince: number, peakMin: number): number {
  if (minutesSince <= 0) return 0;
  const x = minutesSince / peakMin;
  return x * Math.exp(1 - x);
}

/**
 * CGM glucose every 5 min: meals (carbohydrate absorption peaking ~45 min after eating), rapid
 * insulin at meal time (peaking ~75 min, slightly undershooting), a dawn rise, and sensor noise
 * (slow drift plus white noise, as interstitial sensors show).
 */
export class GlucoseGenerator implements SignalGenerator {
  readonly deviceType = 'cgm';
  readonly intervalMs = 5 * MINUTE;
  private readonly prng: Prng;
  private drift = 0;
  private readonly meals: { hour: number; carbEffect: number; insulinEffect: number }[];

  constructor(
    seed: number | string,
    private readonly profile: PatientProfile = patientProfile(seed),
  ) {
    this.prng = new Prng(seed).fork('glucose');
    // Per patient: meal times and how well insulin matches carbohydrates (well controlled on average).
    this.meals = [7.5, 12.75, 19].map((hour) => {
      const carbEffect = this.prng.between(55, 95);
      return {
        hour: hour + this.prng.between(-0.5, 0.5),
        carbEffect,
        insulinEffect: carbEffect * this.prng.between(0.5, 0.72),
      };
    });
  }

  sample(time: number): GeneratedReading[] {
    const dayStart = time - (((time % DAY) + DAY) % DAY);
    let value = this.profile.baselineGlucose;
    // The previous day's evening meal can still act after midnight.
    for (const offset of [-DAY, 0]) {
      for (const meal of this.meals) {
        const minutesSince = (time - (dayStart + offset + meal.hour * HOUR)) / MINUTE;
        value += meal.carbEffect * absorption(minutesSince, 45) - meal.insulinEffect * absorption(minutesSince, 75);
      }
    }
    const hour = hourOfDay(time);
    if (hour >= 4 && hour < 8) value += 12 * Math.sin(((hour - 4) / 4) * Math.PI); // dawn phenomenon
    this.drift = 0.9 * this.drift + this.prng.gaussian(1.5);
    value += this.drift + this.prng.gaussian(2.5);
    return [{ metric: 'glucose', value: round(clamp(value, 45, 380)), unit: 'mg/dL' }];
  }
}

/**
 * Pulse oximeter every second: heart rate with a day rhythm and bouts of activity, SpO2 near the
 * patient's baseline, and motion artefacts (a few seconds of implausible-looking dips and jumps,
 * never long enough to satisfy an alert rule's delay).
 */
export class PulseOximeterGenerator implements SignalGenerator {
  readonly deviceType = 'pulse_oximeter';
  readonly intervalMs = 1000;
  private readonly prng: Prng;
  private heartRate: number;
  private activityUntil = 0;
  private artefactUntil = 0;

  constructor(
    seed: number | string,
    private readonly profile: PatientProfile = patientProfile(seed),
  ) {
    this.prng = new Prng(seed).fork('pulse_oximeter');
    this.heartRate = profile.restingHeartRate;
  }

  sample(time: number): GeneratedReading[] {
    if (awake(time) && time >= this.activityUntil && this.prng.chance(1 / 1800))
      this.activityUntil = time + this.prng.between(2, 10) * MINUTE;
    if (time >= this.artefactUntil && this.prng.chance(1 / 900)) this.artefactUntil = time + this.prng.int(2, 6) * 1000;
    const active = time < this.activityUntil;
    const target = this.profile.restingHeartRate + 5 * circadian(time) + (active ? 25 : 0);
    this.heartRate += 0.1 * (target - this.heartRate) + this.prng.gaussian(0.8);
    let hr = this.heartRate;
    let spo2 = this.profile.baselineSpo2 + this.prng.gaussian(0.6) - (active ? 0.5 : 0);
    if (time < this.artefactUntil) {
      // Finger movement: the optical signal is briefly nonsense, within plausible bounds.
      hr += this.prng.between(-25, 35);
      spo2 -= this.prng.between(2, 7);
    }
    return [
      { metric: 'spo2', value: round(clamp(spo2, 80, 100)) },
      { metric: 'heart_rate', value: round(clamp(hr, 35, 190)) },
    ];
  }
}

/** Wearable patch every minute: heart rate, respiratory rate, skin-corrected temperature, steps. */
export class WearablePatchGenerator implements SignalGenerator {
  readonly deviceType = 'wearable_patch';
  readonly intervalMs = MINUTE;
  private readonly prng: Prng;
  private walkingUntil = 0;

  constructor(
    seed: number | string,
    private readonly profile: PatientProfile = patientProfile(seed),
  ) {
    this.prng = new Prng(seed).fork('wearable_patch');
  }

  sample(time: number): GeneratedReading[] {
    if (awake(time) && time >= this.walkingUntil && this.prng.chance(1 / 45))
      this.walkingUntil = time + this.prng.int(3, 25) * MINUTE;
    const walking = time < this.walkingUntil;
    const day = circadian(time);
    return [
      {
        metric: 'heart_rate',
        value: round(this.profile.restingHeartRate + 5 * day + (walking ? 22 : 0) + this.prng.gaussian(2)),
      },
      {
        metric: 'respiratory_rate',
        value: round(this.profile.respiratoryRate + (walking ? 4 : 0) + this.prng.gaussian(0.8)),
      },
      { metric: 'body_temperature', value: round(this.profile.temperature + 0.3 * day + this.prng.gaussian(0.08), 1) },
      {
        metric: 'steps',
        value: walking ? this.prng.int(70, 115) : awake(time) && this.prng.chance(0.2) ? this.prng.int(1, 20) : 0,
      },
    ];
  }
}

/** Blood-pressure cuff, once a day in the morning: systolic, diastolic and pulse. */
export class BloodPressureGenerator implements SignalGenerator {
  readonly deviceType = 'bp_monitor';
  readonly intervalMs = DAY;
  private readonly prng: Prng;

  constructor(
    seed: number | string,
    private readonly profile: PatientProfile = patientProfile(seed),
  ) {
    this.prng = new Prng(seed).fork('bp_monitor');
  }

  sample(): GeneratedReading[] {
    return [
      { metric: 'systolic_bp', value: round(this.profile.systolic + this.prng.gaussian(7)), unit: 'mmHg' },
      { metric: 'diastolic_bp', value: round(this.profile.diastolic + this.prng.gaussian(5)), unit: 'mmHg' },
      { metric: 'heart_rate', value: round(this.profile.restingHeartRate + this.prng.gaussian(4)) },
    ];
  }
}

/** Scale, once a day: weight with day-to-day water fluctuation. */
export class WeightGenerator implements SignalGenerator {
  readonly deviceType = 'weight_scale';
  readonly intervalMs = DAY;
  private readonly prng: Prng;

  constructor(
    seed: number | string,
    private readonly profile: PatientProfile = patientProfile(seed),
  ) {
    this.prng = new Prng(seed).fork('weight_scale');
  }

  sample(): GeneratedReading[] {
    return [{ metric: 'body_weight', value: round(this.profile.weightKg + this.prng.gaussian(0.25), 1) }];
  }
}

/** Cardiac implant, one transmission a day: nightly mean heart rate and pulmonary-artery pressure. */
export class CardiacImplantGenerator implements SignalGenerator {
  readonly deviceType = 'cardiac_implant';
  readonly intervalMs = DAY;
  private readonly prng: Prng;

  constructor(
    seed: number | string,
    private readonly profile: PatientProfile = patientProfile(seed),
  ) {
    this.prng = new Prng(seed).fork('cardiac_implant');
  }

  sample(): GeneratedReading[] {
    return [
      { metric: 'heart_rate', value: round(this.profile.restingHeartRate - 4 + this.prng.gaussian(3)) },
      { metric: 'pa_pressure_mean', value: round(18 + this.prng.gaussian(2.5)), unit: 'mmHg' },
    ];
  }
}

/** The generator for a device type. */
export function generatorFor(
  type: DeviceTypeKey,
  seed: number | string,
  profile: PatientProfile = patientProfile(seed),
): SignalGenerator {
  switch (type) {
    case 'cgm':
      return new GlucoseGenerator(seed, profile);
    case 'pulse_oximeter':
      return new PulseOximeterGenerator(seed, profile);
    case 'wearable_patch':
      return new WearablePatchGenerator(seed, profile);
    case 'bp_monitor':
      return new BloodPressureGenerator(seed, profile);
    case 'weight_scale':
      return new WeightGenerator(seed, profile);
    case 'cardiac_implant':
      return new CardiacImplantGenerator(seed, profile);
  }
}

/**
 * Battery level over time: drains linearly from `startPercent` at `percentPerHour` (a CGM
 * transmitter lasts ~10 days, a pulse oximeter ~1 day), recharged to 100 when it reaches `rechargeAt`.
 */
export function batteryLevel(startPercent: number, percentPerHour: number, elapsedMs: number, rechargeAt = 8): number {
  const drained = (elapsedMs / HOUR) * percentPerHour;
  const span = 100 - rechargeAt;
  const first = startPercent - rechargeAt;
  if (drained <= first) return Math.round(startPercent - drained);
  return Math.round(100 - ((drained - first) % span));
}

/** Typical drain of each device type's battery, percent per hour. */
export const BATTERY_DRAIN_PER_HOUR: Record<DeviceTypeKey, number> = {
  cgm: 0.4,
  pulse_oximeter: 4,
  wearable_patch: 0.6,
  cardiac_implant: 0.001,
  bp_monitor: 0.01,
  weight_scale: 0.01,
};
