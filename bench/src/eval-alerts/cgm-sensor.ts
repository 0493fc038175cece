import type { Prng } from '../../../device-simulator/src/prng.js';

/**
 * A CGM sensor as the literature models it: interstitial glucose following blood glucose with a
 * first-order lag (Rebrin et al. 1999: dIG/dt = (BG − IG)/τ, τ ≈ 5–10 min), a per-sensor gain
 * error, and the sensor error of Breton & Kovatchev (2008, "Analysis, modeling, and simulation of
 * the accuracy of continuous glucose sensors", J Diabetes Sci Technol 2:853–862): an AR(1) series
 * at 15-minute steps (partial autocorrelation 0.7) passed through a Johnson SU transform and
 * interpolated between steps, so the error is slow and skewed — mostly reading low in a dip, the
 * pattern that makes a raw slope over 15 minutes unreliable. A small white component stands for
 * the per-reading jitter, and a compression low (the wearer lying on the sensor at night) pulls
 * the reading down for a while without the blood glucose following.
 */
export interface SensorParams {
  readonly lagMin: number;
  readonly gain: number;
  readonly whiteSd: number;
  /**
   * How the slow error scales with the glucose level: `additive`, Breton & Kovatchev's fit as
   * published (mg/dL, the same at 60 as at 250: about 17 % at a low); `relative`, the same process
   * scaled by interstitial glucose / {@link RELATIVE_REFERENCE_MGDL} — the error of today's
   * factory-calibrated sensors, roughly proportional to the level (Vettoretti et al. 2019, a Dexcom
   * G6 error model with a gain error rather than an offset).
   */
  readonly slowError: 'additive' | 'relative';
  /** Multiplies the slow error (1: as fitted). */
  readonly slowErrorScale: number;
  /** Whether compression lows reach the readings (false: the `ideal` sensor). */
  readonly compressionLows: boolean;
}

/**
 * A sensor generation: what {@link CgmSensor} is drawn from per patient. `modern` (the default) is
 * calibrated to the published accuracy of Dexcom G6/G7-class sensors and to the FDA's iCGM special
 * controls (21 CFR 862.1355); `legacy` is the Breton & Kovatchev 2008 model as published (a DexCom
 * SEVEN): its headline MARD is as good, but its error is additive, so in the hypoglycaemic range it
 * fails the iCGM criterion (≥ 85 % of readings within 15 mg/dL below 70). docs/alert-quality.md.
 */
export interface SensorModel {
  readonly name: SensorModelName;
  /** Lag of interstitial behind blood glucose, drawn per sensor, minutes. */
  readonly lagMin: readonly [number, number];
  /** Standard deviation of the per-sensor gain error. */
  readonly gainSd: number;
  readonly whiteSd: number;
  readonly slowError: SensorParams['slowError'];
  readonly slowErrorScale: number;
  readonly compressionLows: boolean;
}

export const SENSOR_MODELS = {
  // Lag 4–8 min: factory-calibrated sensors' reported lag behind plasma glucose (about 5 min on
  // average; Basu et al. 2013 put the physiological part at 5–6 min). Scale tuned so that MARD is
  // 9–10 % with ≈ 90 % within 15 mg/dL below 70 (docs/alert-quality.md, "The corpus").
  modern: {
    name: 'modern',
    lagMin: [4, 8],
    gainSd: 0.03,
    whiteSd: 2,
    slowError: 'relative',
    slowErrorScale: 1.1,
    compressionLows: true,
  },
  legacy: {
    name: 'legacy',
    lagMin: [5, 10],
    gainSd: 0.04,
    whiteSd: 2,
    slowError: 'additive',
    slowErrorScale: 1,
    compressionLows: true,
  },
  // No sensor error at all, only the interstitial lag: what no rule on readings can do better than.
  ideal: {
    name: 'ideal',
    lagMin: [4, 8],
    gainSd: 0,
    whiteSd: 0,
    slowError: 'relative',
    slowErrorScale: 0,
    compressionLows: false,
  },
} as const satisfies Record<string, SensorModel>;

export type SensorModelName = 'modern' | 'legacy' | 'ideal';

/** The glucose level at which a `relative` slow error equals Breton & Kovatchev's additive one. */
export const RELATIVE_REFERENCE_MGDL = 120;

/** Breton & Kovatchev 2008 (their fit to a DexCom SEVEN), as published. */
const JOHNSON = { xi: -5.471, lambda: 15.957, gamma: -0.5444, delta: 1.6898, pacf: 0.7 } as const;
const NOISE_STEP_MIN = 15;
/** What the sensor reports outside its range (most CGMs show "LOW" / "HIGH" there). */
export const SENSOR_MIN_MGDL = 40;
export const SENSOR_MAX_MGDL = 400;

/** One compression low: from `startMin` for `durationMin`, pulling readings down by up to `depthMgdl`. */
export interface CompressionLow {
  readonly startMin: number;
  readonly durationMin: number;
  readonly depthMgdl: number;
}

export class CgmSensor {
  private interstitial = NaN;
  private readonly knots: number[] = [];
  private ar = 0;
  private readonly compressions: CompressionLow[] = [];

  constructor(
    private readonly prng: Prng,
    readonly params: SensorParams,
  ) {}

  /** Compression lows to apply (added by the scenario, in time order). */
  addCompression(c: CompressionLow): void {
    if (this.params.compressionLows) this.compressions.push(c);
  }

  /** One minute of blood glucose (mg/dL) reaching the interstitium. */
  advance(bloodMgdl: number): void {
    if (Number.isNaN(this.interstitial)) this.interstitial = bloodMgdl;
    else this.interstitial += (1 - Math.exp(-1 / this.params.lagMin)) * (bloodMgdl - this.interstitial);
  }

  /** Interstitial glucose now (mg/dL): what a perfect sensor would read. */
  interstitialMgdl(): number {
    return this.interstitial;
  }

  /** The sensor's reading at minute `minute` (integer mg/dL, clamped to the sensor's range). */
  read(minute: number): number {
    const p = this.params;
    const scale = p.slowErrorScale * (p.slowError === 'relative' ? this.interstitial / RELATIVE_REFERENCE_MGDL : 1);
    const raw =
      this.interstitial * p.gain +
      this.slowError(minute) * scale +
      this.prng.gaussian(this.params.whiteSd) -
      this.compressionAt(minute);
    return Math.round(Math.min(SENSOR_MAX_MGDL, Math.max(SENSOR_MIN_MGDL, raw)));
  }

  private slowError(minute: number): number {
    const k = Math.floor(minute / NOISE_STEP_MIN);
    // Knots k−1 … k+2 for a Catmull–Rom segment between k and k+1.
    while (this.knots.length < k + 3) {
      this.ar = JOHNSON.pacf * (this.ar + this.prng.gaussian());
      this.knots.push(JOHNSON.xi + JOHNSON.lambda * Math.sinh((this.ar - JOHNSON.gamma) / JOHNSON.delta));
    }
    const p0 = this.knots[Math.max(0, k - 1)];
    const p1 = this.knots[k];
    const p2 = this.knots[k + 1];
    const p3 = this.knots[k + 2];
    const s = (minute - k * NOISE_STEP_MIN) / NOISE_STEP_MIN;
    return (
      0.5 *
      (2 * p1 + (-p0 + p2) * s + (2 * p0 - 5 * p1 + 4 * p2 - p3) * s * s + (-p0 + 3 * p1 - 3 * p2 + p3) * s * s * s)
    );
  }

  private compressionAt(minute: number): number {
    for (const c of this.compressions) {
      const into = minute - c.startMin;
      if (into < 0 || into > c.durationMin) continue;
      // Ramps down over 10 min, holds, recovers over 10 min.
      const ramp = Math.min(1, into / 10, (c.durationMin - into) / 10);
      return c.depthMgdl * Math.max(0, ramp);
    }
    return 0;
  }
}
