/** A unit accepted for a metric on input, with the conversion to the metric's canonical unit. */
export interface UnitConversion {
  readonly unit: string;
  readonly toCanonical: (value: number) => number;
}

export interface MetricDefinition {
  readonly key: string;
  /** Display name for clinicians. */
  readonly label: string;
  /** Plain-language name for patients. */
  readonly patientLabel: string;
  /** Canonical UCUM unit: every stored value is in this unit. */
  readonly unit: string;
  /** The canonical unit spelled out for patients ("milligrams per decilitre"). */
  readonly unitSpoken: string;
  /** Short unit shown on dashboards ("mg/dL", "bpm"). */
  readonly unitDisplay: string;
  readonly accepts: readonly UnitConversion[];
  /** Physically plausible range in the canonical unit; readings outside it are rejected at ingest. */
  readonly plausible: { readonly min: number; readonly max: number };
  readonly loinc: string;
  readonly decimals: number;
  /**
   * Shortest time between two readings of this metric from one device that a working device can
   * produce. A reading that comes sooner after the device's previous accepted one is refused at
   * ingest (`too_frequent`): it is a device fault, and unbounded it would flood storage and the
   * streaming core's sample windows. Each value is the fastest real cadence minus ~10 % for clock
   * jitter; a reading at exactly the time of an accepted one is a duplicate, not too frequent.
   */
  readonly minIntervalMs: number;
}

const identity = (unit: string): UnitConversion => ({ unit, toCanonical: (v) => v });
const scaled = (unit: string, factor: number): UnitConversion => ({ unit, toCanonical: (v) => v * factor });

/** The metric catalog of spec/alerting.md §1. Adding a metric is one entry here. */
export const METRICS = {
  heart_rate: {
    key: 'heart_rate',
    label: 'Heart rate',
    patientLabel: 'heart rate',
    unit: '/min',
    unitSpoken: 'beats per minute',
    unitDisplay: 'bpm',
    accepts: [identity('bpm'), identity('{beats}/min')],
    plausible: { min: 20, max: 300 },
    loinc: '8867-4',
    decimals: 0,
    // Pulse oximeters and ECG patches report heart rate at most once a second (an average over
    // the last beats, not beat by beat); 900 ms leaves 100 ms for a device clock's jitter.
    minIntervalMs: 900,
  },
  spo2: {
    key: 'spo2',
    label: 'SpO2',
    patientLabel: 'blood oxygen level',
    unit: '%',
    unitSpoken: 'percent',
    unitDisplay: '%',
    accepts: [],
    plausible: { min: 50, max: 100 },
    loinc: '59408-5',
    decimals: 0,
    // Oximeters update SpO2 at most once a second (it is averaged over several pulses); 100 ms jitter.
    minIntervalMs: 900,
  },
  glucose: {
    key: 'glucose',
    label: 'Glucose',
    patientLabel: 'glucose (blood sugar)',
    unit: 'mg/dL',
    unitSpoken: 'milligrams per decilitre',
    unitDisplay: 'mg/dL',
    accepts: [scaled('mmol/L', 18.016)],
    plausible: { min: 20, max: 600 },
    // 2339-0 is blood glucose; CGM devices report interstitial glucose, 99504-3.
    loinc: '99504-3',
    decimals: 0,
    // The fastest CGMs sample once a minute (others every 5 min), and interstitial glucose trails
    // blood by 5–10 min, so sooner carries nothing new; 5 s jitter.
    minIntervalMs: 55_000,
  },
  systolic_bp: {
    key: 'systolic_bp',
    label: 'Systolic BP',
    patientLabel: 'blood pressure (upper number)',
    unit: 'mm[Hg]',
    unitSpoken: 'millimetres of mercury',
    unitDisplay: 'mmHg',
    accepts: [identity('mmHg'), scaled('kPa', 7.50062)],
    plausible: { min: 40, max: 300 },
    loinc: '8480-6',
    decimals: 0,
    // A cuff measurement (inflate, deflate, read) takes 30–45 s; 20 s leaves room for a fast cuff
    // and a jittery clock, and no cuff can measure twice within it.
    minIntervalMs: 20_000,
  },
  diastolic_bp: {
    key: 'diastolic_bp',
    label: 'Diastolic BP',
    patientLabel: 'blood pressure (lower number)',
    unit: 'mm[Hg]',
    unitSpoken: 'millimetres of mercury',
    unitDisplay: 'mmHg',
    accepts: [identity('mmHg'), scaled('kPa', 7.50062)],
    plausible: { min: 20, max: 200 },
    loinc: '8462-4',
    decimals: 0,
    // Measured by the same cuff inflation as systolic: same bound.
    minIntervalMs: 20_000,
  },
  respiratory_rate: {
    key: 'respiratory_rate',
    label: 'Respiratory rate',
    patientLabel: 'breathing rate',
    unit: '/min',
    unitSpoken: 'breaths per minute',
    unitDisplay: '/min',
    accepts: [identity('{breaths}/min')],
    plausible: { min: 2, max: 80 },
    loinc: '9279-1',
    decimals: 0,
    // Monitors update the breathing rate at most once a second (a breath at the plausible maximum
    // of 80/min lasts 750 ms, so a faster update cannot reflect a new breath); 100 ms jitter.
    minIntervalMs: 900,
  },
  body_temperature: {
    key: 'body_temperature',
    label: 'Temperature',
    patientLabel: 'body temperature',
    unit: 'Cel',
    unitSpoken: 'degrees Celsius',
    unitDisplay: '°C',
    accepts: [
      identity('°C'),
      { unit: '[degF]', toCanonical: (v) => ((v - 32) * 5) / 9 },
      { unit: '°F', toCanonical: (v) => ((v - 32) * 5) / 9 },
    ],
    plausible: { min: 25, max: 45 },
    loinc: '8310-5',
    decimals: 1,
    // Continuous thermometers (patches, probes) sample at most once a second; temperature changes
    // over minutes, so this refuses only a faulty device, never a real one; 100 ms jitter.
    minIntervalMs: 900,
  },
  body_weight: {
    key: 'body_weight',
    label: 'Weight',
    patientLabel: 'weight',
    unit: 'kg',
    unitSpoken: 'kilograms',
    unitDisplay: 'kg',
    accepts: [scaled('[lb_av]', 0.45359237), scaled('lb', 0.45359237)],
    plausible: { min: 1, max: 400 },
    loinc: '29463-7',
    decimals: 1,
    // A weighing takes seconds to settle, and another needs the person to step off and on again:
    // two weights within a minute are the same weighing repeated.
    minIntervalMs: 60_000,
  },
  pa_pressure_mean: {
    key: 'pa_pressure_mean',
    label: 'PA mean pressure',
    patientLabel: 'pressure in the lung artery',
    unit: 'mm[Hg]',
    unitSpoken: 'millimetres of mercury',
    unitDisplay: 'mmHg',
    accepts: [identity('mmHg')],
    plausible: { min: 0, max: 100 },
    // LOINC 8414-2: "Pulmonary artery Mean blood pressure".
    loinc: '8414-2',
    decimals: 0,
    // An implanted PA sensor's reading is the mean over an ~18 s pressure waveform recording;
    // 15 s leaves room for a shorter recording and clock jitter.
    minIntervalMs: 15_000,
  },
  steps: {
    key: 'steps',
    label: 'Steps',
    patientLabel: 'steps',
    unit: '{steps}',
    unitSpoken: 'steps',
    unitDisplay: 'steps',
    accepts: [identity('steps')],
    plausible: { min: 0, max: 100000 },
    loinc: '55423-8',
    decimals: 0,
    // Step counters report a count per interval, the most frequent once a second; 100 ms jitter.
    minIntervalMs: 900,
  },
} as const satisfies Record<string, MetricDefinition>;

export type MetricKey = keyof typeof METRICS;

export const METRIC_KEYS = Object.keys(METRICS) as MetricKey[];

export function isMetricKey(value: unknown): value is MetricKey {
  return typeof value === 'string' && Object.prototype.hasOwnProperty.call(METRICS, value);
}

export function metricDefinition(metric: MetricKey): MetricDefinition {
  return METRICS[metric];
}
