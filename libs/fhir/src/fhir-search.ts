import type { CapabilityStatement } from '@medplum/fhirtypes';

/** A search request this server cannot answer as asked: becomes a 400 OperationOutcome. */
export class FhirSearchError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FhirSearchError';
  }
}

/** Inclusive-from, exclusive-to bounds in epoch ms; either may be open. */
export interface TimeBounds {
  readonly from?: number;
  readonly to?: number;
}

const DATE_RE = /^(\d{4})(?:-(\d{2})(?:-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})?)?)?)?$/;

/**
 * The instant range [start, end) a FHIR date/dateTime value stands for at its precision: a year, a
 * month, a day, a minute, a second or a millisecond. Without a zone, UTC (this server's zone).
 */
export function dateRange(value: string): { start: number; end: number } {
  const m = DATE_RE.exec(value);
  if (!m) throw new FhirSearchError(`Invalid date '${value}': expected YYYY[-MM[-DD[Thh:mm[:ss[.sss]][Z|±hh:mm]]]]`);
  const [, y, mo, d, h, mi, s, frac, zone] = m;
  if (h !== undefined && zone === undefined && value.length > 16 && s === undefined) {
    throw new FhirSearchError(`Invalid date '${value}'`);
  }
  const offsetMs =
    zone === undefined || zone === 'Z'
      ? 0
      : (zone[0] === '-' ? -1 : 1) * (Number(zone.slice(1, 3)) * 60 + Number(zone.slice(4, 6))) * 60_000;
  const ms = frac === undefined ? 0 : Math.floor(Number(`0${frac}`) * 1000);
  const start =
    Date.UTC(
      Number(y),
      mo === undefined ? 0 : Number(mo) - 1,
      d === undefined ? 1 : Number(d),
      Number(h ?? 0),
      Number(mi ?? 0),
      Number(s ?? 0),
      ms,
    ) - offsetMs;
  let end: number;
  if (mo === undefined) end = Date.UTC(Number(y) + 1, 0, 1) - offsetMs;
  else if (d === undefined) end = Date.UTC(Number(y), Number(mo), 1) - offsetMs;
  else if (h === undefined) end = start + 86_400_000;
  else if (s === undefined) end = start + 60_000;
  else if (frac === undefined) end = start + 1000;
  else end = start + 1;
  const check = new Date(start + offsetMs);
  if (
    Number.isNaN(start) ||
    (mo !== undefined && check.getUTCMonth() + 1 !== Number(mo)) ||
    (d !== undefined && check.getUTCDate() !== Number(d))
  ) {
    throw new FhirSearchError(`Invalid date '${value}'`);
  }
  return { start, end };
}

/**
 * Intersects the `date` search parameters (`ge`, `gt`, `le`, `lt`, `eq` or no prefix; repeated
 * means AND) into one time range for instants: `ge2026-01-01` is from that day's start, `le2026-01-01`
 * up to that day's end. `ne`, `sa`, `eb` and `ap` are refused.
 */
export function parseDateParams(values: readonly string[]): TimeBounds {
  let from: number | undefined;
  let to: number | undefined;
  const atLeast = (t: number) => (from = from === undefined ? t : Math.max(from, t));
  const below = (t: number) => (to = to === undefined ? t : Math.min(to, t));
  for (const raw of values) {
    const prefix = /^[a-z]{2}/.test(raw) ? raw.slice(0, 2) : 'eq';
    const range = dateRange(prefix === 'eq' && !raw.startsWith('eq') ? raw : raw.slice(2));
    switch (prefix) {
      case 'eq':
        atLeast(range.start);
        below(range.end);
        break;
      case 'ge':
        atLeast(range.start);
        break;
      case 'gt':
        atLeast(range.end);
        break;
      case 'le':
        below(range.end);
        break;
      case 'lt':
        below(range.start);
        break;
      default:
        throw new FhirSearchError(`Unsupported date prefix '${prefix}': use ge, gt, le, lt or eq`);
    }
  }
  return { ...(from !== undefined && { from }), ...(to !== undefined && { to }) };
}

export const DEFAULT_PAGE_SIZE = 50;
export const MAX_PAGE_SIZE = 1000;

/** `_count`: a page size from 1 to {@link MAX_PAGE_SIZE} (a larger one is capped, as FHIR allows). */
export function parseCount(value: string | undefined): number {
  if (value === undefined) return DEFAULT_PAGE_SIZE;
  if (!/^\d+$/.test(value)) throw new FhirSearchError(`_count must be a positive integer, got '${value}'`);
  const n = Number(value);
  if (n < 1) throw new FhirSearchError('_count must be at least 1');
  return Math.min(n, MAX_PAGE_SIZE);
}

/** `_sort`: `date` (oldest first, the default) or `-date`. */
export function parseSort(value: string | undefined): 'asc' | 'desc' {
  if (value === undefined || value === 'date') return 'asc';
  if (value === '-date') return 'desc';
  throw new FhirSearchError(`Unsupported _sort '${value}': use date or -date`);
}

/** The id in a reference search value (`Patient/123`, `123`, or a full URL ending in `Patient/123`). */
export function referenceId(value: string, resourceType: string): string {
  const match = new RegExp(`(?:^|/)${resourceType}/([A-Za-z0-9\\-.]{1,64})$`).exec(value);
  if (match) return match[1];
  if (/^[A-Za-z0-9\-.]{1,64}$/.test(value)) return value;
  throw new FhirSearchError(`Invalid reference '${value}': expected ${resourceType}/[id]`);
}

export interface SearchParamDoc {
  readonly name: string;
  readonly type: 'token' | 'reference' | 'date' | 'number';
  readonly documentation: string;
}

/** Resource types and their search parameters, as the CapabilityStatement declares them. */
export const SUPPORTED_SEARCH: Record<'Patient' | 'Device' | 'Observation' | 'Flag', readonly SearchParamDoc[]> = {
  Patient: [{ name: 'identifier', type: 'token', documentation: 'The MRN, as `value` or `urn:lantern:mrn|value`.' }],
  Device: [{ name: 'patient', type: 'reference', documentation: 'Devices of one patient.' }],
  Observation: [
    { name: 'patient', type: 'reference', documentation: 'Required: whose readings.' },
    { name: 'code', type: 'token', documentation: 'LOINC `system|code`, comma-separated for any of several.' },
    { name: 'date', type: 'date', documentation: 'effectiveDateTime with ge, gt, le, lt or eq; repeat to AND.' },
  ],
  Flag: [
    { name: 'patient', type: 'reference', documentation: 'Required: whose alerts.' },
    { name: 'status', type: 'token', documentation: 'active (open or acknowledged alerts) or inactive (resolved).' },
  ],
};

/**
 * The CapabilityStatement (FHIR R4) of this server: exactly what it supports — read and search of
 * Patient, Device, Observation and Flag, `_count` and `_sort` on Observation, Bulk Data export of a
 * Group (a clinician's care team), JSON only, bearer tokens.
 */
export function capabilityStatement(baseUrl: string, software: { name: string; version: string }): CapabilityStatement {
  const observationProfiles = [
    'http://hl7.org/fhir/StructureDefinition/heartrate',
    'http://hl7.org/fhir/StructureDefinition/oxygensat',
    'http://hl7.org/fhir/StructureDefinition/resprate',
    'http://hl7.org/fhir/StructureDefinition/bodytemp',
    'http://hl7.org/fhir/StructureDefinition/bodyweight',
    'http://hl7.org/fhir/StructureDefinition/bp',
    'http://hl7.org/fhir/StructureDefinition/vitalsigns',
  ];
  return {
    resourceType: 'CapabilityStatement',
    status: 'active',
    date: '2026-12-06',
    publisher: 'Lantern',
    kind: 'instance',
    software,
    implementation: { description: 'Lantern remote monitoring, read-only FHIR R4', url: baseUrl },
    fhirVersion: '4.0.1',
    format: ['application/fhir+json', 'json'],
    instantiates: ['http://hl7.org/fhir/uv/bulkdata/CapabilityStatement/bulk-data'],
    rest: [
      {
        mode: 'server',
        documentation: 'Read-only. The same bearer tokens and the same visibility as /api/v1.',
        security: {
          service: [
            {
              coding: [{ system: 'http://terminology.hl7.org/CodeSystem/restful-security-service', code: 'OAuth' }],
              text: 'Bearer access token from POST /api/v1/auth/login',
            },
          ],
          description: 'A clinician sees the care team’s patients, a patient themselves, an admin everyone.',
        },
        resource: [
          ...(Object.entries(SUPPORTED_SEARCH) as [keyof typeof SUPPORTED_SEARCH, readonly SearchParamDoc[]][]).map(
            ([type, params]) => ({
              type,
              ...(type === 'Observation' && { supportedProfile: observationProfiles }),
              interaction: [{ code: 'read' as const }, { code: 'search-type' as const }],
              searchParam: params.map((p) => ({ name: p.name, type: p.type, documentation: p.documentation })),
            }),
          ),
          {
            type: 'Group',
            documentation: 'A clinician’s care team (Group id = clinician user id): only for $export.',
            operation: [
              { name: 'export', definition: 'http://hl7.org/fhir/uv/bulkdata/OperationDefinition/group-export' },
            ],
          },
        ],
      },
    ],
  };
}
