/**
 * The glucose–insulin model of Hovorka et al. (2004), "Nonlinear model predictive control of glucose
 * concentration in subjects with type 1 diabetes", Physiol. Meas. 25:905–920 — the model of the
 * Cambridge simulator, independent of the UVA/Padova model behind most published CGM corpora.
 *
 * Glucose in two compartments (Q1 accessible, Q2 non-accessible, mmol), subcutaneous insulin
 * absorption in two compartments (S1, S2, mU) into plasma insulin (I, mU/L), three remote insulin
 * actions (x1 transport, x2 disposal, x3 suppression of endogenous production) and carbohydrate
 * absorption from the gut in two compartments (D1, D2, mmol) — one for meals, one faster for
 * rescue carbohydrates. Two additions the paper does not have, both documented in
 * docs/alert-quality.md: exercise (extra uptake during it and raised insulin sensitivity for hours
 * after, as in Breton 2008's exercise term) and a weak counter-regulation below 3.5 mmol/L.
 */

/** One virtual patient's parameters; rates per minute, volumes and fluxes per kg where marked. */
export interface HovorkaParams {
  readonly bodyWeightKg: number;
  /** Transfer rate Q2 → Q1 (/min). */
  readonly k12: number;
  /** Deactivation rates of the insulin actions x1, x2, x3 (/min). */
  readonly ka1: number;
  readonly ka2: number;
  readonly ka3: number;
  /** Insulin sensitivities of transport, disposal and endogenous production (per min per mU/L; sie per mU/L). */
  readonly sit: number;
  readonly sid: number;
  readonly sie: number;
  /** Insulin elimination from plasma (/min). */
  readonly ke: number;
  readonly viPerKg: number;
  readonly vgPerKg: number;
  /** Non-insulin-dependent glucose flux and endogenous production at zero insulin (mmol/kg/min). */
  readonly f01PerKg: number;
  readonly egp0PerKg: number;
  /** Time to maximum of insulin absorption and of meal / rescue carbohydrate absorption (min). */
  readonly tmaxI: number;
  readonly tmaxG: number;
  readonly tmaxRescue: number;
  /** Carbohydrate bioavailability. */
  readonly ag: number;
}

/** Hovorka 2004, table 1 (the population values). */
export const HOVORKA_NOMINAL: Omit<HovorkaParams, 'bodyWeightKg'> = {
  k12: 0.066,
  ka1: 0.006,
  ka2: 0.06,
  ka3: 0.03,
  sit: 51.2e-4,
  sid: 8.2e-4,
  sie: 520e-4,
  ke: 0.138,
  viPerKg: 0.12,
  vgPerKg: 0.16,
  f01PerKg: 0.0097,
  egp0PerKg: 0.0161,
  tmaxI: 55,
  tmaxG: 40,
  tmaxRescue: 20,
  ag: 0.8,
};

/** mmol/L → mg/dL for glucose. */
export const MGDL_PER_MMOL = 18.016;
/** Molar mass of glucose: 1 g of carbohydrate is 1000/180.16 mmol. */
const MMOL_PER_GRAM = 1000 / 180.16;

// State indices.
const Q1 = 0;
const Q2 = 1;
const S1 = 2;
const S2 = 3;
const I = 4;
const X1 = 5;
const X2 = 6;
const X3 = 7;
const D1 = 8;
const D2 = 9;
const R1 = 10;
const R2 = 11;
const STATES = 12;

/** Inputs that act between two steps, held constant over the step. */
export interface StepInputs {
  /** Basal insulin infusion (mU/min). */
  basalMuPerMin: number;
  /** Multiplier of the insulin sensitivities (daily variation, after-exercise rise). */
  sensitivity: number;
  /** Multiplier of endogenous production (dawn phenomenon). */
  egpFactor: number;
  /** Exercise intensity now (0: none, 1: moderate). */
  exercise: number;
}

/** Glucose uptake during exercise at intensity 1, as a fraction of Q1 per minute. */
const EXERCISE_UPTAKE_PER_MIN = 0.012;

/** One patient's model: state, inputs applied as impulses (boluses, carbohydrates), RK4 steps of one minute. */
export class HovorkaModel {
  private readonly x = new Float64Array(STATES);
  private readonly k = [1, 2, 3, 4].map(() => new Float64Array(STATES));
  private readonly tmp = new Float64Array(STATES);
  private readonly vg: number;
  private readonly vi: number;

  constructor(readonly p: HovorkaParams) {
    this.vg = p.vgPerKg * p.bodyWeightKg;
    this.vi = p.viPerKg * p.bodyWeightKg;
  }

  /** Plasma glucose now (mg/dL). */
  glucoseMgdl(): number {
    return (this.x[Q1] / this.vg) * MGDL_PER_MMOL;
  }

  /** Sets the steady state of a basal infusion (mU/min) at sensitivity 1: what the model settles to overnight. */
  settle(basalMuPerMin: number): boolean {
    const p = this.p;
    const insulin = basalMuPerMin / (p.ke * this.vi);
    const x1 = p.sit * insulin;
    const x2 = p.sid * insulin;
    const x3 = p.sie * insulin;
    const g = steadyGlucose(p, insulin);
    if (g === null) return false;
    this.x.fill(0);
    this.x[Q1] = g * this.vg;
    this.x[Q2] = (x1 * this.x[Q1]) / (p.k12 + x2);
    this.x[S1] = basalMuPerMin * p.tmaxI;
    this.x[S2] = basalMuPerMin * p.tmaxI;
    this.x[I] = insulin;
    this.x[X1] = x1;
    this.x[X2] = x2;
    this.x[X3] = x3;
    return true;
  }

  /** A subcutaneous bolus (units). */
  bolus(units: number): void {
    this.x[S1] += units * 1000;
  }

  /** Carbohydrates eaten now (g); `rescue`: fast-acting (glucose tablets, juice). */
  eat(grams: number, rescue = false): void {
    this.x[rescue ? R1 : D1] += grams * MMOL_PER_GRAM * this.p.ag;
  }

  /** Advances one minute (classic Runge–Kutta). */
  step(u: StepInputs): void {
    const x = this.x;
    const [k1, k2, k3, k4] = this.k;
    const t = this.tmp;
    this.derivative(x, u, k1);
    for (let i = 0; i < STATES; i++) t[i] = x[i] + 0.5 * k1[i];
    this.derivative(t, u, k2);
    for (let i = 0; i < STATES; i++) t[i] = x[i] + 0.5 * k2[i];
    this.derivative(t, u, k3);
    for (let i = 0; i < STATES; i++) t[i] = x[i] + k3[i];
    this.derivative(t, u, k4);
    for (let i = 0; i < STATES; i++) x[i] = Math.max(0, x[i] + (k1[i] + 2 * k2[i] + 2 * k3[i] + k4[i]) / 6);
    // Glucose never reaches zero in a living patient: keep the model in its valid range.
    x[Q1] = Math.max(x[Q1], 1.0 * this.vg);
  }

  private derivative(x: Float64Array, u: StepInputs, dx: Float64Array): void {
    const p = this.p;
    const bw = p.bodyWeightKg;
    const g = x[Q1] / this.vg;
    const f01 = p.f01PerKg * bw;
    const f01c = g >= 4.5 ? f01 : (f01 * g) / 4.5;
    const renal = g >= 9 ? 0.003 * (g - 9) * this.vg : 0;
    const gut = x[D2] / p.tmaxG + x[R2] / p.tmaxRescue;
    // Counter-regulation (glucagon, adrenaline), blunted in type 1 diabetes: up to +60 % production near 2 mmol/L.
    const counter = g < 3.5 ? 1 + 0.6 * Math.min(1, (3.5 - g) / 1.5) : 1;
    const egp = Math.max(0, p.egp0PerKg * bw * (1 - x[X3])) * u.egpFactor * counter;
    const exercise = EXERCISE_UPTAKE_PER_MIN * u.exercise * x[Q1];
    dx[Q1] = -f01c - x[X1] * x[Q1] + p.k12 * x[Q2] - renal + gut + egp - exercise;
    dx[Q2] = x[X1] * x[Q1] - (p.k12 + x[X2]) * x[Q2];
    dx[S1] = u.basalMuPerMin - x[S1] / p.tmaxI;
    dx[S2] = (x[S1] - x[S2]) / p.tmaxI;
    dx[I] = x[S2] / (p.tmaxI * this.vi) - p.ke * x[I];
    dx[X1] = -p.ka1 * x[X1] + p.ka1 * p.sit * u.sensitivity * x[I];
    dx[X2] = -p.ka2 * x[X2] + p.ka2 * p.sid * u.sensitivity * x[I];
    dx[X3] = -p.ka3 * x[X3] + p.ka3 * p.sie * x[I];
    dx[D1] = -x[D1] / p.tmaxG;
    dx[D2] = (x[D1] - x[D2]) / p.tmaxG;
    dx[R1] = -x[R1] / p.tmaxRescue;
    dx[R2] = (x[R1] - x[R2]) / p.tmaxRescue;
  }
}

/**
 * Fasting glucose (mmol/L) at a constant plasma insulin (mU/L) and sensitivity 1, or null when
 * the patient cannot settle there (production below the brain's uptake). Bisection on the
 * steady-state balance of Q1: production = uptake.
 */
export function steadyGlucose(p: HovorkaParams, insulin: number): number | null {
  const bw = p.bodyWeightKg;
  const vg = p.vgPerKg * bw;
  const x1 = p.sit * insulin;
  const x2 = p.sid * insulin;
  const egp = Math.max(0, p.egp0PerKg * bw * (1 - p.sie * insulin));
  // Net Q1 balance at glucose g: production − uptake; decreasing in g.
  const balance = (g: number): number => {
    const q1 = g * vg;
    const f01c = g >= 4.5 ? p.f01PerKg * bw : (p.f01PerKg * bw * g) / 4.5;
    const renal = g >= 9 ? 0.003 * (g - 9) * vg : 0;
    const disposal = (x2 * x1 * q1) / (p.k12 + x2);
    return egp - f01c - renal - disposal;
  };
  let lo = 1;
  let hi = 40;
  if (balance(lo) < 0 || balance(hi) > 0) return null;
  for (let i = 0; i < 60; i++) {
    const mid = (lo + hi) / 2;
    if (balance(mid) > 0) lo = mid;
    else hi = mid;
  }
  return (lo + hi) / 2;
}

/** The basal infusion (mU/min) at which the patient settles at `targetMmol`, or null if none does. */
export function basalFor(p: HovorkaParams, targetMmol: number): number | null {
  const vi = p.viPerKg * p.bodyWeightKg;
  // Fasting glucose falls as insulin rises: bisection on plasma insulin.
  let lo = 0;
  let hi = 1 / p.sie;
  const at = (insulin: number): number => steadyGlucose(p, insulin) ?? 0;
  if (at(lo) < targetMmol) return null;
  for (let i = 0; i < 60; i++) {
    const mid = (lo + hi) / 2;
    if (at(mid) > targetMmol) lo = mid;
    else hi = mid;
  }
  return ((lo + hi) / 2) * p.ke * vi;
}
