import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { AddressInfo } from 'node:net';
import { ReadingPartitions } from '@lantern/storage';
import { ADMIN_EMAIL, ADMIN_PASSWORD, startApi, waitFor, type ApiFixture } from '../api/api-fixture.js';

/**
 * Measures a Bulk Data export's time and the process's peak RSS (api and test share one process).
 * Off by default (it writes millions of rows): FHIR_EXPORT_MEASURE=1, with FHIR_EXPORT_PATIENTS
 * patients (default 100) × FHIR_EXPORT_DAYS days (default 9) of one heart-rate reading a minute.
 * Memory stays flat as the export grows when the export streams; time grows linearly.
 */
const enabled = process.env.FHIR_EXPORT_MEASURE === '1';
const PATIENTS = Number(process.env.FHIR_EXPORT_PATIENTS ?? 100);
const DAYS = Number(process.env.FHIR_EXPORT_DAYS ?? 9);
const START = Date.UTC(2026, 0, 1);

let api: ApiFixture;
let token = '';
let clinicianId = '';

(enabled ? describe : describe.skip)('Bulk export in bounded memory', () => {
  beforeAll(async () => {
    api = await startApi();
    token = await api.login(ADMIN_EMAIL, ADMIN_PASSWORD);
    const res = await api.http
      .post('/api/v1/users')
      .set('Authorization', `Bearer ${token}`)
      .send({ email: 'team@clinic.test', password: 'a-long-password-1', role: 'clinician', displayName: 'Team' });
    clinicianId = (res.body as { id: string }).id;
    const days = Array.from({ length: DAYS }, (_, d) => START + d * 86_400_000);
    await api.app.get(ReadingPartitions).ensureFor(days);
    const started = Date.now();
    // Server-side generation: patients, their care team, one device each, a reading a minute.
    await api.db.query(
      `WITH p AS (
         INSERT INTO patients (display_name, created_by) SELECT 'Patient ' || i, $1 FROM generate_series(1, $2) i RETURNING id)
       , t AS (INSERT INTO care_team_members (patient_id, clinician_id, added_by) SELECT id, $1, $1 FROM p)
       INSERT INTO devices (patient_id, type, secret_hash) SELECT id, 'wearable_patch', 'x' FROM p`,
      [clinicianId, PATIENTS],
    );
    for (const day of days)
      await api.db.query(
        `INSERT INTO readings (device_id, metric, time, patient_id, value, received_at)
         SELECT d.id, 'heart_rate', t, d.patient_id, 60 + (extract(minute FROM t)::int % 40), t
           FROM devices d CROSS JOIN generate_series($1::timestamptz, $1::timestamptz + interval '1 day' - interval '1 minute', interval '1 minute') t`,
        [new Date(day)],
      );
    await api.db.query('ANALYZE readings');
    console.log(`seeded ${PATIENTS * DAYS * 1440} readings in ${Date.now() - started} ms`);
  }, 3_600_000);

  afterAll(async () => {
    await api?.close();
  });

  it('exports every reading, measuring time and peak RSS', async () => {
    const server = api.app.getHttpServer();
    if (!server.listening) await api.app.listen(0, '127.0.0.1');
    const { port } = server.address() as AddressInfo;
    const base = `http://127.0.0.1:${port}`;
    const auth = { Authorization: `Bearer ${token}` };
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
    const kick = await fetch(`${base}/fhir/R4/Group/${clinicianId}/$export?_type=Observation`, {
      headers: { ...auth, Prefer: 'respond-async' },
    });
    expect(kick.status).toBe(202);
    const status = kick.headers.get('content-location') ?? '';
    const manifest = await waitFor(
      async () => {
        const res = await fetch(status, { headers: auth });
        return res.status === 200 ? ((await res.json()) as { output: { url: string; count: number }[] }) : undefined;
      },
      3_600_000,
      'the export',
    );
    const exportMs = Date.now() - started;
    const exportPeak = { rss: peak, heap: heapPeak };
    // Download it too, streamed: counts bytes and lines without holding the file.
    const file = await fetch(manifest.output[0].url, { headers: auth });
    let bytes = 0;
    let newlines = 0;
    for await (const chunk of file.body as unknown as AsyncIterable<Uint8Array>) {
      bytes += chunk.length;
      for (const b of chunk) if (b === 10) newlines++;
    }
    clearInterval(sampler);
    const expected = PATIENTS * DAYS * 1440;
    expect(manifest.output[0].count).toBe(expected);
    expect(newlines).toBe(expected);
    console.log(
      JSON.stringify({
        patients: PATIENTS,
        days: DAYS,
        observations: expected,
        exportMs,
        totalMs: Date.now() - started,
        perSecond: Math.round(expected / (exportMs / 1000)),
        ndjsonMB: Math.round(bytes / 1e6),
        rssBeforeMB: Math.round(rssBefore / 1e6),
        rssPeakExportMB: Math.round(exportPeak.rss / 1e6),
        heapPeakExportMB: Math.round(exportPeak.heap / 1e6),
        rssPeakWithDownloadMB: Math.round(peak / 1e6),
        maxOldSpaceMB: process.execArgv.find((a) => a.startsWith('--max-old-space-size'))?.split('=')[1] ?? 'default',
      }),
    );
  }, 3_600_000);
});
