import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import type { INestApplication } from '@nestjs/common';
import mqtt, { type MqttClient } from 'mqtt';
import { io, type Socket } from 'socket.io-client';
import type { DataSource } from 'typeorm';
import { SessionService, type IssuedSession, type Principal } from '@lantern/auth';
import type { DeviceTypeKey, LiveClientToServerEvents, LiveServerToClientEvents, Role } from '@lantern/domain';
import { ServiceMqttClient } from '@lantern/messaging';
import { UserRepository } from '@lantern/storage';
import { createApiApp } from '../../apps/api/src/create-api-app.js';
import { TEST_VAPID } from '../support/vapid.js';
import { LiveRoutingService } from '../../apps/api/src/live/live-routing.service.js';
import { API_BROKER } from '../../apps/api/src/broker/api-broker.tokens.js';

export type LiveClient = Socket<LiveServerToClientEvents, LiveClientToServerEvents>;

/** Sets the environment the api reads at start: its own topic root, the test database, a fixed JWT secret. */
export function liveTestEnv(databaseUrl: string, extra: Record<string, string> = {}): string {
  const root = `test-live-${randomBytes(4).toString('hex')}/v1`;
  Object.assign(process.env, {
    NODE_ENV: 'test',
    DATABASE_URL: databaseUrl,
    MQTT_TOPIC_ROOT: root,
    JWT_SECRET: 'live-test-secret-that-is-long-enough-0123456789',
    LOG_LEVEL: 'error',
    ...TEST_VAPID,
    ...extra,
  });
  return root;
}

export interface RunningApi {
  readonly app: INestApplication;
  readonly url: string;
  readonly routing: LiveRoutingService;
  readonly mqtt: ServiceMqttClient;
  /** Signs `principal`'s user in (a real login, as POST /auth/login starts one, without the password). */
  session(principal: Principal): Promise<IssuedSession>;
  /** The access token of a fresh login of `principal`'s user. */
  token(principal: Principal): Promise<string>;
  close(): Promise<void>;
}

/** Boots the whole api role (ApiModule + configureApp) on a free port, as `main.ts` does. */
export async function startApi(): Promise<RunningApi> {
  const app = await createApiApp({ logLevel: 'error' });
  await app.listen(0, '127.0.0.1');
  await app.get<ServiceMqttClient>(API_BROKER).whenConnected();
  const { port } = app.getHttpServer().address() as AddressInfo;
  const session = async (principal: Principal): Promise<IssuedSession> => {
    const user = await app.get(UserRepository).findCredentialsById(principal.userId);
    if (user === undefined) throw new Error(`no user ${principal.userId}`);
    return app.get(SessionService).start(user, {});
  };
  return {
    app,
    url: `http://127.0.0.1:${port}`,
    routing: app.get(LiveRoutingService),
    mqtt: app.get<ServiceMqttClient>(API_BROKER),
    session,
    token: async (principal) => (await session(principal)).accessToken,
    close: () => app.close(),
  };
}

/** Connects to `/live`; resolves when connected, rejects with the server's connect error. */
export async function connectLive(url: string, token: unknown): Promise<LiveClient> {
  const socket: LiveClient = io(`${url}/live`, {
    auth: token === undefined ? {} : { token },
    transports: ['websocket'],
    reconnection: false,
    forceNew: true,
  });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', () => resolve());
    socket.once('connect_error', (error) => {
      socket.close();
      reject(error);
    });
  });
  return socket;
}

/** Sends `subscribe`/`unsubscribe` (or anything else) and resolves with the acknowledgement. */
export function ask(socket: LiveClient, event: 'subscribe' | 'unsubscribe', body: unknown): Promise<unknown> {
  return (
    socket.timeout(5000) as unknown as { emitWithAck(event: string, body: unknown): Promise<unknown> }
  ).emitWithAck(event, body);
}

/** Collects every server event a socket receives, by name. */
export function record(socket: LiveClient): Record<keyof LiveServerToClientEvents, unknown[]> {
  const seen: Record<keyof LiveServerToClientEvents, unknown[]> = {
    reading: [],
    alert: [],
    device: [],
    notification: [],
    unauthorized: [],
  };
  socket.on('reading', (e) => seen.reading.push(e));
  socket.on('alert', (e) => seen.alert.push(e));
  socket.on('device', (e) => seen.device.push(e));
  socket.on('notification', (e) => seen.notification.push(e));
  socket.on('unauthorized', (e) => seen.unauthorized.push(e));
  return seen;
}

/** Rows straight into the tables, so these tests depend on nothing but the schema. */
export class PeopleBuilder {
  constructor(private readonly db: DataSource) {}

  async patient(name = 'Test Patient'): Promise<string> {
    const rows: { id: string }[] = await this.db.query(`INSERT INTO patients (display_name) VALUES ($1) RETURNING id`, [
      name,
    ]);
    return rows[0].id;
  }

  async user(role: Role, patientId?: string): Promise<Principal> {
    const email = `${role}-${randomBytes(4).toString('hex')}@test.local`;
    const rows: { id: string }[] = await this.db.query(
      `INSERT INTO users (email, password_hash, role, display_name, patient_id) VALUES ($1, 'x', $2, $1, $3) RETURNING id`,
      [email, role, patientId ?? null],
    );
    return patientId === undefined
      ? { userId: rows[0].id, role, email }
      : { userId: rows[0].id, role, email, patientId };
  }

  async careTeam(patientId: string, clinicianId: string): Promise<void> {
    await this.db.query(`INSERT INTO care_team_members (patient_id, clinician_id) VALUES ($1, $2)`, [
      patientId,
      clinicianId,
    ]);
  }

  async device(patientId: string, type: DeviceTypeKey, createdAt?: Date): Promise<string> {
    const rows: { id: string }[] = await this.db.query(
      `INSERT INTO devices (patient_id, type, secret_hash, created_at) VALUES ($1, $2, 'sha256:x', coalesce($3, now())) RETURNING id`,
      [patientId, type, createdAt ?? null],
    );
    return rows[0].id;
  }
}

/** A plain publisher standing in for the ingest role and for devices. */
export async function connectPublisher(): Promise<MqttClient> {
  const client = mqtt.connect(process.env.MQTT_URL ?? 'mqtt://127.0.0.1:1883', {
    protocolVersion: 5,
    clientId: `live-test-pub-${randomBytes(4).toString('hex')}`,
  });
  await new Promise<void>((resolve, reject) => {
    client.once('connect', () => resolve());
    client.once('error', reject);
  });
  return client;
}
