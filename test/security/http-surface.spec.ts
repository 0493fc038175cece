import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { AddressInfo } from 'node:net';
import { loadConfig } from '@lantern/config';
import { IngestMetrics } from '../../apps/ingest/src/metrics/ingest-metrics.js';
import { MetricsServer } from '../../apps/ingest/src/metrics/metrics.server.js';
import { startApi, type ApiFixture } from '../api/api-fixture.js';
import { externalAddress, startAnotherApi } from './security-fixture.js';

/**
 * Issue #14: no protective headers (the dashboard could be framed; no nosniff, no CSP), no
 * explicit CORS policy (Socket.IO reflected any origin), /metrics public, the ingest's metrics
 * port on 0.0.0.0. All checked over HTTP, as a browser or a scraper on the network sees them.
 */
let api: ApiFixture;
const FOREIGN = 'https://evil.example';

beforeAll(async () => {
  api = await startApi();
});

afterAll(async () => {
  await api?.close();
});

/** Socket.IO's first long-polling request, as a page of `origin` would send it. */
const socketHandshake = (fixture: ApiFixture, origin: string) =>
  fixture.http.get('/socket.io/?EIO=4&transport=polling').set('Origin', origin);

describe('protective headers', () => {
  it.each(['/', '/patients/some-id', '/api/v1/patients', '/health', '/metrics', '/api/docs/', '/api/docs-json'])(
    'are on every response (%s): CSP with frame-ancestors none, nosniff, no framing, no referrer',
    async (path) => {
      const res = await api.http.get(path);
      const csp = String(res.headers['content-security-policy']);
      expect(csp).toContain("frame-ancestors 'none'");
      expect(csp).toContain("default-src 'self'");
      expect(csp).toContain("script-src 'self'");
      expect(csp).toContain("object-src 'none'");
      expect(csp).not.toContain('upgrade-insecure-requests');
      expect(res.headers['x-frame-options']).toBe('DENY');
      expect(res.headers['x-content-type-options']).toBe('nosniff');
      expect(res.headers['referrer-policy']).toBe('no-referrer');
      expect(res.headers['x-powered-by']).toBeUndefined();
    },
  );

  it('sends HSTS only over TLS: never on plain HTTP, nor on a forwarded https from a proxy not trusted', async () => {
    const plain = await api.http.get('/health');
    expect(plain.headers['strict-transport-security']).toBeUndefined();
    const claimed = await api.http.get('/health').set('X-Forwarded-Proto', 'https');
    expect(claimed.headers['strict-transport-security']).toBeUndefined();
  });

  it('sends HSTS when a trusted proxy (TRUST_PROXY) says the client came over https', async () => {
    const proxied = await startAnotherApi({ TRUST_PROXY: 'loopback' });
    try {
      const tls = await proxied.http.get('/health').set('X-Forwarded-Proto', 'https');
      expect(tls.headers['strict-transport-security']).toBe('max-age=31536000');
      const plain = await proxied.http.get('/health').set('X-Forwarded-Proto', 'http');
      expect(plain.headers['strict-transport-security']).toBeUndefined();
    } finally {
      await proxied.close();
    }
  });
});

describe('CORS', () => {
  it('by default allows no other origin, over REST or Socket.IO', async () => {
    const rest = await api.http.get('/api/v1/patients').set('Origin', FOREIGN);
    expect(rest.headers['access-control-allow-origin']).toBeUndefined();
    const preflight = await api.http
      .options('/api/v1/patients')
      .set('Origin', FOREIGN)
      .set('Access-Control-Request-Method', 'GET');
    expect(preflight.headers['access-control-allow-origin']).toBeUndefined();
    const socket = await socketHandshake(api, FOREIGN);
    expect(socket.status).toBe(200);
    expect(socket.headers['access-control-allow-origin']).toBeUndefined();
  });

  it('allows exactly the origins of CORS_ORIGINS', async () => {
    const allowed = 'https://dashboard.example.org';
    const cors = await startAnotherApi({ CORS_ORIGINS: `${allowed}, http://localhost:5173` });
    try {
      const preflight = await cors.http
        .options('/api/v1/patients')
        .set('Origin', allowed)
        .set('Access-Control-Request-Method', 'GET')
        .set('Access-Control-Request-Headers', 'authorization');
      expect(preflight.status).toBe(204);
      expect(preflight.headers['access-control-allow-origin']).toBe(allowed);
      expect(String(preflight.headers['access-control-allow-headers'])).toMatch(/Authorization/i);
      expect((await cors.http.get('/health').set('Origin', allowed)).headers['access-control-allow-origin']).toBe(
        allowed,
      );
      expect((await socketHandshake(cors, allowed)).headers['access-control-allow-origin']).toBe(allowed);
      expect(
        (await cors.http.get('/health').set('Origin', FOREIGN)).headers['access-control-allow-origin'],
      ).toBeUndefined();
      expect((await socketHandshake(cors, FOREIGN)).headers['access-control-allow-origin']).toBeUndefined();
    } finally {
      await cors.close();
    }
  });
});

describe("the api's /metrics", () => {
  it('answers loopback clients only by default; a request forwarded by a proxy is not local', async () => {
    await api.http.get('/metrics').expect(200);
    const forwarded = await api.http.get('/metrics').set('X-Forwarded-For', '203.0.113.9');
    expect(forwarded.status).toBe(403);
    expect(forwarded.body).toEqual({
      statusCode: 403,
      error: 'Forbidden',
      message: 'Metrics are served to loopback clients only: set METRICS_TOKEN to scrape from elsewhere',
    });
  });

  it('refuses a client on another address of this machine', async () => {
    const address = externalAddress();
    if (address === undefined) return; // No interface but loopback: nothing outside to try from.
    const server = api.app.getHttpServer();
    if (!server.listening) await api.app.listen(0, '0.0.0.0');
    const { port } = server.address() as AddressInfo;
    expect((await fetch(`http://${address}:${port}/metrics`)).status).toBe(403);
    expect((await fetch(`http://127.0.0.1:${port}/metrics`)).status).toBe(200);
  });

  it('with METRICS_TOKEN wants it as a bearer token, from everyone', async () => {
    const token = 'scrape-token-0123456789';
    const guarded = await startAnotherApi({ METRICS_TOKEN: token });
    try {
      const without = await guarded.http.get('/metrics');
      expect(without.status).toBe(401);
      expect(without.body).toMatchObject({ message: 'Metrics need Authorization: Bearer <METRICS_TOKEN>' });
      await guarded.http.get('/metrics').set('Authorization', 'Bearer wrong-token-0123456789').expect(401);
      const scraped = await guarded.http.get('/metrics').set('Authorization', `Bearer ${token}`).expect(200);
      expect(scraped.text).toMatch(/^lantern_api_process_cpu_seconds_total/m);
      await guarded.http
        .get('/metrics')
        .set('Authorization', `Bearer ${token}`)
        .set('X-Forwarded-For', '203.0.113.9')
        .expect(200);
    } finally {
      await guarded.close();
    }
  });
});

describe("the ingest's /metrics", () => {
  /** The ingest's metrics server with `env`, started on a free port. */
  async function ingestMetrics(env: Record<string, string>): Promise<{ server: MetricsServer; port: number }> {
    const config = loadConfig({ INGEST_METRICS_PORT: '0', ...env });
    const server = new MetricsServer(new IngestMetrics(config), config);
    return { server, port: await server.start() };
  }

  it('listens on 127.0.0.1 by default: unreachable from another address of this machine', async () => {
    const { server, port } = await ingestMetrics({});
    try {
      expect((await fetch(`http://127.0.0.1:${port}/metrics`)).status).toBe(200);
      const address = externalAddress();
      if (address !== undefined)
        await expect(fetch(`http://${address}:${port}/metrics`)).rejects.toThrow(/fetch failed/);
    } finally {
      await server.onApplicationShutdown();
    }
  });

  it('on another host (INGEST_METRICS_HOST) still answers only loopback clients, or METRICS_TOKEN', async () => {
    const address = externalAddress();
    const open = await ingestMetrics({ INGEST_METRICS_HOST: '0.0.0.0' });
    const token = 'scrape-token-0123456789';
    const guarded = await ingestMetrics({ INGEST_METRICS_HOST: '0.0.0.0', METRICS_TOKEN: token });
    try {
      expect((await fetch(`http://127.0.0.1:${open.port}/metrics`)).status).toBe(200);
      if (address !== undefined) expect((await fetch(`http://${address}:${open.port}/metrics`)).status).toBe(403);
      expect((await fetch(`http://127.0.0.1:${guarded.port}/metrics`)).status).toBe(401);
      const scraped = await fetch(`http://${address ?? '127.0.0.1'}:${guarded.port}/metrics`, {
        headers: { authorization: `Bearer ${token}` },
      });
      expect(scraped.status).toBe(200);
    } finally {
      await open.server.onApplicationShutdown();
      await guarded.server.onApplicationShutdown();
    }
  });
});
