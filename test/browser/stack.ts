import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { INestApplicationContext } from '@nestjs/common';
import type { DeviceTypeKey } from '@lantern/domain';
import { DeviceClient } from '../../device-simulator/src/device-client.js';
import {
  ADMIN_EMAIL,
  ADMIN_PASSWORD,
  ingestEnvironment,
  startApi,
  startIngest,
  type ApiFixture,
} from '../support/boot.js';
import { createTestDatabase } from '../support/database.js';
import { uniqueTopicRoot } from '../support/mqtt.js';

/**
 * The real thing, in this process, booted the way every other test boots it (test/support/boot.ts):
 * a fresh PostgreSQL database, the api (REST, /live, the dashboard at /) on a free port and the
 * ingest role, both on the machine's Mosquitto under a topic root of their own. The browser reaches
 * everything only through the public contract.
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
  const db = await createTestDatabase({ poolSize: 2 });
  const dataDir = mkdtempSync(join(tmpdir(), 'lantern-browser-'));
  const topicRoot = uniqueTopicRoot('browser');
  const mqttUrl = process.env.MQTT_URL ?? 'mqtt://127.0.0.1:1883';
  let api: ApiFixture | undefined;
  let ingest: INestApplicationContext | undefined;
  const devices: DeviceClient[] = [];
  const close = async (): Promise<void> => {
    await Promise.all(devices.map((d) => d.close().catch(() => undefined)));
    await ingest?.close().catch(() => undefined);
    await api?.close().catch(() => undefined);
    await db.drop().catch(() => undefined);
    rmSync(dataDir, { recursive: true, force: true });
  };
  try {
    // The dashboard's monitoring banner judges the ingest too, as in production.
    api = await startApi(
      { DATA_DIR: dataDir, HEALTH_REQUIRE_INGEST: 'true', LOG_LEVEL: 'error' },
      { database: db, topicRoot, listen: true },
    );
    ingest = await startIngest(
      ingestEnvironment({
        databaseUrl: db.url,
        mqttUrl,
        topicRoot,
        clientId: `lantern-ingest-browser-${randomBytes(4).toString('hex')}`,
        extra: { DATA_DIR: dataDir, SIGNAL_LOSS_SWEEP_MS: '1000', LOG_LEVEL: 'error' },
      }),
    );
  } catch (error) {
    await close();
    throw error;
  }
  const url = api.url;

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
    adminEmail: ADMIN_EMAIL,
    adminPassword: ADMIN_PASSWORD,
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
