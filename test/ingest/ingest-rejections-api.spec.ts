import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { RejectionRepository } from '@lantern/storage';
import type { IngestRejectionDto } from '../../apps/api/src/ingest/ingest-rejection.dto.js';
import { ADMIN_EMAIL, ADMIN_PASSWORD, startApi, type ApiFixture } from '../api/api-fixture.js';
import { bodyOf } from '../support/http.js';

describe('GET /api/v1/ingest/rejections (admin)', () => {
  let api: ApiFixture;
  let admin: string;
  const auth = (token: string) => ({ authorization: `Bearer ${token}` });
  const deviceA = '6f1c2d3e-4b5a-4c6d-8e9f-0a1b2c3d4e5f';

  beforeAll(async () => {
    api = await startApi();
    admin = await api.login(ADMIN_EMAIL, ADMIN_PASSWORD);
    const repository = new RejectionRepository(api.db);
    const big = Buffer.alloc(64 * 1024, 0x61);
    await repository.insertMany([
      {
        receivedAt: Date.parse('2026-11-20T10:00:00Z'),
        deviceId: deviceA,
        topic: `x/devices/${deviceA}/telemetry`,
        reason: 'payload is not valid JSON',
        payload: Buffer.from('{"seq":1,'),
        payloadSize: 9,
      },
      {
        receivedAt: Date.parse('2026-11-21T10:00:00Z'),
        deviceId: deviceA,
        topic: `x/devices/${deviceA}/telemetry`,
        reason: "unit 'mg' not convertible to mg/dL",
        readingIndex: 1,
        seq: 1042,
        payload: Buffer.from('{"seq":1042}'),
        payloadSize: 12,
      },
      {
        receivedAt: Date.parse('2026-11-22T10:00:00Z'),
        deviceId: 'not-a-uuid',
        topic: 'x/devices/not-a-uuid/telemetry',
        reason: 'payload is not valid UTF-8',
        payload: Buffer.from([0xff, 0xfe]),
        payloadSize: 2,
      },
      {
        receivedAt: Date.parse('2026-11-22T11:00:00Z'),
        deviceId: deviceA,
        topic: `x/devices/${deviceA}/telemetry`,
        reason: 'payload of 10485760 bytes exceeds the limit of 65536 bytes',
        payload: big,
        payloadSize: 10 * 1024 * 1024,
      },
    ]);
  });

  afterAll(async () => {
    await api?.close();
  });

  it('lists dead letters newest first with reason, index, seq and the raw payload', async () => {
    const rejections = bodyOf<IngestRejectionDto[]>(
      await api.http.get('/api/v1/ingest/rejections').set(auth(admin)).expect(200),
    );
    expect(rejections.map((r) => r.reason)).toEqual([
      'payload of 10485760 bytes exceeds the limit of 65536 bytes',
      'payload is not valid UTF-8',
      "unit 'mg' not convertible to mg/dL",
      'payload is not valid JSON',
    ]);
    expect(rejections[0]).toMatchObject({ payloadSize: 10 * 1024 * 1024, truncated: true });
    expect(rejections[0].payload).toHaveLength(64 * 1024);
    expect(rejections[1]).toMatchObject({ deviceId: 'not-a-uuid', payloadBase64: '//4=', truncated: false });
    expect(rejections[2]).toEqual({
      id: expect.any(String),
      receivedAt: '2026-11-21T10:00:00.000Z',
      deviceId: deviceA,
      topic: `x/devices/${deviceA}/telemetry`,
      reason: "unit 'mg' not convertible to mg/dL",
      index: 1,
      seq: 1042,
      payload: '{"seq":1042}',
      payloadSize: 12,
      truncated: false,
    });
  });

  it('filters by device, time range and limit', async () => {
    const byDevice = await api.http
      .get('/api/v1/ingest/rejections')
      .query({ deviceId: deviceA, from: '2026-11-21T00:00:00Z', to: '2026-11-22T10:30:00Z' })
      .set(auth(admin))
      .expect(200);
    expect(bodyOf<IngestRejectionDto[]>(byDevice).map((r) => r.reason)).toEqual(["unit 'mg' not convertible to mg/dL"]);
    const limited = await api.http.get('/api/v1/ingest/rejections').query({ limit: 1 }).set(auth(admin)).expect(200);
    expect(limited.body).toHaveLength(1);
  });

  it('validates the query', async () => {
    await api.http.get('/api/v1/ingest/rejections').query({ limit: 0 }).set(auth(admin)).expect(400);
    await api.http.get('/api/v1/ingest/rejections').query({ from: 'yesterday' }).set(auth(admin)).expect(400);
  });

  it('is for admins only', async () => {
    await api.http.get('/api/v1/ingest/rejections').expect(401);
    await api.http
      .post('/api/v1/users')
      .set(auth(admin))
      .send({ email: 'doc@rejections.test', password: 'a-long-password-1', role: 'clinician', displayName: 'Dr Doc' })
      .expect(201);
    const clinician = await api.login('doc@rejections.test', 'a-long-password-1');
    await api.http.get('/api/v1/ingest/rejections').set(auth(clinician)).expect(403);
  });
});
