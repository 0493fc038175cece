import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import request from 'supertest';
import type { Principal } from '@lantern/auth';
import type { MetricKey, Reading } from '@lantern/domain';
import { ReadingRepository, ReadingRollupService } from '@lantern/storage';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { TestData } from '../support/builders.js';
import { startApi, type ApiFixture } from '../support/boot.js';
import { ageRollupLog } from '../storage/readings-fixture.js';

const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;
const BUCKET_MS = { '1m': MIN, '5m': 5 * MIN, '15m': 15 * MIN, '1h': HOUR, '1d': DAY } as const;

interface PageBody {
  readings: { ts: string; metric: string; value: number; deviceId: string; unit: string }[];
  nextCursor?: string;
}
interface BucketBody {
  ts: string;
  min: number;
  max: number;
  avg: number;
  count: number;
}
interface ErrorBody {
  error: string;
  message: string;
}

/** Deterministic pseudo-random numbers, so a failure reproduces. */
function seeded(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1_664_525 + 1_013_904_223) >>> 0;
    return s / 2 ** 32;
  };
}

/** The reference computation: buckets straight from raw rows, in plain TypeScript. */
function expectedBuckets(
  rows: readonly Reading[],
  metric: MetricKey,
  from: number,
  to: number,
  width: number,
): { ts: string; min: number; max: number; avg: number; count: number }[] {
  const acc = new Map<number, number[]>();
  for (const r of rows) {
    if (r.metric !== metric) continue;
    const start = Math.floor(r.time / width) * width;
    if (start < Math.ceil(from / width) * width || start >= Math.ceil(to / width) * width) continue;
    const values = acc.get(start) ?? [];
    values.push(r.value);
    acc.set(start, values);
  }
  return [...acc.keys()]
    .sort((a, b) => a - b)
    .map((start) => {
      const v = acc.get(start)!;
      return {
        ts: new Date(start).toISOString(),
        min: Math.min(...v),
        max: Math.max(...v),
        avg: v.reduce((a, b) => a + b, 0) / v.length,
        count: v.length,
      };
    });
}

describe('readings REST', () => {
  let db: TestDatabase;
  let api: ApiFixture;
  let people: TestData;
  let patient: string;
  let foreignPatient: string;
  let cgm: string;
  let oximeter: string;
  let clinician: Principal;
  let stranger: Principal;
  let patientUser: Principal;
  const rows: Reading[] = [];
  // Two whole days ending at the last full hour, so every bucket size has complete buckets.
  const end = Math.floor(Date.now() / HOUR) * HOUR - HOUR;
  const start = end - 2 * DAY;

  /** One login per user, made once the api runs. */
  const tokens = new Map<string, string>();

  const get = (principal: Principal | undefined, path: string): request.Test => {
    const req = request(api.app.getHttpServer()).get(`/api/v1${path}`);
    return principal ? req.set('Authorization', `Bearer ${tokens.get(principal.userId)}`) : req;
  };

  beforeAll(async () => {
    db = await createTestDatabase();
    people = new TestData(db.dataSource);
    patient = await people.patient('Ada');
    foreignPatient = await people.patient('Bob');
    // The CGM was put on at the start of the period, the oximeter 6 hours before its end.
    cgm = await people.device(patient, 'cgm', { createdAt: new Date(start) });
    oximeter = await people.device(patient, 'pulse_oximeter', { createdAt: new Date(end - 6 * HOUR) });
    clinician = await people.user('clinician');
    stranger = await people.user('clinician');
    patientUser = await people.user('patient', patient);
    await people.careTeam(patient, clinician.userId);
    await people.careTeam(foreignPatient, stranger.userId);

    const random = seeded(42);
    // Glucose every 5 minutes with gaps (about 10 % missing), spanning hypo- and hyperglycaemia.
    for (let t = start; t < end; t += 5 * MIN) {
      if (random() < 0.1) continue;
      rows.push({
        deviceId: cgm,
        patientId: patient,
        metric: 'glucose',
        value: Math.round((40 + random() * 280) * 10) / 10,
        time: t,
        receivedAt: t + 1000,
      });
    }
    // Heart rate every 20 s for the last 3 hours (the oximeter's expected interval is 1 s: low coverage on purpose).
    for (let t = end - 3 * HOUR; t < end; t += 20_000) {
      rows.push({
        deviceId: oximeter,
        patientId: patient,
        metric: 'heart_rate',
        value: 55 + Math.floor(random() * 60),
        time: t,
        receivedAt: t + 1000,
      });
    }
    // Another patient's readings must never show up.
    rows.push({
      deviceId: randomUUID(),
      patientId: foreignPatient,
      metric: 'glucose',
      value: 100,
      time: start + MIN,
      receivedAt: start + MIN,
    });

    api = await startApi({}, { database: db });
    for (const principal of [clinician, stranger, patientUser])
      tokens.set(principal.userId, await api.token(principal));
    const repository = api.app.get(ReadingRepository);
    // Most readings are rolled up; the newest hour is inserted afterwards and stays pending, as in production
    // between two rollup runs: the bucketed answers must include it all the same.
    const settled = rows.filter((r) => r.time < end - HOUR);
    const pending = rows.filter((r) => r.time >= end - HOUR);
    await repository.insertBatch(settled);
    await ageRollupLog(db.dataSource);
    await api.app.get(ReadingRollupService).run();
    await repository.insertBatch(pending);
  });

  afterAll(async () => {
    await api?.close();
    await db?.drop();
  });

  const mine = (metric?: MetricKey): Reading[] =>
    rows
      .filter((r) => r.patientId === patient && (metric === undefined || r.metric === metric))
      .sort((a, b) => a.time - b.time || a.metric.localeCompare(b.metric));

  describe('raw readings', () => {
    it('pages through every reading in time order with the cursor', async () => {
      const from = new Date(start).toISOString();
      const to = new Date(end).toISOString();
      const seen: { ts: string; metric: string; value: number; deviceId: string; unit: string }[] = [];
      let cursor: string | undefined;
      let pages = 0;
      do {
        const query = new URLSearchParams({ from, to, limit: '250', ...(cursor ? { cursor } : {}) });
        const res = await get(clinician, `/patients/${patient}/readings?${query.toString()}`).expect(200);
        const page = res.body as PageBody;
        seen.push(...page.readings);
        expect(page.readings.length).toBeLessThanOrEqual(250);
        cursor = page.nextCursor;
        pages++;
      } while (cursor);
      const expected = mine();
      expect(pages).toBe(Math.ceil(expected.length / 250));
      expect(seen.map((r) => [r.ts, r.metric, r.value, r.deviceId])).toEqual(
        expected.map((r) => [new Date(r.time).toISOString(), r.metric, r.value, r.deviceId]),
      );
      expect(seen.find((r) => r.metric === 'glucose')!.unit).toBe('mg/dL');
    });

    it('filters by metric and period', async () => {
      const from = end - 2 * HOUR;
      const to = end - HOUR;
      const res = await get(
        clinician,
        `/patients/${patient}/readings?metric=heart_rate&from=${new Date(from).toISOString()}&to=${new Date(to).toISOString()}&limit=10000`,
      ).expect(200);
      const expected = mine('heart_rate').filter((r) => r.time >= from && r.time < to);
      const page = res.body as PageBody;
      expect(page.readings).toHaveLength(expected.length);
      expect(page.nextCursor).toBeUndefined();
      expect(page.readings.every((r) => r.metric === 'heart_rate')).toBe(true);
    });

    it('refuses bad queries with 400', async () => {
      await get(clinician, `/patients/${patient}/readings?limit=10001`).expect(400);
      await get(clinician, `/patients/${patient}/readings?limit=0`).expect(400);
      await get(clinician, `/patients/${patient}/readings?metric=cholesterol`).expect(400);
      await get(clinician, `/patients/${patient}/readings?from=yesterday`).expect(400);
      await get(clinician, `/patients/${patient}/readings?cursor=garbage`).expect(400);
      await get(clinician, `/patients/${patient}/readings?bucket=1h`).expect(400);
      await get(clinician, `/patients/${patient}/readings?bucket=2h&metric=glucose`).expect(400);
      await get(clinician, `/patients/${patient}/readings?from=2026-01-02T00:00:00Z&to=2026-01-01T00:00:00Z`).expect(
        400,
      );
      await get(clinician, `/patients/not-a-uuid/readings`).expect(400);
    });
  });

  describe('bucketed readings', () => {
    for (const bucket of ['1m', '5m', '15m', '1h', '1d'] as const) {
      it(`match buckets computed from the raw rows (${bucket}), the newest, not yet rolled-up hour included`, async () => {
        const metric: MetricKey = bucket === '1m' ? 'heart_rate' : 'glucose';
        // An unaligned start: only buckets starting inside the period are returned.
        const from = start + 7 * MIN;
        const to = end;
        const res = await get(
          clinician,
          `/patients/${patient}/readings?metric=${metric}&bucket=${bucket}&from=${new Date(from).toISOString()}&to=${new Date(to).toISOString()}`,
        ).expect(200);
        const expected = expectedBuckets(mine(metric), metric, from, to, BUCKET_MS[bucket]);
        const buckets = res.body as BucketBody[];
        expect(buckets.length).toBe(expected.length);
        expect(buckets.length).toBeGreaterThan(0);
        buckets.forEach((b, i) => {
          const e = expected[i];
          expect(b.ts).toBe(e.ts);
          expect(b.count).toBe(e.count);
          expect(b.min).toBe(e.min);
          expect(b.max).toBe(e.max);
          expect(b.avg).toBeCloseTo(e.avg, 9);
        });
        // The pending hour's readings are in.
        const lastHourCount = buckets.filter((b) => Date.parse(b.ts) >= end - HOUR).reduce((n, b) => n + b.count, 0);
        if (BUCKET_MS[bucket] <= HOUR)
          expect(lastHourCount).toBe(mine(metric).filter((r) => r.time >= end - HOUR).length);
      });
    }
  });

  describe('latest', () => {
    it('gives the newest value of every metric with its time, device and provenance', async () => {
      const asked = Date.now();
      const res = await get(patientUser, `/patients/${patient}/latest`).expect(200);
      const newest = (metric: MetricKey): Reading => mine(metric).at(-1)!;
      // Both devices' newest readings are over an hour old, beyond both types' signal-loss times
      // (CGM 20 min, oximeter 2 min): each value is its device's last known one, not a current one.
      expect(res.body).toEqual(
        expect.arrayContaining(
          (['glucose', 'heart_rate'] as const).map((m) => ({
            metric: m,
            value: newest(m).value,
            ts: new Date(newest(m).time).toISOString(),
            receivedAt: new Date(newest(m).receivedAt).toISOString(),
            deviceId: newest(m).deviceId,
            unit: m === 'glucose' ? 'mg/dL' : '/min',
            ageSec: expect.any(Number),
            monitoring: 'lost',
            since: new Date(newest(m).time).toISOString(),
            stale: true,
          })),
        ),
      );
      expect(res.body).toHaveLength(2);
      for (const r of res.body as { ts: string; ageSec: number }[]) {
        expect(r.ageSec).toBeGreaterThanOrEqual(Math.floor((asked - Date.parse(r.ts)) / 1000));
        expect(r.ageSec).toBeLessThanOrEqual(Math.ceil((Date.now() - Date.parse(r.ts)) / 1000));
      }
    });
  });

  describe('summary', () => {
    it('matches statistics, coverage and CGM figures computed from the raw rows', async () => {
      const from = start;
      const to = end;
      const res = await get(
        clinician,
        `/patients/${patient}/summary?from=${new Date(from).toISOString()}&to=${new Date(to).toISOString()}`,
      ).expect(200);
      const byMetric = new Map(
        (res.body as { metrics: (Record<string, unknown> & { metric: string })[] }).metrics.map((m) => [m.metric, m]),
      );

      const glucose = mine('glucose').map((r) => r.value);
      const n = glucose.length;
      const mean = glucose.reduce((a, b) => a + b, 0) / n;
      const sd = Math.sqrt(glucose.reduce((a, v) => a + (v - mean) ** 2, 0) / (n - 1));
      const pct = (pred: (v: number) => boolean): number => (glucose.filter(pred).length / n) * 100;
      const g = byMetric.get('glucose')!;
      expect(g.count).toBe(n);
      expect(g.min).toBe(Math.min(...glucose));
      expect(g.max).toBe(Math.max(...glucose));
      expect(g.mean as number).toBeCloseTo(mean, 9);
      // The CGM was on for the whole two days: one reading expected every 5 minutes.
      expect(g.expectedCount).toBe((2 * DAY) / (5 * MIN));
      expect(g.coverage as number).toBeCloseTo(n / 576, 9);
      const cgmFigures = g.glucose as Record<string, number>;
      expect(cgmFigures.timeInRange).toBeCloseTo(
        pct((v) => v >= 70 && v <= 180),
        9,
      );
      expect(cgmFigures.timeBelow70).toBeCloseTo(
        pct((v) => v < 70),
        9,
      );
      expect(cgmFigures.timeBelow54).toBeCloseTo(
        pct((v) => v < 54),
        9,
      );
      expect(cgmFigures.timeAbove180).toBeCloseTo(
        pct((v) => v > 180),
        9,
      );
      expect(cgmFigures.timeAbove250).toBeCloseTo(
        pct((v) => v > 250),
        9,
      );
      expect(cgmFigures.meanGlucose).toBeCloseTo(mean, 9);
      expect(cgmFigures.gmi).toBeCloseTo(3.31 + 0.02392 * mean, 9);
      expect(cgmFigures.cv).toBeCloseTo((sd / mean) * 100, 6);

      const hr = mine('heart_rate').map((r) => r.value);
      const h = byMetric.get('heart_rate')!;
      expect(h.count).toBe(hr.length);
      expect(h.mean as number).toBeCloseTo(hr.reduce((a, b) => a + b, 0) / hr.length, 9);
      // The oximeter existed for the last 6 hours only, expected every second.
      expect(h.expectedCount).toBe(6 * 3600);
      expect(h.coverage as number).toBeCloseTo(hr.length / (6 * 3600), 9);
      expect(h.glucose).toBeUndefined();

      // A metric the oximeter should report but never did: present, with zero coverage.
      const spo2 = byMetric.get('spo2')!;
      expect(spo2).toMatchObject({ count: 0, mean: null, coverage: 0 });
      expect(byMetric.has('steps')).toBe(false);
    });
  });

  describe('OpenAPI', () => {
    it('documents the three routes with their query parameters', async () => {
      const res = await request(api.app.getHttpServer()).get('/api/docs-json').expect(200);
      const paths = (res.body as { paths: Record<string, { get?: { parameters?: { name: string }[] } }> }).paths;
      expect(paths['/api/v1/patients/{id}/readings']?.get?.parameters?.map((p) => p.name).sort()).toEqual([
        'bucket',
        'cursor',
        'from',
        'id',
        'limit',
        'metric',
        'to',
      ]);
      expect(paths['/api/v1/patients/{id}/latest']?.get).toBeDefined();
      expect(paths['/api/v1/patients/{id}/summary']?.get?.parameters?.map((p) => p.name).sort()).toEqual([
        'from',
        'id',
        'to',
      ]);
    });
  });

  describe('access', () => {
    it("answers another care team's patient exactly like an unknown one, and 401 without a token", async () => {
      for (const path of ['readings', 'latest', 'summary']) {
        const foreign = (await get(clinician, `/patients/${foreignPatient}/${path}`).expect(404)).body as ErrorBody;
        const unknownId = randomUUID();
        const unknown = (await get(clinician, `/patients/${unknownId}/${path}`).expect(404)).body as ErrorBody;
        expect(foreign.error).toBe(unknown.error);
        expect(foreign.message.replace(foreignPatient, 'ID')).toBe(unknown.message.replace(unknownId, 'ID'));
        await get(patientUser, `/patients/${foreignPatient}/${path}`).expect(404);
        await get(undefined, `/patients/${patient}/${path}`).expect(401);
      }
      await get(stranger, `/patients/${foreignPatient}/latest`).expect(200);
    });

    it('records every read in the audit log', async () => {
      const before: { n: number }[] = await db.dataSource.query(
        `SELECT count(*)::int AS n FROM audit_log WHERE patient_id = $1 AND actor_id = $2`,
        [patient, patientUser.userId],
      );
      await get(patientUser, `/patients/${patient}/readings`).expect(200);
      await get(patientUser, `/patients/${patient}/summary`).expect(200);
      const after: { action: string }[] = await db.dataSource.query(
        `SELECT action FROM audit_log WHERE patient_id = $1 AND actor_id = $2 ORDER BY id`,
        [patient, patientUser.userId],
      );
      expect(after.length - before[0].n).toBe(2);
      expect(after.slice(-2).map((a) => a.action)).toEqual(['readings.read', 'readings.summary']);
    });
  });
});
