import type { Bundle, Device, Flag, Observation, OperationOutcome, Patient, Quantity } from '@medplum/fhirtypes';
import {
  DEVICE_TYPES,
  METRICS,
  type AlertPriority,
  type AlertState,
  type DeviceTypeKey,
  type MetricKey,
} from '@lantern/domain';
import { findRule } from '@lantern/alerting';
import {
  BP_COMPONENTS,
  FHIR_SYSTEMS,
  FLAG_PRIORITY_EXTENSION,
  OBSERVATION_KINDS,
  kindOfSlug,
  type ObservationKind,
} from './fhir-catalog.js';

/** What the Patient mapping needs of a patient record. */
export interface FhirPatientSource {
  readonly id: string;
  readonly displayName: string;
  /** YYYY-MM-DD. */
  readonly dateOfBirth?: string;
  readonly mrn?: string;
}

/** What the Device mapping needs of a device record. */
export interface FhirDeviceSource {
  readonly id: string;
  readonly patientId: string;
  readonly type: DeviceTypeKey;
  readonly serial?: string;
  readonly model?: string;
  /** Epoch ms; set once the device is decommissioned. */
  readonly decommissionedAt?: number;
}

/** One Observation's worth of readings: one metric, or both metrics of a blood-pressure cuff reading. */
export interface ObservationSource {
  readonly kind: ObservationKind;
  readonly patientId: string;
  readonly deviceId: string;
  /** Event (measured) time, epoch ms. */
  readonly time: number;
  /** The readings' values in their metric's canonical (UCUM) unit. */
  readonly values: Partial<Record<MetricKey, number>>;
}

/** What the Flag mapping needs of an alert. */
export interface FhirAlertSource {
  readonly id: string;
  readonly patientId: string;
  readonly deviceId?: string | null;
  readonly rule: string;
  readonly priority: AlertPriority;
  readonly state: AlertState;
  readonly message: string;
  /** Epoch ms. */
  readonly openedAt: number;
  readonly resolvedAt?: number | null;
}

/** A Patient resource (FHIR R4) of a Lantern patient; the MRN is an `MR` identifier. */
export function toFhirPatient(patient: FhirPatientSource): Patient {
  return {
    resourceType: 'Patient',
    id: patient.id,
    ...(patient.mrn !== undefined && {
      identifier: [
        {
          use: 'usual',
          type: { coding: [{ system: FHIR_SYSTEMS.identifierType, code: 'MR', display: 'Medical record number' }] },
          system: FHIR_SYSTEMS.mrn,
          value: patient.mrn,
        },
      ],
    }),
    active: true,
    name: [{ text: patient.displayName }],
    ...(patient.dateOfBirth !== undefined && { birthDate: patient.dateOfBirth }),
  };
}

/** A Device resource (FHIR R4): type, serial, model, and `inactive` once decommissioned. */
export function toFhirDevice(device: FhirDeviceSource): Device {
  const type = DEVICE_TYPES[device.type];
  return {
    resourceType: 'Device',
    id: device.id,
    identifier: [{ system: FHIR_SYSTEMS.deviceId, value: device.id }],
    status: device.decommissionedAt === undefined ? 'active' : 'inactive',
    ...(device.serial !== undefined && { serialNumber: device.serial }),
    ...(device.model !== undefined && {
      modelNumber: device.model,
      deviceName: [{ name: device.model, type: 'model-name' }],
    }),
    type: { coding: [{ system: FHIR_SYSTEMS.deviceType, code: device.type, display: type.label }], text: type.label },
    patient: { reference: `Patient/${device.patientId}` },
  };
}

/** `[A-Za-z0-9-.]{1,64}`: the Observation's id names its device, time and kind, so a read needs no other table. */
export function observationId(source: Pick<ObservationSource, 'kind' | 'deviceId' | 'time'>): string {
  return `${OBSERVATION_KINDS[source.kind].slug}-${source.deviceId.replace(/-/g, '').toLowerCase()}-${source.time.toString(36)}`;
}

/** The parts of an Observation id made by {@link observationId}, or undefined when it is not one. */
export function parseObservationId(id: string): { kind: ObservationKind; deviceId: string; time: number } | undefined {
  const match = /^([a-z0-9]+)-([0-9a-f]{32})-([0-9a-z]{1,11})$/.exec(id);
  if (!match) return undefined;
  const kind = kindOfSlug(match[1]);
  const time = parseInt(match[3], 36);
  if (kind === undefined || !Number.isSafeInteger(time)) return undefined;
  const h = match[2];
  const deviceId = `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
  return { kind: kind.kind, deviceId, time };
}

function quantity(metric: MetricKey, value: number): Quantity {
  const def = METRICS[metric];
  // Stored values come from unit conversions (°F → Cel, lb → kg): round to the metric's precision.
  const factor = 10 ** def.decimals;
  return {
    value: Math.round(value * factor) / factor,
    unit: def.unitDisplay,
    system: FHIR_SYSTEMS.ucum,
    code: def.unit,
  };
}

/**
 * An Observation (FHIR R4) of one reading, or of one blood-pressure cuff reading as the 85354-9 panel
 * with systolic and diastolic components: vital-signs category and profile where one exists,
 * `valueQuantity` in UCUM, the measured time as `effectiveDateTime`, subject and device references.
 */
export function toFhirObservation(source: ObservationSource): Observation {
  const def = OBSERVATION_KINDS[source.kind];
  const base: Observation = {
    resourceType: 'Observation',
    id: observationId(source),
    ...(def.profile !== undefined && { meta: { profile: [def.profile] } }),
    status: 'final',
    category: [{ coding: [{ system: FHIR_SYSTEMS.observationCategory, code: def.category }] }],
    code: {
      coding: def.codings.map((c) => ({ system: FHIR_SYSTEMS.loinc, code: c.code, display: c.display })),
      text: source.kind === 'blood_pressure' ? 'Blood pressure' : METRICS[def.metrics[0]].label,
    },
    subject: { reference: `Patient/${source.patientId}` },
    effectiveDateTime: new Date(source.time).toISOString(),
    device: { reference: `Device/${source.deviceId}` },
  };
  if (source.kind !== 'blood_pressure') {
    const metric = def.metrics[0];
    const value = source.values[metric];
    if (value === undefined) throw new RangeError(`Observation ${base.id}: no ${metric} value`);
    return { ...base, valueQuantity: quantity(metric, value) };
  }
  return {
    ...base,
    component: BP_COMPONENTS.map((c) => {
      const value = source.values[c.metric];
      return {
        code: { coding: [{ system: FHIR_SYSTEMS.loinc, code: c.code, display: c.display }] },
        // A panel missing one of its values says why instead (the profile requires both components).
        ...(value === undefined
          ? {
              dataAbsentReason: {
                coding: [{ system: 'http://terminology.hl7.org/CodeSystem/data-absent-reason', code: 'unknown' }],
              },
            }
          : { valueQuantity: quantity(c.metric, value) }),
      };
    }),
  };
}

const FLAG_PRIORITY: Record<AlertPriority, { code: string; display: string }> = {
  high: { code: 'PH', display: 'High priority' },
  medium: { code: 'PM', display: 'Medium priority' },
  low: { code: 'PL', display: 'Low priority' },
};

/**
 * A Flag (FHIR R4) of an alert: `active` while open or acknowledged, `inactive` once resolved;
 * the rule as the code, the clinician message as its text, priority in the official flag-priority
 * extension, the device that caused it (device rules, or the reading's device) as author.
 */
export function toFhirFlag(alert: FhirAlertSource): Flag {
  const rule = findRule(alert.rule);
  const priority = FLAG_PRIORITY[alert.priority];
  const deviceRule = rule?.scope === 'device';
  return {
    resourceType: 'Flag',
    id: alert.id,
    extension: [
      {
        url: FLAG_PRIORITY_EXTENSION,
        valueCodeableConcept: { coding: [{ system: FHIR_SYSTEMS.flagPriority, ...priority }] },
      },
    ],
    status: alert.state === 'resolved' ? 'inactive' : 'active',
    category: [
      {
        coding: [
          deviceRule
            ? { system: FHIR_SYSTEMS.flagCategory, code: 'safety', display: 'Safety' }
            : { system: FHIR_SYSTEMS.flagCategory, code: 'clinical', display: 'Clinical' },
        ],
      },
    ],
    code: {
      coding: [{ system: FHIR_SYSTEMS.alertRule, code: alert.rule, ...(rule && { display: rule.label }) }],
      text: alert.message,
    },
    subject: { reference: `Patient/${alert.patientId}` },
    period: {
      start: new Date(alert.openedAt).toISOString(),
      ...(alert.resolvedAt != null && { end: new Date(alert.resolvedAt).toISOString() }),
    },
    ...(alert.deviceId != null && { author: { reference: `Device/${alert.deviceId}` } }),
  };
}

/** OperationOutcome issue types this server reports (a subset of the R4 issue-type value set). */
export type OutcomeIssueCode =
  | 'invalid'
  | 'not-found'
  | 'not-supported'
  | 'login'
  | 'forbidden'
  | 'processing'
  | 'exception'
  | 'too-costly'
  | 'throttled'
  | 'informational';

/** An OperationOutcome with one issue (errors, and the Bulk Data status's in-progress answer). */
export function operationOutcome(
  code: OutcomeIssueCode,
  text: string,
  severity: 'error' | 'fatal' | 'warning' | 'information' = 'error',
): OperationOutcome {
  return { resourceType: 'OperationOutcome', issue: [{ severity, code, diagnostics: text }] };
}

/** A `searchset` Bundle with an exact `total`, `self` and (when more follow) `next` links. */
export function searchsetBundle<T extends { resourceType: string; id?: string }>(
  resources: readonly T[],
  options: { total: number; baseUrl: string; selfUrl: string; nextUrl?: string },
): Bundle {
  return {
    resourceType: 'Bundle',
    type: 'searchset',
    total: options.total,
    link: [
      { relation: 'self', url: options.selfUrl },
      ...(options.nextUrl !== undefined ? [{ relation: 'next', url: options.nextUrl }] : []),
    ],
    entry: resources.map((resource) => ({
      fullUrl: `${options.baseUrl}/${resource.resourceType}/${resource.id}`,
      // The cast: Bundle.entry.resource is the union of every resource type; T is one of them.
      resource: resource as unknown as NonNullable<NonNullable<Bundle['entry']>[number]['resource']>,
      search: { mode: 'match' },
    })),
  };
}
