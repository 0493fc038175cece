import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { ServiceMqttClient } from '@lantern/messaging';
import { API_BROKER } from '../../apps/api/src/broker/api-broker.tokens.js';
import { LiveRoutingService } from '../../apps/api/src/live/live-routing.service.js';
import { startApi, type ApiFixture } from './api-fixture.js';
import { waitFor } from '../support/wait.js';

/**
 * The api holds one broker connection (ApiBrokerModule): live routing, announcements and
 * revocations use it, and /health reports it — not a second connection that carries no live event.
 */
describe('the api broker connection', () => {
  let api: ApiFixture;

  beforeAll(async () => {
    api = await startApi();
  });
  afterAll(async () => {
    await api?.close();
  });

  const brokerState = async (): Promise<unknown> =>
    ((await api.http.get('/health')).body as { broker: unknown }).broker;

  it('carries the live subscriptions, and /health goes down with it', async () => {
    const broker = api.app.get<ServiceMqttClient>(API_BROKER);
    const patientId = '6c4f2f3e-0d1a-4b8e-9a55-0f1c2d3e4f5a';
    await api.app.get(LiveRoutingService).watch(patientId);
    expect(broker.activeFilters()).toContain(`${api.topicRoot}/events/patients/${patientId}/+`);
    expect(await brokerState()).toBe('up');

    await broker.close();
    await waitFor(async () => (await brokerState()) === 'down', '/health to report the broker down', 5000);
  });
});
