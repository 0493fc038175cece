import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { get as httpGet, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createGunzip } from 'node:zlib';
import { ReadingPartitions } from '@lantern/storage';
import { ADMIN_EMAIL, ADMIN_PASSWORD, startApi, type ApiFixture } from '../api/api-fixture.js';
import { waitFor } from '../support/wait.js';

/**
 * Measures a Bulk Data export's time and the process's peak RSS (api and test share one process).
 * Off by default (it writes millions of rows): FHIR_EXPORT_MEASURE=1, with FHIR_EXPORT_PATIENTS
 * patients (default 100) × FHIR_EXPORT_DAYS days (default 9) of one heart-rate reading a minute.
 * FHIR_EXPORT_DAYS may list growing sizes (`9,45`): the database is seeded up to each in turn and
 * exported each time, so one run (one seeding) shows memory staying flat as the export grows
 * (time grows linearly). Each export is downloaded gzip-compressed and counted line by line.
 */
const enabled = process.env.FHIR_EXPORT_MEASURE === '1';
const PATIENTS = Number(process.env.FHIR_EXPORT_PATIENTS ?? 100);
const STEPS = (process.env.FHIR_EXPORT_DAYS ?? '9').split(',').map(Number);
const START = Date.UTC(2026, 0, 1);
const DAY = 86_400_000;
const HOURS = 4 * 3_600_000;

let api: ApiFixture;
let token = '';
let clinicianId = '';
let seededDays = 0;

/** Server-side generation of one heart-rate reading a minute for every device, up to `days` days. */
async function seedUpTo(days: number): Promise<void> {
  const started = Date.now();
  const from = seededDays;
  await api.app
    .get(ReadingPartitions)
    .ensureFor(Array.from({ length: days - from }, (_, d) => START + (from + d) * DAY));
  for (let d = from; d < days; d++) {
    await api.db.query(
      `INSERT INTO readings (device_id, metric, time, patient_id, value, received_at)
       SELECT d.id, 'heart_rate', t, d.patient_id, 60 + (extract(minute FROM t)::int % 40), t
         FROM devices d CROSS JOIN generate_series($1::timestamptz, $1::timestamptz + interval '1 day' - interval '1 minute', interval '1 minute') t`,
      [new Date(START + d * DAY)],
    );
    if ((d + 1) % 10 === 0) console.log(`seeded day ${d + 1} of ${days} after ${Date.now() - started} ms`);
  }
  seededDays = days;
  await api.db.query('ANALYZE readings');
  console.log(
    `seeded ${PATIENTS * (days - from) * 1440} readings (days ${from + 1}–${days}) in ${Date.now() - started} ms`,
  );
}

(enabled ? describe : describe.skip)('Bulk export in bounded memory', () => {
  beforeAll(async () => {
    api = await startApi();
    token = await api.login(ADMIN_EMAIL, ADMIN_PASSWORD);
    const res = await api.http
      .post('/api/v1/users')
      .set('Authorization', `Bearer ${token}`)
      .send({ email: 'team@clinic.test', password: 'a-long-password-1', role: 'clinician', displayName: 'Team' });
    clinicianId = (res.body as { id: string }).id;
    // Patients, their care team (the clinician's Group), one device each.
    await api.db.query(
      `WITH p AS (
         INSERT INTO patients (display_name, created_by) SELECT 'Patient ' || i, $1 FROM generate_series(1, $2) i RETURNING id)
       , t AS (INSERT INTO care_team_members (patient_id, clinician_id, added_by) SELECT id, $1, $1 FROM p)
       INSERT INTO devices (patient_id, type, secret_hash) SELECT id, 'wearable_patch', 'x' FROM p`,
      [clinicianId, PATIENTS],
    );
  }, 120_000);

  afterAll(async () => {
    // Drops the measurement's database (tens of GB at full size).
    await api?.close();
  });

  it.each(STEPS)(
    `exports every reading of ${PATIENTS} patients × %i days, measuring time and peak RSS`,
    async (days) => {
      await seedUpTo(days);
      const server = api.app.getHttpServer();
      if (!server.listening) await api.app.listen(0, '127.0.0.1');
      const { port } = server.address() as AddressInfo;
      const base = `http://127.0.0.1:${port}`;
      // A full-size export outlives the access token (ACCESS_TOKEN_TTL): log in again when it is refused.
      const authorized = async (url: string, init: RequestInit = {}): Promise<Response> => {
        const res = await fetch(url, { ...init, headers: { ...init.headers, Authorization: `Bearer ${token}` } });
        if (res.status !== 401) return res;
        token = await api.login(ADMIN_EMAIL, ADMIN_PASSWORD);
        return fetch(url, { ...init, headers: { ...init.headers, Authorization: `Bearer ${token}` } });
      };
      global.gc?.();
      const rssBefore = process.memoryUsage().rss;
      let peak = rssBefore;
      let heapPeak = 0;
      const sampler = setInterval(() => {
        const usage = process.memoryUsage();
        peak = Math.max(peak, usage.rss);
        heapPeak = Math.max(heapPeak, usage.heapUsed);
      }, 20);
      const started = Date.now();
      const kick = await authorized(`${base}/fhir/R4/Group/${clinicianId}/$export?_type=Observation`, {
        headers: { Prefer: 'respond-async' },
      });
      expect(kick.status).toBe(202);
      const status = kick.headers.get('content-location') ?? '';
      // Polled once a second (the server's Retry-After is 2 s), its progress logged every 5 minutes.
      let logged = started;
      const manifest = await waitFor(
        async () => {
          await new Promise((r) => setTimeout(r, 1000));
          const res = await authorized(status);
          if (res.status === 200) return (await res.json()) as { output: { url: string; count: number }[] };
          if (Date.now() - logged >= 300_000) {
            logged = Date.now();
            console.log(
              `${res.headers.get('x-progress')} after ${logged - started} ms, peak RSS ${Math.round(peak / 1e6)} MB`,
            );
          }
          expect(res.status).toBe(202);
          return undefined;
        },
        'the export',
        HOURS,
      );
      const exportMs = Date.now() - started;
      const exportPeak = { rss: peak, heap: heapPeak };
      // Download it too, gzip as a Bulk Data client asks for it, streamed: counts the bytes sent and,
      // decompressing here, the NDJSON's bytes and lines, without holding the file.
      const file = await new Promise<IncomingMessage>((resolve, reject) =>
        httpGet(
          manifest.output[0].url,
          { headers: { Authorization: `Bearer ${token}`, 'Accept-Encoding': 'gzip' } },
          resolve,
        ).on('error', reject),
      );
      expect(file.statusCode).toBe(200);
      expect(file.headers['content-encoding']).toBe('gzip');
      let gzipBytes = 0;
      file.on('data', (chunk: Buffer) => (gzipBytes += chunk.length));
      let bytes = 0;
      let newlines = 0;
      for await (const chunk of file.pipe(createGunzip()) as AsyncIterable<Buffer>) {
        bytes += chunk.length;
        for (let i = chunk.indexOf(10); i !== -1; i = chunk.indexOf(10, i + 1)) newlines++;
      }
      clearInterval(sampler);
      const expected = PATIENTS * days * 1440;
      expect(manifest.output[0].count).toBe(expected);
      expect(newlines).toBe(expected);
      // The job's files are deleted now rather than an hour later: the next step needs the disk.
      expect((await authorized(status, { method: 'DELETE' })).status).toBe(202);
      console.log(
        JSON.stringify({
          patients: PATIENTS,
          days,
          observations: expected,
          exportMs,
          totalMs: Date.now() - started,
          perSecond: Math.round(expected / (exportMs / 1000)),
          ndjsonMB: Math.round(bytes / 1e6),
          gzipMB: Math.round(gzipBytes / 1e6),
          rssBeforeMB: Math.round(rssBefore / 1e6),
          rssPeakExportMB: Math.round(exportPeak.rss / 1e6),
          heapPeakExportMB: Math.round(exportPeak.heap / 1e6),
          rssPeakWithDownloadMB: Math.round(peak / 1e6),
          maxOldSpaceMB: process.execArgv.find((a) => a.startsWith('--max-old-space-size'))?.split('=')[1] ?? 'default',
        }),
      );
    },
    HOURS,
  );
});
