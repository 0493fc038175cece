import { randomBytes } from 'node:crypto';
import type { NestExpressApplication } from '@nestjs/platform-express';
import request from 'supertest';
import type { DataSource } from 'typeorm';
import type { ServiceMqttClient } from '@lantern/messaging';
import type { LoginResponseDto } from '../../apps/api/src/auth/auth.dto.js';
import { createApiApp } from '../../apps/api/src/create-api-app.js';
import { TEST_VAPID } from '../support/vapid.js';
import { API_BROKER } from '../../apps/api/src/broker/api-broker.tokens.js';
import { appLoginUrl, createTestDatabase, type TestDatabase } from '../support/database.js';
import { bodyOf } from '../support/http.js';

export const ADMIN_EMAIL = 'admin@test.lantern';
export const ADMIN_PASSWORD = 'admin-password-123';
export const SERVICE_USERNAME = 'lantern-service';
export const SERVICE_PASSWORD = 'service-password-xyz';
/** MQTT_HOOK_SECRET of every fixture api: the broker hooks want it as `Authorization: Bearer …`. */
export const HOOK_SECRET = 'hook-secret-of-the-test-broker-0123456789';

export interface ApiFixture {
  readonly app: NestExpressApplication;
  readonly http: ReturnType<typeof request>;
  readonly db: DataSource;
  /** MQTT_TOPIC_ROOT of this test file (own root per file: files share the broker). */
  readonly topicRoot: string;
  readonly mqttUrl: string;
  login(email: string, password: string): Promise<string>;
  close(): Promise<void>;
}

/**
 * Boots the real api (createApiApp → configureApp, exactly what main.ts runs) on a fresh database
 * of the test server and the test broker, with a known first admin. `asAppRole`: the api connects
 * as a login in lantern_app (no DDL rights) and migrates as the owner, as deployed (docs/security.md).
 */
export async function startApi(
  env: Record<string, string> = {},
  { waitForBroker = true, asAppRole = false }: { waitForBroker?: boolean; asAppRole?: boolean } = {},
): Promise<ApiFixture> {
  const database: TestDatabase = await createTestDatabase();
  const topicRoot = `test-${randomBytes(4).toString('hex')}/v1`;
  const mqttUrl = process.env.MQTT_URL ?? 'mqtt://127.0.0.1:1883';
  Object.assign(process.env, {
    NODE_ENV: 'test',
    DATABASE_URL: asAppRole ? await appLoginUrl(database.url) : database.url,
    // Empty is unset: an earlier api of the same file must not leave its owner URL behind.
    DATABASE_MIGRATION_URL: asAppRole ? database.url : '',
    DATABASE_POOL_SIZE: '4',
    MQTT_URL: mqttUrl,
    MQTT_TOPIC_ROOT: topicRoot,
    MQTT_USERNAME: SERVICE_USERNAME,
    MQTT_PASSWORD: SERVICE_PASSWORD,
    ADMIN_EMAIL,
    ADMIN_PASSWORD,
    JWT_SECRET: randomBytes(32).toString('hex'),
    MQTT_HOOK_SECRET: HOOK_SECRET,
    ...TEST_VAPID,
    // No ingest runs beside this api: /health judges database and broker only (test/ops covers the ingest).
    HEALTH_REQUIRE_INGEST: 'false',
    ...env,
  });
  let app: NestExpressApplication;
  try {
    app = await createApiApp({ logLevel: process.env.TEST_LOG === '1' ? 'debug' : false });
    await app.init();
    // The api connects to the broker in the background (it starts with the broker down); tests
    // that publish or subscribe want it connected.
    if (waitForBroker) await app.get<ServiceMqttClient>(API_BROKER).whenConnected();
  } catch (error) {
    await database.drop();
    throw error;
  }
  const http = request(app.getHttpServer());
  return {
    app,
    http,
    db: database.dataSource,
    topicRoot,
    mqttUrl,
    async login(email, password) {
      const res = await http.post('/api/v1/auth/login').send({ email, password });
      if (res.status !== 200) throw new Error(`login ${email}: ${res.status} ${JSON.stringify(res.body)}`);
      return bodyOf<LoginResponseDto>(res).accessToken;
    },
    async close() {
      await app.close();
      await database.drop();
    },
  };
}
