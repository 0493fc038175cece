import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { loadConfig } from '@lantern/config';
import { WebhookOutboxService, webhookSignature } from '@lantern/messaging';
import { LeaseRepository, WebhookDeliveryRepository } from '@lantern/storage';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { waitFor } from '../support/wait.js';

const SECRET = 'outbox-secret-0123456789';

/**
 * The webhook outbox against real PostgreSQL and a real HTTP receiver: deliveries survive a
 * restart of the process that queued them, arrive in order and signed, a refused body ends
 * `failed` without holding the others, and another process takes over when the holder dies.
 */
describe('webhook outbox (real PostgreSQL, real HTTP receiver)', () => {
  let db: TestDatabase;
  let receiver: Server;
  /** What the receiver answers next: a status per call, 204 when none is queued. */
  let answer: (body: { n?: number }) => number = () => 204;
  const received: { n?: number; delivery: string; signed: boolean }[] = [];
  const running: WebhookOutboxService[] = [];

  beforeAll(async () => {
    db = await createTestDatabase();
    receiver = createServer((req, res) => {
      let raw = '';
      req.on('data', (chunk: Buffer) => (raw += chunk.toString()));
      req.on('end', () => {
        const body = JSON.parse(raw) as { n?: number };
        const status = answer(body);
        if (status < 300)
          received.push({
            n: body.n,
            delivery: String(req.headers['x-lantern-delivery']),
            signed: req.headers['x-lantern-signature'] === webhookSignature(SECRET, raw),
          });
        res.writeHead(status).end();
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  });

  afterAll(async () => {
    for (const outbox of running) await outbox.onApplicationShutdown();
    await new Promise<void>((resolve) => receiver?.close(() => resolve()));
    await db?.drop();
  });

  const start = (): WebhookOutboxService => {
    const config = loadConfig({
      DATABASE_URL: db.url,
      ALERT_WEBHOOK_URL: `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`,
      ALERT_WEBHOOK_SECRET: SECRET,
    });
    const outbox = new WebhookOutboxService(
      config,
      new WebhookDeliveryRepository(db.dataSource),
      new LeaseRepository(db.dataSource),
    );
    outbox.onApplicationBootstrap();
    running.push(outbox);
    return outbox;
  };
  const stop = async (outbox: WebhookOutboxService): Promise<void> => {
    await outbox.onApplicationShutdown();
    running.splice(running.indexOf(outbox), 1);
  };
  const states = async (): Promise<{ event: string; state: string; attempts: number; last_error: string | null }[]> =>
    db.dataSource.query(`SELECT event, state, attempts, last_error FROM webhook_deliveries ORDER BY seq`);

  it('keeps what it could not deliver across a restart, then delivers it in order, signed', async () => {
    answer = () => 503;
    const first = start();
    for (let n = 1; n <= 3; n++) first.enqueue('test.event', (id) => ({ id, n }));
    await first.flush();
    await waitFor(async () => (await states())[0]?.attempts >= 1, 'a failed first attempt');
    await stop(first);
    expect((await states()).map((s) => s.state)).toEqual(['pending', 'pending', 'pending']);
    expect((await states())[0].last_error).toBe('answered 503');

    answer = () => 204;
    start();
    await waitFor(async () => (await states()).every((s) => s.state === 'delivered'), 'all delivered', 15_000);
    expect(received.map((r) => r.n)).toEqual([1, 2, 3]);
    expect(received.every((r) => r.signed)).toBe(true);
  });

  it('ends a delivery the receiver refuses (4xx) as failed at once, and goes on with the next', async () => {
    received.length = 0;
    answer = (body) => (body.n === 5 ? 422 : 204);
    const outbox = running[0];
    for (let n = 4; n <= 6; n++) outbox.enqueue('test.event', (id) => ({ id, n }));
    await outbox.flush();
    await waitFor(async () => (await states()).every((s) => s.state !== 'pending'), 'all three settled', 10_000);
    expect(received.map((r) => r.n)).toEqual([4, 6]);
    const rows = (await states()).slice(-3);
    expect(rows.map((r) => [r.state, r.attempts, r.last_error])).toEqual([
      ['delivered', 1, null],
      ['failed', 1, 'answered 422'],
      ['delivered', 1, null],
    ]);
  });

  it('is delivered by another process once the holder of the lease dies', async () => {
    received.length = 0;
    // The holder "dies": its loop stops without releasing the lease, which then runs out.
    const holder = running[0];
    (holder as unknown as { closed: boolean }).closed = true;
    running.splice(0, 1);
    const other = start();
    other.enqueue('test.event', (id) => ({ id, n: 7 }));
    await other.flush();
    await db.dataSource.query(`UPDATE leases SET expires_at = now() - interval '1 second'`);
    await waitFor(() => received.some((r) => r.n === 7), 'delivery by the new holder', 10_000);
  });
});
