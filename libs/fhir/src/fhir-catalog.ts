import { METRICS, type MetricKey } from '@lantern/domain';

/** Code systems and identifier systems Lantern's FHIR resources use. */
export const FHIR_SYSTEMS = {
  loinc: 'http://loinc.org',
  ucum: 'http://unitsofmeasure.org',
  observationCategory: 'http://terminology.hl7.org/CodeSystem/observation-category',
  flagCategory: 'http://terminology.hl7.org/CodeSystem/flag-category',
  flagPriority: 'http://hl7.org/fhir/flag-priority-code',
  identifierType: 'http://terminology.hl7.org/CodeSystem/v2-0203',
  /** Lantern's own code systems: stable URNs, not web addresses that would promise a page. */
  mrn: 'urn:lantern:mrn',
  deviceId: 'urn:lantern:device-id',
  deviceType: 'urn:lantern:device-type',
  alertRule: 'urn:lantern:alert-rule',
} as const;

/** The official R4 extension carrying a Flag's priority (flag-priority-code: PN, PL, PM, PH). */
export const FLAG_PRIORITY_EXTENSION = 'http://hl7.org/fhir/StructureDefinition/flag-priority';

export type ObservationCategory = 'vital-signs' | 'laboratory' | 'activity' | 'exam';

/** What kind of Observation a reading becomes: one metric, or the blood-pressure panel of two. */
export type ObservationKind = MetricKey | 'blood_pressure';

export interface ObservationKindDefinition {
  readonly kind: ObservationKind;
  /** Short, stable token used in Observation ids (`[A-Za-z0-9]`). */
  readonly slug: string;
  /** The metrics whose readings make one Observation of this kind. */
  readonly metrics: readonly MetricKey[];
  /** Observation.code: the first coding is the primary one (the `code` search matches any of them). */
  readonly codings: readonly { readonly code: string; readonly display: string }[];
  readonly category: ObservationCategory;
  /** The FHIR R4 core vital-signs profile it follows, when one exists. */
  readonly profile?: string;
}

const VS = 'http://hl7.org/fhir/StructureDefinition/';

/**
 * The FHIR side of the metric catalog: one entry per Observation kind. Vital signs follow the R4
 * core vital-signs profiles; blood pressure is the 85354-9 panel (one Observation per cuff reading);
 * SpO2 carries 2708-6 beside the pulse-oximetry 59408-5 because the R4 `oxygensat` profile requires
 * it; glucose is CGM interstitial glucose (99504-3), which no vital-signs profile covers.
 */
export const OBSERVATION_KINDS: Record<ObservationKind, ObservationKindDefinition> = {
  heart_rate: {
    kind: 'heart_rate',
    slug: 'hr',
    metrics: ['heart_rate'],
    codings: [{ code: METRICS.heart_rate.loinc, display: 'Heart rate' }],
    category: 'vital-signs',
    profile: `${VS}heartrate`,
  },
  spo2: {
    kind: 'spo2',
    slug: 'spo2',
    metrics: ['spo2'],
    codings: [
      { code: METRICS.spo2.loinc, display: 'Oxygen saturation in Arterial blood by Pulse oximetry' },
      { code: '2708-6', display: 'Oxygen saturation in Arterial blood' },
    ],
    category: 'vital-signs',
    profile: `${VS}oxygensat`,
  },
  respiratory_rate: {
    kind: 'respiratory_rate',
    slug: 'rr',
    metrics: ['respiratory_rate'],
    codings: [{ code: METRICS.respiratory_rate.loinc, display: 'Respiratory rate' }],
    category: 'vital-signs',
    profile: `${VS}resprate`,
  },
  body_temperature: {
    kind: 'body_temperature',
    slug: 'temp',
    metrics: ['body_temperature'],
    codings: [{ code: METRICS.body_temperature.loinc, display: 'Body temperature' }],
    category: 'vital-signs',
    profile: `${VS}bodytemp`,
  },
  body_weight: {
    kind: 'body_weight',
    slug: 'wt',
    metrics: ['body_weight'],
    codings: [{ code: METRICS.body_weight.loinc, display: 'Body weight' }],
    category: 'vital-signs',
    profile: `${VS}bodyweight`,
  },
  blood_pressure: {
    kind: 'blood_pressure',
    slug: 'bp',
    metrics: ['systolic_bp', 'diastolic_bp'],
    codings: [{ code: '85354-9', display: 'Blood pressure panel with all children optional' }],
    category: 'vital-signs',
    profile: `${VS}bp`,
  },
  // A systolic or diastolic value without its partner at the same time from the same cuff (a
  // device that sent only one): still a vital sign, under the generic profile.
  systolic_bp: {
    kind: 'systolic_bp',
    slug: 'sbp',
    metrics: ['systolic_bp'],
    codings: [{ code: METRICS.systolic_bp.loinc, display: 'Systolic blood pressure' }],
    category: 'vital-signs',
    profile: `${VS}vitalsigns`,
  },
  diastolic_bp: {
    kind: 'diastolic_bp',
    slug: 'dbp',
    metrics: ['diastolic_bp'],
    codings: [{ code: METRICS.diastolic_bp.loinc, display: 'Diastolic blood pressure' }],
    category: 'vital-signs',
    profile: `${VS}vitalsigns`,
  },
  glucose: {
    kind: 'glucose',
    slug: 'glu',
    metrics: ['glucose'],
    codings: [
      {
        code: METRICS.glucose.loinc,
        display: 'Glucose [Mass/volume] in Interstitial fluid by Continuous glucose monitor',
      },
    ],
    category: 'laboratory',
  },
  pa_pressure_mean: {
    kind: 'pa_pressure_mean',
    slug: 'pap',
    metrics: ['pa_pressure_mean'],
    codings: [{ code: METRICS.pa_pressure_mean.loinc, display: 'Pulmonary artery Mean blood pressure' }],
    category: 'exam',
  },
  steps: {
    kind: 'steps',
    slug: 'steps',
    metrics: ['steps'],
    codings: [{ code: METRICS.steps.loinc, display: 'Number of steps in unspecified time Pedometer' }],
    category: 'activity',
  },
};

export const OBSERVATION_KIND_LIST: readonly ObservationKindDefinition[] = Object.values(OBSERVATION_KINDS);

/** The LOINC codes of the blood-pressure panel's components. */
export const BP_COMPONENTS = [
  { metric: 'systolic_bp', code: METRICS.systolic_bp.loinc, display: 'Systolic blood pressure' },
  { metric: 'diastolic_bp', code: METRICS.diastolic_bp.loinc, display: 'Diastolic blood pressure' },
] as const;

/** The kind of Observation a single metric's reading forms when it has no panel partner. */
export function singleKindOf(metric: MetricKey): ObservationKind {
  return metric;
}

/** The Observation kind whose id slug is `slug`, if any. */
export function kindOfSlug(slug: string): ObservationKindDefinition | undefined {
  return OBSERVATION_KIND_LIST.find((k) => k.slug === slug);
}

/**
 * The Observation kinds a `code` search token (`system|code`, `|code` or `code`) matches: those
 * with a coding of that code. Only LOINC is known; any other system matches nothing.
 */
export function kindsForCodeToken(token: string): ObservationKind[] {
  const bar = token.indexOf('|');
  const system = bar < 0 ? undefined : token.slice(0, bar);
  const code = bar < 0 ? token : token.slice(bar + 1);
  if (system !== undefined && system !== '' && system !== FHIR_SYSTEMS.loinc) return [];
  return OBSERVATION_KIND_LIST.filter((k) => k.codings.some((c) => c.code === code)).map((k) => k.kind);
}
