import { Injectable } from '@nestjs/common';
import type { Bundle, Device, Flag, Observation, Patient } from '@medplum/fhirtypes';
import {
  AuditService,
  grantIncludes,
  grantMetrics,
  grantShowsAlert,
  grantShowsMetric,
  PatientAccessService,
  type Actor,
  type PatientGrant,
} from '@lantern/auth';
import { NotFoundError, UUID_PATTERN } from '@lantern/domain';
import {
  FHIR_SYSTEMS,
  FhirSearchError,
  OBSERVATION_KIND_LIST,
  OBSERVATION_KINDS,
  kindsForCodeToken,
  parseCount,
  parseDateParams,
  parseObservationId,
  parseSort,
  referenceId,
  searchsetBundle,
  toFhirDevice,
  toFhirFlag,
  toFhirObservation,
  toFhirPatient,
  type ObservationKind,
} from '@lantern/fhir';
import { DeviceRepository, type DeviceRecord, type PatientRecord } from '@lantern/storage';
import { decodeCursor, encodeCursor } from './fhir-cursor.js';
import { FhirRepository } from './fhir.repository.js';

/** A search request as the controller hands it over: its parameters and the URLs to build links from. */
export interface FhirSearchRequest {
  readonly params: Readonly<Record<string, string | string[] | undefined>>;
  /** The FHIR base, e.g. `https://host/fhir/R4`. */
  readonly baseUrl: string;
  /** This request's full URL (the Bundle's `self` link). */
  readonly selfUrl: string;
}

const VIA = { via: 'fhir' } as const;

function all(params: FhirSearchRequest['params'], name: string): string[] {
  const value = params[name];
  return value === undefined ? [] : Array.isArray(value) ? value : [value];
}

function one(params: FhirSearchRequest['params'], name: string): string | undefined {
  const values = all(params, name);
  if (values.length > 1) throw new FhirSearchError(`${name} may be given once`);
  return values[0];
}

/** Refuses parameters this server does not support, as FHIR's strict handling does (silently ignoring one would widen the result). */
function onlyParams(params: FhirSearchRequest['params'], allowed: readonly string[]): void {
  // `_format` is accepted for JSON only: this server speaks nothing else.
  for (const name of Object.keys(params)) {
    if (name === '_format') {
      const format = one(params, '_format');
      if (format !== undefined && !/json/.test(format))
        throw new FhirSearchError('Only JSON is supported (_format=json)');
      continue;
    }
    if (!allowed.includes(name))
      throw new FhirSearchError(`Unsupported search parameter '${name}'; supported: ${allowed.join(', ')}`);
  }
}

/** The URL of the next page: this search with `_cursor` replaced. */
function nextUrl(request: FhirSearchRequest, cursor: string): string {
  const url = new URL(request.selfUrl);
  url.searchParams.set('_cursor', cursor);
  return url.toString();
}

/**
 * Lantern's data as FHIR R4, read-only: the same visibility as REST (PatientAccessService — a
 * patient one may not see is indistinguishable from one that does not exist; a search about such a
 * patient is empty) and the same audit entries as the REST reads, marked `via: fhir`.
 */
@Injectable()
export class FhirService {
  constructor(
    private readonly access: PatientAccessService,
    private readonly audit: AuditService,
    private readonly devices: DeviceRepository,
    private readonly fhir: FhirRepository,
  ) {}

  async readPatient(actor: Actor, id: string): Promise<Patient> {
    const patient = await this.access.getVisiblePatient(actor.principal, id);
    await this.audit.record(actor, {
      action: 'patient.read',
      patientId: patient.id,
      resource: 'patient',
      resourceId: patient.id,
      details: VIA,
    });
    return toFhirPatient(patient);
  }

  /** By MRN (`identifier`), or every visible patient without it. */
  async searchPatients(actor: Actor, request: FhirSearchRequest): Promise<Bundle> {
    onlyParams(request.params, ['identifier']);
    const identifier = one(request.params, 'identifier');
    let patients: PatientRecord[];
    if (identifier === undefined) patients = await this.access.listVisiblePatients(actor.principal);
    else {
      const bar = identifier.indexOf('|');
      const system = bar < 0 ? undefined : identifier.slice(0, bar);
      const value = bar < 0 ? identifier : identifier.slice(bar + 1);
      const id =
        system === undefined || system === '' || system === FHIR_SYSTEMS.mrn
          ? await this.fhir.patientIdByMrn(this.access.scopeOf(actor.principal), value)
          : undefined;
      patients = id === undefined ? [] : [await this.access.getVisiblePatient(actor.principal, id)];
    }
    await this.audit.recordPerPatient(
      actor,
      { action: 'patient.list', resource: 'patient', details: { ...VIA, count: patients.length } },
      patients.map((p) => p.id),
    );
    return searchsetBundle(patients.map(toFhirPatient), { total: patients.length, ...links(request) });
  }

  async readDevice(actor: Actor, id: string): Promise<Device> {
    const device = await this.visibleDevice(actor, id);
    await this.audit.record(actor, {
      action: 'device.read',
      patientId: device.patientId,
      resource: 'device',
      resourceId: device.id,
      details: VIA,
    });
    return toFhirDevice(deviceSource(device));
  }

  /** Devices of one patient (`patient`), or of every visible patient without it. */
  async searchDevices(actor: Actor, request: FhirSearchRequest): Promise<Bundle> {
    onlyParams(request.params, ['patient']);
    const patient = one(request.params, 'patient');
    const patientId = patient === undefined ? undefined : referenceId(patient, 'Patient');
    const grant = patientId === undefined ? undefined : await this.access.grantOf(actor.principal, patientId);
    if (patientId !== undefined && (grant === undefined || !grantIncludes(grant, 'devices')))
      return this.empty(request);
    // A caregiver sees Devices only of patients who shared `devices`.
    const devices = await this.devices.list(this.access.scopeOf(actor.principal, 'devices'), patientId?.toLowerCase());
    await this.audit.recordPerPatient(
      actor,
      { action: 'device.list', resource: 'device', details: { ...VIA, count: devices.length } },
      patientId === undefined ? devices.map((d) => d.patientId) : [patientId],
    );
    return searchsetBundle(
      devices.map((d) => toFhirDevice(deviceSource(d))),
      { total: devices.length, ...links(request) },
    );
  }

  async readObservation(actor: Actor, id: string): Promise<Observation> {
    const parts = parseObservationId(id);
    const source = parts && (await this.fhir.findObservation(parts.kind, parts.deviceId, parts.time));
    const grant = source && (await this.access.grantOf(actor.principal, source.patientId));
    if (source === undefined || grant === undefined || !showsKind(grant, parts!.kind))
      throw new NotFoundError('Observation', id);
    await this.audit.record(actor, {
      action: 'readings.read',
      patientId: source.patientId,
      resource: 'readings',
      resourceId: id,
      details: VIA,
    });
    return toFhirObservation(source);
  }

  /**
   * A patient's Observations: `patient` required, `code` (LOINC, comma-separated for any of
   * several), `date` (ge/gt/le/lt/eq, repeated to AND), `_count`, `_sort` = date | -date, and the
   * `_cursor` of a `next` link. `total` is exact; pages are stable under concurrent inserts of
   * later readings (keyset on time, device, metric group).
   */
  async searchObservations(actor: Actor, request: FhirSearchRequest): Promise<Bundle> {
    const { params } = request;
    onlyParams(params, ['patient', 'subject', 'code', 'date', '_count', '_sort', '_cursor']);
    const patient = one(params, 'patient') ?? one(params, 'subject');
    if (patient === undefined) throw new FhirSearchError('Observation search needs patient (Patient/[id])');
    const patientId = referenceId(patient, 'Patient').toLowerCase();
    const sort = parseSort(one(params, '_sort'));
    const count = parseCount(one(params, '_count'));
    const { from, to } = parseDateParams(all(params, 'date'));
    const codes = all(params, 'code').map((value) => value.split(','));
    // Repeated `code` parameters AND, comma-separated values OR: intersect the sets of kinds.
    let kinds: ObservationKind[] = OBSERVATION_KIND_LIST.map((k) => k.kind);
    for (const tokens of codes) {
      const wanted = new Set(tokens.flatMap(kindsForCodeToken));
      kinds = kinds.filter((k) => wanted.has(k));
    }
    const cursorText = one(params, '_cursor');
    const after = cursorText === undefined ? undefined : decodeCursor(cursorText);
    if (after !== undefined && after.sort !== sort) throw new FhirSearchError('_cursor belongs to another _sort');
    const grant = UUID_PATTERN.test(patientId) ? await this.access.grantOf(actor.principal, patientId) : undefined;
    if (grant === undefined) return this.empty(request);
    // A caregiver's search covers only the shared signals, as if the others were never measured.
    kinds = kinds.filter((k) => showsKind(grant, k));
    await this.audit.record(actor, {
      action: 'readings.read',
      patientId,
      resource: 'readings',
      details: {
        ...VIA,
        code: codes.flat(),
        from: from === undefined ? null : new Date(from).toISOString(),
        to: to === undefined ? null : new Date(to).toISOString(),
        page: after === undefined ? 1 : 'next',
      },
    });
    const page = await this.fhir.searchObservations({ patientId, kinds, from, to, sort, count, after });
    return searchsetBundle(page.items.map(toFhirObservation), {
      total: page.total,
      ...links(request),
      ...(page.next && { nextUrl: nextUrl(request, encodeCursor(page.next)) }),
    });
  }

  async readFlag(actor: Actor, id: string): Promise<Flag> {
    const alert = UUID_PATTERN.test(id) ? await this.fhir.findAlert(id) : undefined;
    const grant = alert && (await this.access.grantOf(actor.principal, alert.patientId));
    if (alert === undefined || grant === undefined || !grantShowsAlert(grant, alert))
      throw new NotFoundError('Flag', id);
    await this.audit.record(actor, {
      action: 'alert.read',
      patientId: alert.patientId,
      resource: 'alert',
      resourceId: id,
      details: VIA,
    });
    return toFhirFlag(alert);
  }

  /** A patient's alerts as Flags, newest first: `patient` required, `status` = active | inactive, `_count`. */
  async searchFlags(actor: Actor, request: FhirSearchRequest): Promise<Bundle> {
    const { params } = request;
    onlyParams(params, ['patient', 'subject', 'status', '_count', '_cursor']);
    const patient = one(params, 'patient') ?? one(params, 'subject');
    if (patient === undefined) throw new FhirSearchError('Flag search needs patient (Patient/[id])');
    const patientId = referenceId(patient, 'Patient').toLowerCase();
    const status = one(params, 'status');
    if (status !== undefined && status !== 'active' && status !== 'inactive')
      throw new FhirSearchError(`status must be active or inactive, got '${status}'`);
    const count = parseCount(one(params, '_count'));
    const cursor = one(params, '_cursor');
    const offset = cursor === undefined ? 0 : Number(cursor);
    if (!Number.isSafeInteger(offset) || offset < 0) throw new FhirSearchError('_cursor is not one this server issued');
    const grant = UUID_PATTERN.test(patientId) ? await this.access.grantOf(actor.principal, patientId) : undefined;
    if (grant === undefined || !grantIncludes(grant, 'alerts')) return this.empty(request);
    const page = await this.fhir.searchAlerts(patientId, status, count, offset, sharedMetrics(grant));
    await this.audit.record(actor, {
      action: 'alert.list',
      patientId,
      resource: 'alert',
      details: { ...VIA, total: page.total, count: page.items.length, status: status ?? null },
    });
    return searchsetBundle(page.items.map(toFhirFlag), {
      total: page.total,
      ...links(request),
      ...(offset + page.items.length < page.total && { nextUrl: nextUrl(request, String(offset + page.items.length)) }),
    });
  }

  /** What a search about an unknown or invisible patient answers: nothing, exactly alike. */
  private empty(request: FhirSearchRequest): Bundle {
    return searchsetBundle([], { total: 0, ...links(request) });
  }

  private async visibleDevice(actor: Actor, id: string): Promise<DeviceRecord> {
    const device = UUID_PATTERN.test(id) ? await this.devices.findById(id) : undefined;
    const grant = device && (await this.access.grantOf(actor.principal, device.patientId));
    if (device === undefined || grant === undefined || !grantIncludes(grant, 'devices'))
      throw new NotFoundError('Device', id);
    return device;
  }
}

/** Whether a grant shows an Observation kind: every metric it is made of must be shared. */
function showsKind(grant: PatientGrant, kind: ObservationKind): boolean {
  return OBSERVATION_KINDS[kind].metrics.every((metric) => grantShowsMetric(grant, metric));
}

/** The metrics whose alerts a caregiver's grant shows (besides alerts about no metric); all for a full grant. */
function sharedMetrics(grant: PatientGrant): readonly string[] | undefined {
  return grant.kind === 'full' ? undefined : grantMetrics(grant);
}

function links(request: FhirSearchRequest): { baseUrl: string; selfUrl: string } {
  return { baseUrl: request.baseUrl, selfUrl: request.selfUrl };
}

function deviceSource(device: DeviceRecord) {
  return {
    id: device.id,
    patientId: device.patientId,
    type: device.type,
    ...(device.serial !== undefined && { serial: device.serial }),
    ...(device.model !== undefined && { model: device.model }),
    ...(device.decommissionedAt !== undefined && { decommissionedAt: device.decommissionedAt.getTime() }),
  };
}
