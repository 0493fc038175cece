import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { INestApplicationContext } from '@nestjs/common';
import { webhookSignature } from '@lantern/messaging';
import { startApi, type ApiFixture } from '../api/api-fixture.js';
import { bodyOf } from '../support/http.js';
import { waitFor } from '../support/wait.js';
import { startTcpProxy, type TcpProxy } from '../../bench/src/infra/tcp-proxy.js';
import { ingestEnvironment, startIngest } from '../ingest/ingest-fixture.js';
import type { HealthDto } from '../../apps/api/src/ops/health.controller.js';
import { IngestMonitorService } from '../../apps/api/src/ops/ingest-monitor.service.js';

const SECRET = 'system-alert-secret-0123456789';

/**
 * When monitoring stops, health says so: the api's /health judges the ingest's heartbeat and
 * canary, a subscription that silently stops delivering turns it 503, and the change goes to the
 * webhook as a system alert. The ingest reaches the broker through a proxy the test can freeze.
 */
describe('monitoring that monitoring works (real PostgreSQL and broker)', () => {
  let api: ApiFixture;
  let proxy: TcpProxy;
  let ingest: INestApplicationContext | undefined;
  let hooks: Server;
  const received: { event: string; body: { event: string; ingest: { problems: string[] } }; signed: boolean }[] = [];

  beforeAll(async () => {
    hooks = createServer((req, res) => {
      let raw = '';
      req.on('data', (chunk: Buffer) => (raw += chunk.toString()));
      req.on('end', () => {
        received.push({
          event: String(req.headers['x-lantern-event']),
          body: JSON.parse(raw) as (typeof received)[number]['body'],
          signed: req.headers['x-lantern-signature'] === webhookSignature(SECRET, raw),
        });
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((resolve) => hooks.listen(0, '127.0.0.1', resolve));
    api = await startApi({
      HEALTH_REQUIRE_INGEST: 'true',
      INGEST_STALL_AFTER: '3s',
      ALERT_WEBHOOK_URL: `http://127.0.0.1:${(hooks.address() as AddressInfo).port}/hook`,
      ALERT_WEBHOOK_SECRET: SECRET,
    });
    const broker = new URL(api.mqttUrl);
    proxy = await startTcpProxy(broker.hostname, Number(broker.port || 1883));
  });

  afterAll(async () => {
    await ingest?.close();
    await api?.close();
    await proxy?.close();
    await new Promise<void>((resolve) => hooks?.close(() => resolve()));
  });

  const health = async (): Promise<{ status: number; body: HealthDto }> => {
    const res = await api.http.get('/health');
    return { status: res.status, body: bodyOf<HealthDto>(res) };
  };

  it('answers 503 while no ingest is running', async () => {
    const { status, body } = await health();
    expect(status).toBe(503);
    expect(body.ingest?.status).toBe('down');
    expect(body.ingest?.problems).toEqual(['no ingest is running: readings are not being received']);
  });

  it('answers 200 once an ingest consumes, naming its subscriptions and canary', async () => {
    const clientId = `ingest-health-${randomBytes(4).toString('hex')}`;
    ingest = await startIngest(
      ingestEnvironment({
        databaseUrl: (api.db.options as { url: string }).url,
        mqttUrl: proxy.urlFor(api.mqttUrl),
        topicRoot: api.topicRoot,
        clientId,
        extra: { INGEST_CANARY_INTERVAL: '500ms', INGEST_STALL_AFTER: '3s' },
      }),
    );
    const { body } = await waitFor(async () => {
      const h = await health();
      return h.status === 200 && (h.body.ingest?.instances[0]?.subscribed.length ?? 0) > 0 ? h : undefined;
    }, 'a healthy, subscribed ingest');
    expect(body.ingest?.status).toBe('up');
    const [instance] = body.ingest!.instances;
    expect(instance.clientId).toBe(clientId);
    expect(instance.connected).toBe(true);
    expect(instance.subscribed).toContain(`${api.topicRoot}/internal/ingest-canary/${clientId}`);
    expect(instance.subscribed.some((f) => f.endsWith('/devices/+/telemetry'))).toBe(true);
    expect(instance.canaryAgeMs).toBeLessThan(3000);
    expect(await api.app.get(IngestMonitorService).watch()).toMatchObject({ status: 'up' });
    expect((await api.http.get('/metrics')).text).toMatch(/^lantern_monitoring_up 1$/m);
  });

  it('answers 503 when the subscription silently stops delivering, and sends a signed system alert', async () => {
    proxy.freeze();
    const { body } = await waitFor(
      async () => {
        const h = await health();
        return h.status === 503 ? h : undefined;
      },
      'health to notice the stalled canary',
      15_000,
      200,
    );
    expect(body.ingest?.status).toBe('stalled');
    // The connection still looks up (keepalive has not noticed yet): only the canary tells.
    expect(body.ingest?.problems.some((p) => /canary has not come back/.test(p))).toBe(true);

    await api.app.get(IngestMonitorService).watch();
    const stalled = await waitFor(() => received.find((r) => r.event === 'system.monitoring_stalled'), 'webhook');
    expect(stalled.signed).toBe(true);
    expect(stalled.body.ingest.problems.join(' ')).toMatch(/canary/);
    expect((await api.http.get('/metrics')).text).toMatch(/^lantern_monitoring_up 0$/m);
  });

  it('recovers when the path delivers again, and says so on the webhook', async () => {
    proxy.thaw();
    await waitFor(async () => (await health()).status === 200, 'health back to 200', 15_000, 200);
    await api.app.get(IngestMonitorService).watch();
    await waitFor(() => received.find((r) => r.event === 'system.monitoring_recovered'), 'recovery on the webhook');
  });

  it('answers 503 at once after the ingest stops in order', async () => {
    await ingest!.close();
    ingest = undefined;
    const { status, body } = await health();
    expect(status).toBe(503);
    expect(body.ingest?.status).toBe('down');
  });
});
