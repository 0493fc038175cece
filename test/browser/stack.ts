import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { INestApplication, INestApplicationContext } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { DeviceTypeKey } from '@lantern/domain';
import { DeviceClient } from '../../device-simulator/src/device-client.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';

/**
 * The real thing, in this process: a fresh PostgreSQL database, the api (REST, /live, the
 * dashboard at /) on a free port and the ingest role, both on the machine's Mosquitto under a
 * topic root of their own. Everything is reached only through the public contract.
 */
export interface Stack {
  readonly url: string;
  readonly mqttUrl: string;
  readonly topicRoot: string;
  readonly adminEmail: string;
  readonly adminPassword: string;
  /** JSON over REST as `token`'s user; throws on a non-2xx answer. */
  rest<T>(method: string, path: string, token?: string, body?: unknown): Promise<T>;
  login(email: string, password: string): Promise<string>;
  /** The device's MQTT client, connected on first use with its credentials; closed by close(). */
  connectDevice(device: Provisioned): Promise<DeviceClient>;
  close(): Promise<void>;
}

export async function startStack(): Promise<Stack> {
  const db: TestDatabase = await createTestDatabase({ poolSize: 2 });
  const dataDir = mkdtempSync(join(tmpdir(), 'lantern-browser-'));
  const topicRoot = `test-browser-${randomBytes(4).toString('hex')}/v1`;
  const adminEmail = 'admin@browser.test';
  const adminPassword = `admin-${randomBytes(8).toString('hex')}`;
  const mqttUrl = process.env.MQTT_URL ?? 'mqtt://127.0.0.1:1883';
  const saved = { ...process.env };
  Object.assign(process.env, {
    NODE_ENV: 'test',
    DATABASE_URL: db.url,
    MQTT_URL: mqttUrl,
    MQTT_TOPIC_ROOT: topicRoot,
    DATA_DIR: dataDir,
    JWT_SECRET: `browser-test-${randomBytes(16).toString('hex')}`,
    ADMIN_EMAIL: adminEmail,
    ADMIN_PASSWORD: adminPassword,
    LOG_LEVEL: 'error',
    INGEST_METRICS_PORT: '0',
    INGEST_MQTT_CLIENT_ID: `lantern-ingest-browser-${randomBytes(4).toString('hex')}`,
    INGEST_BATCH_MAX_WAIT_MS: '20',
    SIGNAL_LOSS_SWEEP_MS: '1000',
  });

  let api: INestApplication | undefined;
  let ingest: INestApplicationContext | undefined;
  const devices: DeviceClient[] = [];
  const close = async (): Promise<void> => {
    await Promise.all(devices.map((d) => d.close().catch(() => undefined)));
    await ingest?.close().catch(() => undefined);
    await api?.close().catch(() => undefined);
    await db.drop().catch(() => undefined);
    rmSync(dataDir, { recursive: true, force: true });
    process.env = saved;
  };
  try {
    const { createApiApp } = await import('../../apps/api/src/create-api-app.js');
    api = await createApiApp({ logLevel: 'error' });
    await api.listen(0, '127.0.0.1');
    const { API_BROKER } = await import('../../apps/api/src/broker/api-broker.tokens.js');
    await api.get<{ whenConnected(): Promise<void> }>(API_BROKER).whenConnected();
    const { IngestModule } = await import('../../apps/ingest/src/ingest.module.js');
    ingest = await NestFactory.createApplicationContext(IngestModule, { logger: ['error'] });
    await ingest.init();
  } catch (error) {
    await close();
    throw error;
  }
  const { port } = (api.getHttpServer() as Server).address() as AddressInfo;
  const url = `http://127.0.0.1:${port}`;

  async function rest<T>(method: string, path: string, token?: string, body?: unknown): Promise<T> {
    const res = await fetch(`${url}/api/v1${path}`, {
      method,
      headers: { 'content-type': 'application/json', ...(token && { authorization: `Bearer ${token}` }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`${method} ${path} → ${res.status} ${text}`);
    return (text ? JSON.parse(text) : undefined) as T;
  }
  return {
    url,
    mqttUrl,
    topicRoot,
    adminEmail,
    adminPassword,
    rest,
    login: async (email, password) =>
      (await rest<{ accessToken: string }>('POST', '/auth/login', undefined, { email, password })).accessToken,
    async connectDevice(device) {
      const existing = devices.find((c) => c.deviceId === device.id);
      if (existing) return existing;
      const client = new DeviceClient({ deviceId: device.id, secret: device.credentials.password, mqttUrl, topicRoot });
      await client.connect();
      devices.push(client);
      return client;
    },
    close,
  };
}

export interface Provisioned {
  id: string;
  credentials: { username: string; password: string };
}

/** Creates people and devices as an admin would, over REST. */
export class Seeder {
  constructor(
    private readonly stack: Stack,
    private readonly adminToken: string,
  ) {}

  async user(
    role: 'clinician' | 'patient',
    displayName: string,
    patientId?: string,
  ): Promise<{ id: string; email: string; password: string }> {
    const email = `${displayName.toLowerCase().replace(/[^a-z]+/g, '.')}@browser.test`;
    const password = `pw-${randomBytes(8).toString('hex')}`;
    const user = await this.stack.rest<{ id: string }>('POST', '/users', this.adminToken, {
      email,
      password,
      role,
      displayName,
      ...(patientId && { patientId }),
    });
    return { id: user.id, email, password };
  }

  async patient(displayName: string, mrn: string, careTeam: string[]): Promise<string> {
    const patient = await this.stack.rest<{ id: string }>('POST', '/patients', this.adminToken, { displayName, mrn });
    for (const clinicianId of careTeam)
      await this.stack.rest('POST', `/patients/${patient.id}/care-team`, this.adminToken, { clinicianId });
    return patient.id;
  }

  device(patientId: string, type: DeviceTypeKey, serial: string): Promise<Provisioned> {
    return this.stack.rest<Provisioned>('POST', '/devices', this.adminToken, { patientId, type, serial });
  }
}
