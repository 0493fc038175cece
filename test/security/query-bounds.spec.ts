import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { ErrorBodyDto } from '../../apps/api/src/http/error-body.dto.js';
import { bodyOf } from '../support/http.js';
import { ADMIN_EMAIL, ADMIN_PASSWORD, startApi, type ApiFixture } from '../api/api-fixture.js';

/**
 * Issue #14: unbounded queries — `?bucket=1m&from=2000-01-01` answered up to a million rows, the
 * summary scanned months of 1 Hz data, and a crafted cursor or a huge offset answered 500. Every
 * bound now answers 400 with a message naming the limit; malformed paging input answers 400.
 */
let api: ApiFixture;
let admin: string;
let patientToken: string;
let patientId: string;
const DEVICE = '6f1c2a9e-0d4b-4c57-9a53-0c3f2b1d7e88';

beforeAll(async () => {
  api = await startApi();
  admin = await api.login(ADMIN_EMAIL, ADMIN_PASSWORD);
  const patient = await api.http
    .post('/api/v1/patients')
    .set('Authorization', `Bearer ${admin}`)
    .send({ displayName: 'Bounded' })
    .expect(201);
  patientId = (patient.body as { id: string }).id;
  await api.http
    .post('/api/v1/users')
    .set('Authorization', `Bearer ${admin}`)
    .send({ email: 'bounded@home.test', password: 'a-long-password-1', role: 'patient', displayName: 'B', patientId })
    .expect(201);
  patientToken = await api.login('bounded@home.test', 'a-long-password-1');
});

afterAll(async () => {
  await api?.close();
});

const get = (path: string, token = admin) => api.http.get(`/api/v1${path}`).set('Authorization', `Bearer ${token}`);
const iso = (ms: number) => new Date(ms).toISOString();
const DAY = 86_400_000;
const NOW = Date.UTC(2026, 10, 1);

async function refused(path: string, token = admin): Promise<string> {
  const res = await get(path, token);
  expect({ path, status: res.status }).toEqual({ path, status: 400 });
  const { message } = bodyOf<ErrorBodyDto>(res);
  return Array.isArray(message) ? message.join('; ') : message;
}

describe('reading history', () => {
  const readings = (query: string) => `/patients/${patientId}/readings?${query}`;

  it('refuses a bucketed period longer than its bucket allows, naming the limit and the wider buckets', async () => {
    expect(await refused(readings(`metric=heart_rate&bucket=1m&from=2000-01-01T00:00:00Z&to=${iso(NOW)}`))).toBe(
      'bucket=1m covers at most 7 days per request; from–to spans 9801 days: ask for several shorter periods',
    );
    expect(await refused(readings(`metric=heart_rate&bucket=1m&from=${iso(NOW - 8 * DAY)}&to=${iso(NOW)}`))).toBe(
      'bucket=1m covers at most 7 days per request; from–to spans 8 days: use a wider bucket: bucket=5m (up to 31 days), bucket=15m (up to 92 days), bucket=1h (up to 366 days), bucket=1d (up to 3660 days)',
    );
    expect(await refused(readings(`metric=glucose&bucket=1h&from=${iso(NOW - 400 * DAY)}&to=${iso(NOW)}`))).toMatch(
      /^bucket=1h covers at most 366 days per request; .*bucket=1d \(up to 3660 days\)$/,
    );
  });

  it('answers every bucket size up to its limit (the dashboard asks for less)', async () => {
    const limits: [string, number][] = [
      ['1m', 7],
      ['5m', 31],
      ['15m', 92],
      ['1h', 366],
      ['1d', 3660],
    ];
    for (const [bucket, days] of limits)
      await get(readings(`metric=glucose&bucket=${bucket}&from=${iso(NOW - days * DAY)}&to=${iso(NOW)}`)).expect(200);
  });

  it('bounds raw readings: 31 days of one metric, 7 days of all', async () => {
    await get(readings(`metric=glucose&from=${iso(NOW - 31 * DAY)}&to=${iso(NOW)}`)).expect(200);
    expect(await refused(readings(`metric=glucose&from=2000-01-01T00:00:00Z&to=${iso(NOW)}`))).toMatch(
      /^Raw readings of one metric covers at most 31 days per request; from–to spans 9801 days/,
    );
    await get(readings(`from=${iso(NOW - 7 * DAY)}&to=${iso(NOW)}`)).expect(200);
    expect(await refused(readings(`from=${iso(NOW - 8 * DAY)}&to=${iso(NOW)}`))).toBe(
      'Raw readings of every metric covers at most 7 days per request; from–to spans 8 days: name a metric (up to 31 days) or ask for shorter periods',
    );
  });

  it('bounds the summary to 31 days', async () => {
    await get(`/patients/${patientId}/summary?from=${iso(NOW - 31 * DAY)}&to=${iso(NOW)}`).expect(200);
    expect(await refused(`/patients/${patientId}/summary?from=${iso(NOW - 120 * DAY)}&to=${iso(NOW)}`)).toBe(
      'The summary covers at most 31 days per request; from–to spans 120 days: ask for several shorter periods',
    );
  });

  it('answers a crafted cursor with 400, never 500', async () => {
    const cursor = (parts: unknown) => Buffer.from(JSON.stringify(parts)).toString('base64url');
    const crafted = [
      cursor([1e20, 'glucose', DEVICE]), // a time Date cannot hold
      cursor([8.64e15 + 1, 'glucose', DEVICE]),
      cursor([1.5, 'glucose', DEVICE]),
      cursor([0, 'glu\u0000cose', DEVICE]), // PostgreSQL refuses U+0000 in text
      cursor([0, 'cholesterol', DEVICE]),
      cursor([0, 'glucose', '------------------------------------']), // 36 characters, not a UUID
      cursor([0, 'glucose', DEVICE.toUpperCase().replace('6', 'G')]),
      cursor({ time: 0 }),
      cursor(null),
      'bm90IGpzb24',
    ];
    for (const c of crafted)
      expect(await refused(readings(`metric=glucose&cursor=${encodeURIComponent(c)}`))).toBe(
        'cursor is not one this API issued',
      );
  });
});

describe('list paging', () => {
  it('refuses an offset past 100000, however large, with 400 naming the limit', async () => {
    for (const offset of ['100001', '9999999999', '100000000000000000000', '1e300'])
      expect(await refused(`/alerts?offset=${offset}`)).toBe('offset must not be greater than 100000');
    await get('/alerts?offset=100000').expect(200);
    for (const offset of ['100001', '100000000000000000000'])
      expect(await refused(`/me/notifications?offset=${offset}`, patientToken)).toBe(
        'offset must not be greater than 100000',
      );
    expect(await refused('/alerts?offset=-1')).toBe('offset must not be less than 0');
    expect(await refused('/alerts?limit=1001')).toBe('limit must not be greater than 1000');
  });

  it('refuses impossible dates instead of rolling them over', async () => {
    expect(await refused('/alerts?from=2026-02-30T00:00:00Z')).toBe('from must be a valid ISO 8601 date string');
  });

  it('answers audit and dead-letter paging edge cases with 200 or 400, never 500', async () => {
    await get('/audit?before=999999999999999999').expect(200);
    expect(await refused('/audit?before=9999999999999999999')).toMatch(/^before must match/);
    expect(await refused('/audit?limit=1001')).toBe('limit must not be greater than 1000');
    expect(await refused('/ingest/rejections?limit=1001')).toBe('limit must not be greater than 1000');
    expect(await refused('/ingest/rejections?from=0000-01-01T00:00:00Z')).toBe(
      'from must be a valid ISO 8601 date string',
    );
    // U+0000 is refused by PostgreSQL in any text: a 400 here, not a database error.
    expect(await refused('/ingest/rejections?deviceId=%00')).toBe('deviceId must not contain the character U+0000');
  });

  it('refuses text the database cannot store anywhere in a request, with 400 naming the field', async () => {
    const post = (body: object) => api.http.post('/api/v1/patients').set('Authorization', `Bearer ${admin}`).send(body);
    const nul = await post({ displayName: 'Ana\u0000' });
    expect(nul.status).toBe(400);
    expect(bodyOf<ErrorBodyDto>(nul).message).toEqual(['displayName must not contain the character U+0000']);
    const surrogate = await post({ displayName: 'Ana', mrn: 'M-\ud800' });
    expect(surrogate.status).toBe(400);
    expect(bodyOf<ErrorBodyDto>(surrogate).message).toEqual(['mrn must not contain unpaired UTF-16 surrogates']);
    // A well-formed pair (an emoji) is fine.
    await post({ displayName: 'Ana \ud83d\ude00' }).expect(201);
  });
});
