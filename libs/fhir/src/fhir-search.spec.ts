import { describe, expect, it } from '@jest/globals';
import { FhirSearchError, dateRange, parseCount, parseDateParams, parseSort, referenceId } from './fhir-search.js';
import { kindsForCodeToken } from './fhir-catalog.js';
import { observationId, parseObservationId } from './fhir-resource.mapper.js';

describe('date search parameters', () => {
  it('reads each precision as the range it stands for', () => {
    expect(dateRange('2026')).toEqual({ start: Date.UTC(2026, 0, 1), end: Date.UTC(2027, 0, 1) });
    expect(dateRange('2026-02')).toEqual({ start: Date.UTC(2026, 1, 1), end: Date.UTC(2026, 2, 1) });
    expect(dateRange('2026-02-28')).toEqual({ start: Date.UTC(2026, 1, 28), end: Date.UTC(2026, 2, 1) });
    expect(dateRange('2026-02-28T10:15')).toEqual({
      start: Date.UTC(2026, 1, 28, 10, 15),
      end: Date.UTC(2026, 1, 28, 10, 16),
    });
    expect(dateRange('2026-02-28T10:15:30+02:00')).toEqual({
      start: Date.UTC(2026, 1, 28, 8, 15, 30),
      end: Date.UTC(2026, 1, 28, 8, 15, 31),
    });
    expect(dateRange('2026-02-28T10:15:30.250Z')).toEqual({
      start: Date.UTC(2026, 1, 28, 10, 15, 30, 250),
      end: Date.UTC(2026, 1, 28, 10, 15, 30, 251),
    });
  });

  it('refuses impossible dates and other formats', () => {
    for (const bad of ['2026-02-30', '2026-13', '26-01-01', 'yesterday', '2026-01-01T10'])
      expect(() => dateRange(bad)).toThrow(FhirSearchError);
  });

  it('intersects prefixes: ge/le include the named day, gt/lt exclude it', () => {
    expect(parseDateParams(['ge2026-01-01', 'le2026-01-31'])).toEqual({
      from: Date.UTC(2026, 0, 1),
      to: Date.UTC(2026, 1, 1),
    });
    expect(parseDateParams(['gt2026-01-01', 'lt2026-01-31'])).toEqual({
      from: Date.UTC(2026, 0, 2),
      to: Date.UTC(2026, 0, 31),
    });
    expect(parseDateParams(['2026-01-05'])).toEqual({ from: Date.UTC(2026, 0, 5), to: Date.UTC(2026, 0, 6) });
    expect(parseDateParams(['ge2026-01-01', 'ge2026-03-01'])).toEqual({ from: Date.UTC(2026, 2, 1) });
    expect(parseDateParams([])).toEqual({});
    expect(() => parseDateParams(['ne2026-01-01'])).toThrow(/Unsupported date prefix 'ne'/);
  });
});

describe('paging and sorting parameters', () => {
  it('caps _count and refuses nonsense', () => {
    expect(parseCount(undefined)).toBe(50);
    expect(parseCount('10')).toBe(10);
    expect(parseCount('100000')).toBe(1000);
    expect(() => parseCount('0')).toThrow(FhirSearchError);
    expect(() => parseCount('-1')).toThrow(FhirSearchError);
    expect(() => parseCount('ten')).toThrow(FhirSearchError);
  });

  it('sorts by date either way, nothing else', () => {
    expect(parseSort(undefined)).toBe('asc');
    expect(parseSort('date')).toBe('asc');
    expect(parseSort('-date')).toBe('desc');
    expect(() => parseSort('code')).toThrow(FhirSearchError);
  });

  it('takes a reference as Patient/id, a full URL or a bare id', () => {
    expect(referenceId('Patient/abc-1', 'Patient')).toBe('abc-1');
    expect(referenceId('https://ehr.example/fhir/R4/Patient/abc-1', 'Patient')).toBe('abc-1');
    expect(referenceId('abc-1', 'Patient')).toBe('abc-1');
    expect(() => referenceId('Device/1 2', 'Patient')).toThrow(FhirSearchError);
  });
});

describe('codes and ids', () => {
  it('maps LOINC code tokens to Observation kinds', () => {
    expect(kindsForCodeToken('http://loinc.org|85354-9')).toEqual(['blood_pressure']);
    expect(kindsForCodeToken('8867-4')).toEqual(['heart_rate']);
    expect(kindsForCodeToken('|2708-6')).toEqual(['spo2']);
    expect(kindsForCodeToken('http://snomed.info/sct|8867-4')).toEqual([]);
    expect(kindsForCodeToken('http://loinc.org|0000-0')).toEqual([]);
  });

  it('round-trips an Observation id through its parts', () => {
    const source = {
      kind: 'blood_pressure' as const,
      deviceId: '0b9a8c7d-6e5f-4a3b-9c2d-1e0f9a8b7c6d',
      time: Date.UTC(2026, 11, 6, 9, 30, 15, 250),
    };
    const id = observationId(source);
    expect(id).toMatch(/^[A-Za-z0-9\-.]{1,64}$/);
    expect(parseObservationId(id)).toEqual(source);
    expect(parseObservationId('xx-0b9a8c7d6e5f4a3b9c2d1e0f9a8b7c6d-1')).toBeUndefined();
    expect(parseObservationId('hr-nothex-1')).toBeUndefined();
  });
});
