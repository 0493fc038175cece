import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import { get as httpGet, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';
import type { Bundle, Device, Flag, Observation, OperationOutcome, Patient, Resource } from '@medplum/fhirtypes';
import { Client } from 'fhir-kit-client';
import type { Reading } from '@lantern/domain';
import { ReadingPartitions, ReadingRepository } from '@lantern/storage';
import { ADMIN_EMAIL, ADMIN_PASSWORD, startApi, type ApiFixture } from '../api/api-fixture.js';
import { waitFor } from '../support/wait.js';
import { bodyOf } from '../support/http.js';
import { loadFhirValidator, type FhirValidator } from './fhir-validator.js';

/**
 * The FHIR R4 server against the real api, database and broker: the same tokens and visibility as
 * REST, OperationOutcome errors, Observations grouped and paged as contract §4.5 says, every
 * resource valid R4, and a maintained FHIR client (fhir-kit-client) reading it as an EHR would.
 */
type Caller = 'admin' | 'inTeam' | 'outOfTeam' | 'patient' | 'otherPatient' | 'anonymous';
const CALLERS: Caller[] = ['admin', 'inTeam', 'outOfTeam', 'patient', 'otherPatient', 'anonymous'];

let api: ApiFixture;
let validator: FhirValidator;
const token: Partial<Record<Caller, string>> = {};
const ids = { patientP: '', patientQ: '', oximeter: '', cuff: '', retired: '', alert: '', clinicianA: '' };
const password = 'a-long-password-1';
const T0 = Date.UTC(2026, 10, 1, 8, 0, 0);
const MINUTE = 60_000;
/** 120 minutes of SpO2 and heart rate, 3 cuff readings (panel + heart rate), 1 lone systolic. */
const EXPECTED_TOTAL = 240 + 3 + 3 + 1;

async function asAdmin(path: string, body: object): Promise<Record<string, unknown>> {
  const res = await api.http.post(path).set('Authorization', `Bearer ${token.admin}`).send(body);
  if (res.status >= 300) throw new Error(`POST ${path}: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body as Record<string, unknown>;
}

async function user(role: string, email: string, patientId?: string): Promise<string> {
  const created = await asAdmin('/api/v1/users', {
    email,
    password,
    role,
    displayName: email,
    ...(patientId && { patientId }),
  });
  return created.id as string;
}

function get(caller: Caller, path: string) {
  const req = api.http.get(path);
  return caller === 'anonymous' ? req : req.set('Authorization', `Bearer ${token[caller]}`);
}

beforeAll(async () => {
  validator = await loadFhirValidator();
  api = await startApi();
  token.admin = await api.login(ADMIN_EMAIL, ADMIN_PASSWORD);
  ids.clinicianA = await user('clinician', 'a@clinic.test');
  await user('clinician', 'b@clinic.test');
  ids.patientP = (
    await asAdmin('/api/v1/patients', { displayName: 'Patient P', mrn: 'MRN-P', dateOfBirth: '1950-02-03' })
  ).id as string;
  ids.patientQ = (await asAdmin('/api/v1/patients', { displayName: 'Patient Q', mrn: 'MRN-Q' })).id as string;
  await asAdmin(`/api/v1/patients/${ids.patientP}/care-team`, { clinicianId: ids.clinicianA });
  const b = (await api.http.get('/api/v1/users').set('Authorization', `Bearer ${token.admin}`)).body as {
    id: string;
    email: string;
  }[];
  await asAdmin(`/api/v1/patients/${ids.patientQ}/care-team`, {
    clinicianId: b.find((u) => u.email === 'b@clinic.test')?.id,
  });
  await user('patient', 'p@home.test', ids.patientP);
  await user('patient', 'q@home.test', ids.patientQ);
  ids.oximeter = await provision('pulse_oximeter', { serial: 'OX-1', model: 'Oxi 2' });
  ids.cuff = await provision('bp_monitor');
  ids.retired = await provision('cgm');
  await api.http.delete(`/api/v1/devices/${ids.retired}`).set('Authorization', `Bearer ${token.admin}`).expect(200);
  token.inTeam = await api.login('a@clinic.test', password);
  token.outOfTeam = await api.login('b@clinic.test', password);
  token.patient = await api.login('p@home.test', password);
  token.otherPatient = await api.login('q@home.test', password);

  const readings: Reading[] = [];
  const r = (deviceId: string, metric: Reading['metric'], value: number, time: number): Reading => ({
    deviceId,
    patientId: ids.patientP,
    metric,
    value,
    time,
    receivedAt: time + 1000,
  });
  for (let i = 0; i < 120; i++) {
    readings.push(r(ids.oximeter, 'spo2', 95 + (i % 4), T0 + i * MINUTE));
    readings.push(r(ids.oximeter, 'heart_rate', 60 + (i % 30), T0 + i * MINUTE));
  }
  for (let i = 0; i < 3; i++) {
    const t = T0 + 30 * MINUTE + i * 40 * MINUTE + 15_000;
    readings.push(
      r(ids.cuff, 'systolic_bp', 120 + i, t),
      r(ids.cuff, 'diastolic_bp', 80 + i, t),
      r(ids.cuff, 'heart_rate', 70, t),
    );
  }
  readings.push(r(ids.cuff, 'systolic_bp', 150, T0 + 300 * MINUTE));
  await api.app.get(ReadingRepository).insertBatch(readings);
  const [alert] = await api.db.query<{ id: string }[]>(
    `INSERT INTO alerts (patient_id, device_id, rule, metric, priority, state, message, value, peak_value, opened_at, last_triggered_at)
     VALUES ($1, $2, 'spo2.low', 'spo2', 'high', 'open', 'SpO2 87 % — below 90 (low)', 87, 87, $3, $3) RETURNING id::text`,
    [ids.patientP, ids.oximeter, new Date(T0 + 60 * MINUTE)],
  );
  ids.alert = alert.id;
}, 120_000);

async function provision(type: string, extra: object = {}): Promise<string> {
  const body = await asAdmin('/api/v1/devices', { patientId: ids.patientP, type, ...extra });
  return body.id as string;
}

afterAll(async () => {
  await api?.close();
});

function expectValid(resource: Resource): void {
  expect(validator.validate(resource)).toEqual([]);
}

describe('FHIR R4 server', () => {
  it('answers metadata without a token, as application/fhir+json, valid R4', async () => {
    const res = await api.http.get('/fhir/R4/metadata').expect(200);
    expect(res.headers['content-type']).toMatch(/^application\/fhir\+json/);
    const statement = res.body as Resource;
    expectValid(statement);
    expect(statement).toMatchObject({ resourceType: 'CapabilityStatement', fhirVersion: '4.0.1', kind: 'instance' });
  });

  it('reads a Patient and finds it by MRN', async () => {
    const res = await get('inTeam', `/fhir/R4/Patient/${ids.patientP}`).expect(200);
    expect(res.headers['content-type']).toMatch(/^application\/fhir\+json/);
    const patient = bodyOf<Patient>(res);
    expectValid(patient);
    expect(patient).toMatchObject({ id: ids.patientP, birthDate: '1950-02-03', name: [{ text: 'Patient P' }] });
    expect(patient.identifier?.[0]).toMatchObject({ system: 'urn:lantern:mrn', value: 'MRN-P' });
    const found = bodyOf<Bundle>(await get('inTeam', '/fhir/R4/Patient?identifier=urn:lantern:mrn|MRN-P').expect(200));
    expectValid(found);
    expect(found.total).toBe(1);
    expect(found.entry?.[0].resource?.id).toBe(ids.patientP);
    // Another team's MRN finds nothing, exactly like an unknown one.
    const hidden = bodyOf<Bundle>(await get('inTeam', '/fhir/R4/Patient?identifier=MRN-Q').expect(200));
    const unknown = bodyOf<Bundle>(await get('inTeam', '/fhir/R4/Patient?identifier=MRN-X').expect(200));
    expect(hidden.total).toBe(0);
    expect(hidden.entry).toEqual(unknown.entry);
  });

  it('pages through every Observation with a stable cursor and an exact total', async () => {
    const seen: Observation[] = [];
    let url: string | undefined = `/fhir/R4/Observation?patient=Patient/${ids.patientP}&_count=50`;
    let pages = 0;
    while (url !== undefined) {
      const bundle: Bundle = bodyOf<Bundle>(await get('inTeam', url).expect(200));
      expectValid(bundle);
      // Exact on every page: the reading stored after page 1 counts from page 2 on.
      expect(bundle.total).toBe(pages === 0 ? EXPECTED_TOTAL : EXPECTED_TOTAL + 1);
      seen.push(...(bundle.entry ?? []).map((e) => e.resource as Observation));
      const next: string | undefined = bundle.link?.find((l) => l.relation === 'next')?.url;
      url = next === undefined ? undefined : new URL(next).pathname + new URL(next).search;
      pages++;
      // A reading stored meanwhile before the cursor moves nothing: no page repeats or skips one.
      if (pages === 1)
        await api.app.get(ReadingRepository).insertBatch([
          {
            deviceId: ids.oximeter,
            patientId: ids.patientP,
            metric: 'spo2',
            value: 97,
            time: T0 - MINUTE,
            receivedAt: T0,
          },
        ]);
    }
    expect(pages).toBe(Math.ceil(EXPECTED_TOTAL / 50));
    expect(seen).toHaveLength(EXPECTED_TOTAL);
    expect(new Set(seen.map((o) => o.id)).size).toBe(EXPECTED_TOTAL);
    const times = seen.map((o) => Date.parse(o.effectiveDateTime ?? ''));
    expect(times).toEqual([...times].sort((a, b) => a - b));
    for (const o of seen) expectValid(o);
    const panels = seen.filter((o) => o.code.coding?.[0].code === '85354-9');
    expect(panels).toHaveLength(3);
    expect(panels[0].component?.map((c) => [c.code.coding?.[0].code, c.valueQuantity?.value])).toEqual([
      ['8480-6', 120],
      ['8462-4', 80],
    ]);
    expect(panels[0]).toMatchObject({
      device: { reference: `Device/${ids.cuff}` },
      subject: { reference: `Patient/${ids.patientP}` },
    });
    expect(seen.filter((o) => o.code.coding?.[0].code === '8480-6')).toHaveLength(1);
    await api.db.query(`DELETE FROM readings WHERE device_id = $1 AND time = $2`, [
      ids.oximeter,
      new Date(T0 - MINUTE),
    ]);
  });

  it('filters by code and date, sorts newest first, and reads one Observation by id', async () => {
    const base = `/fhir/R4/Observation?patient=${ids.patientP}`;
    const bp = bodyOf<Bundle>(await get('admin', `${base}&code=http://loinc.org|85354-9`).expect(200));
    expect(bp.total).toBe(3);
    const window = bodyOf<Bundle>(
      await get(
        'admin',
        `${base}&code=http://loinc.org|8867-4,http://loinc.org|59408-5&date=ge${new Date(T0 + 10 * MINUTE).toISOString()}&date=lt${new Date(T0 + 20 * MINUTE).toISOString()}&_sort=-date&_count=5`,
      ).expect(200),
    );
    // 10 minutes of heart rate and SpO2 from the oximeter; no cuff reading falls in them.
    expect(window.total).toBe(20);
    expect(window.entry).toHaveLength(5);
    const first = window.entry?.[0].resource as Observation;
    expect(first.effectiveDateTime).toBe(new Date(T0 + 19 * MINUTE).toISOString());
    const read = bodyOf<Observation>(await get('patient', `/fhir/R4/Observation/${first.id}`).expect(200));
    expect(read).toEqual(first);
    const none = bodyOf<Bundle>(await get('admin', `${base}&code=http://snomed.info/sct|8867-4`).expect(200));
    expect(none.total).toBe(0);
  });

  it('lists and reads Devices with type, serial, model and decommissioning status', async () => {
    const bundle = bodyOf<Bundle>(await get('patient', `/fhir/R4/Device?patient=Patient/${ids.patientP}`).expect(200));
    expectValid(bundle);
    expect(bundle.total).toBe(3);
    const oximeter = bodyOf<Device>(await get('inTeam', `/fhir/R4/Device/${ids.oximeter}`).expect(200));
    expectValid(oximeter);
    expect(oximeter).toMatchObject({
      status: 'active',
      serialNumber: 'OX-1',
      modelNumber: 'Oxi 2',
      type: { coding: [{ code: 'pulse_oximeter' }] },
    });
    const retired = bodyOf<Device>(await get('inTeam', `/fhir/R4/Device/${ids.retired}`).expect(200));
    expect(retired.status).toBe('inactive');
  });

  it('gives active alerts as Flags', async () => {
    const bundle = bodyOf<Bundle>(
      await get('inTeam', `/fhir/R4/Flag?patient=${ids.patientP}&status=active`).expect(200),
    );
    expectValid(bundle);
    expect(bundle.total).toBe(1);
    const flag = bodyOf<Flag>(await get('inTeam', `/fhir/R4/Flag/${ids.alert}`).expect(200));
    expectValid(flag);
    expect(flag).toMatchObject({
      status: 'active',
      code: { coding: [{ code: 'spo2.low' }] },
      author: { reference: `Device/${ids.oximeter}` },
    });
    const resolved = bodyOf<Bundle>(
      await get('inTeam', `/fhir/R4/Flag?patient=${ids.patientP}&status=inactive`).expect(200),
    );
    expect(resolved.total).toBe(0);
  });

  describe('access: the same tokens and visibility as REST', () => {
    const visibleToP = { admin: 200, inTeam: 200, outOfTeam: 404, patient: 200, otherPatient: 404, anonymous: 401 };
    const routes: [string, () => string, Record<Caller, number>][] = [
      [
        'GET /fhir/R4/metadata',
        () => '/fhir/R4/metadata',
        { admin: 200, inTeam: 200, outOfTeam: 200, patient: 200, otherPatient: 200, anonymous: 200 },
      ],
      ['GET /fhir/R4/Patient/:id', () => `/fhir/R4/Patient/${ids.patientP}`, visibleToP],
      ['GET /fhir/R4/Device/:id', () => `/fhir/R4/Device/${ids.oximeter}`, visibleToP],
      ['GET /fhir/R4/Flag/:id', () => `/fhir/R4/Flag/${ids.alert}`, visibleToP],
      [
        'GET /fhir/R4/Observation/:id',
        () => `/fhir/R4/Observation/hr-${ids.oximeter.replace(/-/g, '')}-${T0.toString(36)}`,
        visibleToP,
      ],
    ];
    const cases = routes.flatMap(([name, path, expected]) => CALLERS.map((c) => [name, c, expected[c], path] as const));
    it.each(cases)('%s as %s → %i', async (_name, caller, status, path) => {
      const res = await get(caller, path());
      expect(res.status).toBe(status);
      expect(res.headers['content-type']).toMatch(/^application\/fhir\+json/);
      if (status >= 400) {
        const outcome = bodyOf<OperationOutcome>(res);
        expectValid(outcome);
        expect(outcome.issue[0]).toMatchObject({ severity: 'error', code: status === 401 ? 'login' : 'not-found' });
      }
    });

    it.each(CALLERS.filter((c) => c !== 'anonymous'))('searches as %s see only visible patients', async (caller) => {
      const visible = ['admin', 'inTeam', 'patient'].includes(caller);
      for (const type of ['Observation', 'Device', 'Flag']) {
        const bundle = bodyOf<Bundle>(await get(caller, `/fhir/R4/${type}?patient=${ids.patientP}`).expect(200));
        expect(bundle.total === 0).toBe(!visible);
      }
    });

    it('answers a hidden resource exactly like an unknown one', async () => {
      const hidden = await get('outOfTeam', `/fhir/R4/Patient/${ids.patientP}`);
      const unknownId = randomUUID();
      const unknown = await get('outOfTeam', `/fhir/R4/Patient/${unknownId}`);
      expect(hidden.status).toBe(404);
      expect(JSON.stringify(hidden.body).split(ids.patientP).join('<id>')).toBe(
        JSON.stringify(unknown.body).split(unknownId).join('<id>'),
      );
    });

    it('refuses bad searches, writes and unknown types with an OperationOutcome', async () => {
      const bad = await get('admin', `/fhir/R4/Observation?patient=${ids.patientP}&date=sa2026`);
      expect(bad.status).toBe(400);
      expect(bodyOf<OperationOutcome>(bad).issue[0].code).toBe('invalid');
      expect((await get('admin', '/fhir/R4/Observation?code=8867-4')).status).toBe(400);
      expect((await get('admin', `/fhir/R4/Observation?patient=${ids.patientP}&_cursor=nonsense`)).status).toBe(400);
      expect((await get('admin', `/fhir/R4/Observation?patient=${ids.patientP}&foo=1`)).status).toBe(400);
      const write = await api.http.post('/fhir/R4/Patient').set('Authorization', `Bearer ${token.admin}`).send({});
      expect(write.status).toBe(405);
      expect(bodyOf<OperationOutcome>(write).resourceType).toBe('OperationOutcome');
      const unknownType = await get('admin', '/fhir/R4/Encounter/1');
      expect(unknownType.status).toBe(404);
      expect(bodyOf<OperationOutcome>(unknownType).issue[0].code).toBe('not-supported');
    });

    it('audits FHIR reads like REST reads', async () => {
      await get('outOfTeam', `/fhir/R4/Patient/${ids.patientQ}`).expect(200);
      await get('outOfTeam', `/fhir/R4/Observation?patient=${ids.patientQ}`).expect(200);
      const entries = bodyOf<{ action: string; actorRole?: string; details?: { via?: string } }[]>(
        await api.http
          .get(`/api/v1/audit?patientId=${ids.patientQ}`)
          .set('Authorization', `Bearer ${token.admin}`)
          .expect(200),
      );
      const fhir = entries.filter((e) => e.details?.via === 'fhir');
      expect(fhir.map((e) => e.action)).toEqual(expect.arrayContaining(['patient.read', 'readings.read']));
      expect(fhir.every((e) => e.actorRole === 'clinician')).toBe(true);
    });
  });

  it('is read by a maintained FHIR client: Patient → Observation search with paging → Device', async () => {
    const server = api.app.getHttpServer();
    if (!server.listening) await api.app.listen(0, '127.0.0.1');
    const { port } = server.address() as AddressInfo;
    const client = new Client({ baseUrl: `http://127.0.0.1:${port}/fhir/R4`, bearerToken: token.inTeam });
    const found = (await client.search({
      resourceType: 'Patient',
      searchParams: { identifier: 'MRN-P' },
    })) as unknown as Bundle;
    const patient = found.entry?.[0].resource as Patient;
    expect(patient.id).toBe(ids.patientP);
    let bundle = (await client.search({
      resourceType: 'Observation',
      searchParams: { patient: `Patient/${patient.id}`, _count: 100 },
    })) as unknown as Bundle | undefined;
    const observations: Observation[] = [];
    while (bundle) {
      observations.push(...(bundle.entry ?? []).map((e) => e.resource as Observation));
      bundle = (await client.nextPage({ bundle: bundle as never })) as unknown as Bundle | undefined;
    }
    expect(observations).toHaveLength(EXPECTED_TOTAL);
    const deviceRef = observations.find((o) => o.code.coding?.[0].code === '85354-9')?.device?.reference ?? '';
    const device = (await client.read({ resourceType: 'Device', id: deviceRef.split('/')[1] })) as Device;
    expect(device).toMatchObject({ id: ids.cuff, type: { coding: [{ code: 'bp_monitor' }] } });
  });

  describe('Bulk Data export of a care team', () => {
    interface Manifest {
      transactionTime: string;
      requiresAccessToken: boolean;
      output: { type: string; url: string; count: number }[];
      error: unknown[];
    }

    async function exportAs(caller: Caller, query = ''): Promise<Manifest> {
      const kick = await get(caller, `/fhir/R4/Group/${ids.clinicianA}/$export${query}`).set('Prefer', 'respond-async');
      expect(kick.status).toBe(202);
      const status = new URL(String(kick.headers['content-location']));
      return waitFor(
        async () => {
          const res = await get(caller, status.pathname);
          if (res.status === 202) return undefined;
          expect(res.status).toBe(200);
          return bodyOf<Manifest>(res);
        },
        'the export',
        30_000,
      );
    }

    /**
     * A file, with Accept-Encoding as given: gzip answers the stored gzip bytes with
     * Content-Encoding (superagent decompresses them), anything else the NDJSON itself.
     */
    async function lines(caller: Caller, url: string, acceptEncoding = 'gzip, deflate'): Promise<Resource[]> {
      const res = await get(caller, new URL(url).pathname)
        .set('Accept-Encoding', acceptEncoding)
        .buffer(true)
        .parse((response, done) => {
          let text = '';
          response.on('data', (chunk: Buffer) => (text += chunk.toString('utf8')));
          response.on('end', () => done(null, text));
        });
      expect(res.status).toBe(200);
      expect(res.headers['content-type']).toMatch(/^application\/fhir\+ndjson/);
      expect(res.headers.vary).toMatch(/Accept-Encoding/);
      expect(res.headers['content-encoding']).toBe(/(^|,)\s*gzip\s*(,|$)/.test(acceptEncoding) ? 'gzip' : undefined);
      return (res.body as string)
        .split('\n')
        .filter((l) => l !== '')
        .map((l) => JSON.parse(l) as Resource);
    }

    it('exports every resource of the team as NDJSON, valid R4', async () => {
      const manifest = await exportAs('inTeam');
      expect(manifest.requiresAccessToken).toBe(true);
      expect(Object.fromEntries(manifest.output.map((o) => [o.type, o.count]))).toEqual({
        Patient: 1,
        Device: 3,
        Observation: EXPECTED_TOTAL,
        Flag: 1,
      });
      for (const output of manifest.output) {
        const resources = await lines('inTeam', output.url);
        expect(resources).toHaveLength(output.count);
        for (const resource of resources) {
          expect(resource.resourceType).toBe(output.type);
          expectValid(resource);
        }
        // The same NDJSON, decompressed by the server, for a client that does not take gzip.
        expect(await lines('inTeam', output.url, 'identity')).toEqual(resources);
      }
      // Another clinician cannot read someone else's export, as if it did not exist.
      const other = await get('outOfTeam', new URL(manifest.output[0].url).pathname);
      expect(other.status).toBe(404);
    });

    it('sends the stored gzip bytes only to a client that accepts gzip', async () => {
      const manifest = await exportAs('inTeam', '?_type=Observation');
      const path = new URL(manifest.output[0].url).pathname;
      const server = api.app.getHttpServer();
      if (!server.listening) await api.app.listen(0, '127.0.0.1');
      const { port } = server.address() as AddressInfo;
      // node:http, not supertest: superagent would unzip the body, hiding what the server sent.
      const raw = (acceptEncoding?: string) =>
        new Promise<{ headers: IncomingHttpHeaders; body: Buffer }>((resolve, reject) => {
          const headers = {
            Authorization: `Bearer ${token.inTeam}`,
            ...(acceptEncoding && { 'Accept-Encoding': acceptEncoding }),
          };
          httpGet({ host: '127.0.0.1', port, path, headers }, (res) => {
            const chunks: Buffer[] = [];
            res.on('data', (chunk: Buffer) => chunks.push(chunk));
            res.on('end', () =>
              res.statusCode === 200
                ? resolve({ headers: res.headers, body: Buffer.concat(chunks) })
                : reject(new Error(`status ${res.statusCode}`)),
            );
          }).on('error', reject);
        });
      const plain = await raw();
      expect(plain.headers['content-encoding']).toBeUndefined();
      const ndjson = plain.body.toString('utf8');
      expect(ndjson.split('\n').filter((l) => l !== '')).toHaveLength(EXPECTED_TOTAL);
      // q=0 refuses gzip; `*` accepts it.
      expect((await raw('gzip;q=0, identity')).headers['content-encoding']).toBeUndefined();
      const zipped = await raw('*');
      expect(zipped.headers['content-encoding']).toBe('gzip');
      expect(Number(zipped.headers['content-length'])).toBe(zipped.body.length);
      expect(gunzipSync(zipped.body).toString('utf8')).toBe(ndjson);
    });

    it('honours _type and _since (readings stored since then)', async () => {
      const since = new Date(T0 + 60 * MINUTE).toISOString();
      const manifest = await exportAs('admin', `?_type=Observation&_since=${since}`);
      // Received one second after measured: minutes 60–119 of the oximeter, two cuff readings, the lone systolic.
      expect(manifest.output.map((o) => [o.type, o.count])).toEqual([['Observation', 120 + 2 * 2 + 1]]);
    });

    it('exports readings over many weeks exactly once, a window at a time, across window boundaries', async () => {
      // Observations are exported a week of the whole group at a time (FhirExportService): readings on
      // both sides of a boundary, one exactly on it, and one three weeks later, isolated by `_since`.
      const WEEK = 7 * 86_400_000;
      const boundary = (Math.floor((T0 - MINUTE) / WEEK) + 2) * WEEK;
      const received = T0 + 40 * 86_400_000;
      const later = (deviceId: string, metric: Reading['metric'], value: number, time: number): Reading => ({
        deviceId,
        patientId: ids.patientP,
        metric,
        value,
        time,
        receivedAt: received,
      });
      const added = [
        later(ids.oximeter, 'heart_rate', 61, boundary - 1),
        later(ids.cuff, 'systolic_bp', 131, boundary),
        later(ids.cuff, 'diastolic_bp', 85, boundary),
        later(ids.oximeter, 'spo2', 97, boundary + 3 * WEEK + 5 * MINUTE),
      ];
      await api.app.get(ReadingPartitions).ensureFor(added.map((a) => a.time));
      await api.app.get(ReadingRepository).insertBatch(added);
      try {
        const manifest = await exportAs('admin', `?_type=Observation&_since=${new Date(received).toISOString()}`);
        const resources = (await lines('admin', manifest.output[0].url)).filter(
          (o): o is Observation => o.resourceType === 'Observation',
        );
        expect(resources.map((o) => [o.code.coding?.[0].code, o.effectiveDateTime]).sort()).toEqual(
          [
            ['8867-4', new Date(boundary - 1).toISOString()],
            ['85354-9', new Date(boundary).toISOString()],
            ['59408-5', new Date(boundary + 3 * WEEK + 5 * MINUTE).toISOString()],
          ].sort(),
        );
        expect(manifest.output[0].count).toBe(3);
      } finally {
        await api.db.query(`DELETE FROM readings WHERE received_at = $1`, [new Date(received)]);
      }
    });

    it('refuses what Bulk Data refuses, as OperationOutcome', async () => {
      const sync = await get('inTeam', `/fhir/R4/Group/${ids.clinicianA}/$export`);
      expect(sync.status).toBe(400);
      const as = async (caller: Caller, group = ids.clinicianA, query = '') =>
        (await get(caller, `/fhir/R4/Group/${group}/$export${query}`).set('Prefer', 'respond-async')).status;
      expect(await as('outOfTeam')).toBe(404);
      expect(await as('patient')).toBe(403);
      expect(await as('anonymous')).toBe(401);
      expect(await as('admin', randomUUID())).toBe(404);
      expect(await as('inTeam', ids.clinicianA, '?_type=Encounter')).toBe(400);
    });
  });

  // Last: it adds a device and readings the tests above count.
  it('reads an Observation by id after an operator moved its device to another patient (device_patients)', async () => {
    const device = await provision('pulse_oximeter');
    const t = T0 + 400 * MINUTE;
    const reading = (patientId: string, time: number): Reading => ({
      deviceId: device,
      patientId,
      metric: 'heart_rate',
      value: 64,
      time,
      receivedAt: time,
    });
    await api.app.get(ReadingRepository).insertBatch([reading(ids.patientP, t)]);
    await api.db.query(`UPDATE devices SET patient_id = $2 WHERE id = $1`, [device, ids.patientQ]);
    await api.app.get(ReadingRepository).insertBatch([reading(ids.patientQ, t + MINUTE)]);
    const id = (time: number) => `hr-${device.replace(/-/g, '')}-${time.toString(36)}`;
    const before = bodyOf<Observation>(await get('admin', `/fhir/R4/Observation/${id(t)}`).expect(200));
    const after = bodyOf<Observation>(await get('admin', `/fhir/R4/Observation/${id(t + MINUTE)}`).expect(200));
    expect([before.subject?.reference, after.subject?.reference]).toEqual([
      `Patient/${ids.patientP}`,
      `Patient/${ids.patientQ}`,
    ]);
  });
});
