import { beforeAll, describe, expect, it } from '@jest/globals';
import { DEVICE_TYPE_KEYS, METRIC_KEYS, METRICS } from '@lantern/domain';
import { DEFAULT_RULES } from '@lantern/alerting';
import {
  OBSERVATION_KINDS,
  capabilityStatement,
  operationOutcome,
  searchsetBundle,
  toFhirDevice,
  toFhirFlag,
  toFhirObservation,
  toFhirPatient,
  type ObservationKind,
} from '@lantern/fhir';
import { loadFhirValidator, type FhirValidator } from './fhir-validator.js';

/**
 * Every resource Lantern produces, for every metric of the catalog and every alert rule, validated
 * against the official FHIR R4 definitions (StructureDefinitions and vital-signs profiles, and the
 * published JSON schema): see fhir-validator.ts.
 */
let validator: FhirValidator;
beforeAll(async () => {
  validator = await loadFhirValidator();
}, 60_000);

const PATIENT = '6f1c2d3e-4a5b-4c6d-8e9f-0a1b2c3d4e5f';
const DEVICE = '0b9a8c7d-6e5f-4a3b-9c2d-1e0f9a8b7c6d';
const T = Date.UTC(2026, 11, 6, 9, 30, 15, 250);

/** A mid-range value of `metric`, in its canonical unit. */
const valueOf = (metric: keyof typeof METRICS): number =>
  (METRICS[metric].plausible.min + METRICS[metric].plausible.max) / 2 + 0.123;

describe('FHIR R4 validation', () => {
  it('catches an invalid resource (the validator is live)', () => {
    const bad = toFhirObservation({
      kind: 'heart_rate',
      patientId: PATIENT,
      deviceId: DEVICE,
      time: T,
      values: { heart_rate: 60 },
    });
    expect(validator.validate({ ...bad, status: 'bogus' as 'final' }).length).toBeGreaterThan(0);
    // The heartrate profile requires its LOINC code: a wrong code fails the profile.
    expect(
      validator.validate({ ...bad, code: { coding: [{ system: 'http://loinc.org', code: '0000-0' }] } }).length,
    ).toBeGreaterThan(0);
  });

  const kinds = Object.keys(OBSERVATION_KINDS) as ObservationKind[];
  it('has an Observation kind for every metric of the catalog', () => {
    const covered = new Set(kinds.flatMap((k) => OBSERVATION_KINDS[k].metrics));
    expect([...covered].sort()).toEqual([...METRIC_KEYS].sort());
  });

  it.each(kinds)('Observation %s validates, with its vital-signs profile where one exists', (kind) => {
    const def = OBSERVATION_KINDS[kind];
    const values = Object.fromEntries(def.metrics.map((m) => [m, valueOf(m)]));
    const observation = toFhirObservation({ kind, patientId: PATIENT, deviceId: DEVICE, time: T, values });
    expect(validator.validate(observation)).toEqual([]);
    expect(observation.effectiveDateTime).toBe('2026-12-06T09:30:15.250Z');
    expect(observation.subject).toEqual({ reference: `Patient/${PATIENT}` });
    expect(observation.device).toEqual({ reference: `Device/${DEVICE}` });
    expect(observation.code.coding?.[0]).toMatchObject({ system: 'http://loinc.org', code: def.codings[0].code });
    // UCUM codes from the catalog (Medplum does not enforce the profiles' fixed unit codes: checked here).
    const quantities = observation.component
      ? observation.component.map((c, i) => [def.metrics[i], c.valueQuantity] as const)
      : [[def.metrics[0], observation.valueQuantity] as const];
    for (const [metric, q] of quantities)
      expect(q).toMatchObject({ system: 'http://unitsofmeasure.org', code: METRICS[metric].unit });
  });

  it('makes one blood-pressure panel per cuff reading, systolic and diastolic as components', () => {
    const observation = toFhirObservation({
      kind: 'blood_pressure',
      patientId: PATIENT,
      deviceId: DEVICE,
      time: T,
      values: { systolic_bp: 128, diastolic_bp: 82 },
    });
    expect(observation.code.coding?.[0].code).toBe('85354-9');
    expect(observation.valueQuantity).toBeUndefined();
    expect(observation.component).toEqual([
      expect.objectContaining({
        code: { coding: [{ system: 'http://loinc.org', code: '8480-6', display: 'Systolic blood pressure' }] },
        valueQuantity: { value: 128, unit: 'mmHg', system: 'http://unitsofmeasure.org', code: 'mm[Hg]' },
      }),
      expect.objectContaining({
        code: { coding: [{ system: 'http://loinc.org', code: '8462-4', display: 'Diastolic blood pressure' }] },
        valueQuantity: { value: 82, unit: 'mmHg', system: 'http://unitsofmeasure.org', code: 'mm[Hg]' },
      }),
    ]);
  });

  it('still validates a panel that lacks one value (data-absent-reason)', () => {
    const observation = toFhirObservation({
      kind: 'blood_pressure',
      patientId: PATIENT,
      deviceId: DEVICE,
      time: T,
      values: { systolic_bp: 128 },
    });
    expect(validator.validate(observation)).toEqual([]);
  });

  it.each(DEFAULT_RULES.map((r) => [r.key, r] as const))('Flag of rule %s validates', (_key, rule) => {
    for (const state of ['open', 'acknowledged', 'resolved'] as const) {
      const flag = toFhirFlag({
        id: '11111111-2222-4333-8444-555555555555',
        patientId: PATIENT,
        deviceId: rule.scope === 'device' ? DEVICE : null,
        rule: rule.key,
        priority: rule.params.priority,
        state,
        message: `${rule.label}: example`,
        openedAt: T,
        resolvedAt: state === 'resolved' ? T + 60_000 : null,
      });
      expect(validator.validate(flag)).toEqual([]);
      expect(flag.status).toBe(state === 'resolved' ? 'inactive' : 'active');
      expect(flag.code.coding?.[0]).toEqual({ system: 'urn:lantern:alert-rule', code: rule.key, display: rule.label });
    }
  });

  it.each(DEVICE_TYPE_KEYS)('Device of type %s validates, active and decommissioned', (type) => {
    const active = toFhirDevice({ id: DEVICE, patientId: PATIENT, type, serial: 'SN-1', model: 'M-2' });
    expect(validator.validate(active)).toEqual([]);
    expect(active).toMatchObject({ status: 'active', serialNumber: 'SN-1', modelNumber: 'M-2' });
    const retired = toFhirDevice({ id: DEVICE, patientId: PATIENT, type, decommissionedAt: T });
    expect(validator.validate(retired)).toEqual([]);
    expect(retired.status).toBe('inactive');
  });

  it('Patient, Bundle, OperationOutcome and CapabilityStatement validate', () => {
    const patient = toFhirPatient({
      id: PATIENT,
      displayName: 'Ada Lovelace',
      dateOfBirth: '1815-12-10',
      mrn: 'MRN-1',
    });
    expect(validator.validate(patient)).toEqual([]);
    expect(validator.validate(toFhirPatient({ id: PATIENT, displayName: 'No MRN' }))).toEqual([]);
    const bundle = searchsetBundle([patient], {
      total: 1,
      baseUrl: 'http://localhost/fhir/R4',
      selfUrl: 'http://localhost/fhir/R4/Patient?identifier=MRN-1',
      nextUrl: 'http://localhost/fhir/R4/Patient?identifier=MRN-1&_cursor=x',
    });
    expect(validator.validate(bundle)).toEqual([]);
    expect(validator.validate(operationOutcome('not-found', 'Patient x not found'))).toEqual([]);
    expect(
      validator.validate(capabilityStatement('http://localhost/fhir/R4', { name: 'Lantern', version: '0.1.0' })),
    ).toEqual([]);
  });
});
