import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import pg from 'pg';
import { DataSource } from 'typeorm';
import {
  AuditRepository,
  ReadingHistoryRepository,
  ReadingPartitions,
  ReadingRepository,
  ReadingRollupService,
  StorageMaintenanceService,
  createDataSource,
  detectStorageMode,
  migrateAsOwner,
  partitionName,
  runMigrations,
} from '@lantern/storage';
import { ADMIN_EMAIL, ADMIN_PASSWORD, startApi, type ApiFixture } from '../api/api-fixture.js';
import { TEST_APP_LOGIN, appLoginUrl, createTestDatabase, type TestDatabase } from '../support/database.js';
import { bodyOf } from '../support/http.js';
import { startTimescale, type TimescaleServer } from '../support/timescale.js';
import { DAY, newPatient, series, MAINTENANCE_SETTINGS } from '../storage/readings-fixture.js';
import type { PatientDto } from '../../apps/api/src/patients/patient.dto.js';
import type { ProvisionedDeviceDto } from '../../apps/api/src/devices/device.dto.js';
import type { UserDto } from '../../apps/api/src/users/user.dto.js';

const auth = (token: string) => ({ Authorization: `Bearer ${token}` });

/** What PostgreSQL answers a refused statement: its SQLSTATE and message. */
async function refusal(run: () => Promise<unknown>): Promise<string> {
  try {
    await run();
  } catch (error) {
    const { code, message } = error as { code?: string; message: string };
    return `${code} ${message}`;
  }
  return 'accepted';
}

/**
 * Issue 14: the apps connect as a login in lantern_app, which has no DDL rights and may only
 * append to (and read) the audit log; migrations run as the owner; the audit log refuses UPDATE,
 * DELETE and TRUNCATE even to the owner. Each is tried from outside, as the login the apps use.
 */
describe('database roles: the apps without DDL rights, the audit log append-only (issue 14)', () => {
  let database: TestDatabase;
  /** The database as the apps see it: the test app login, a member of lantern_app. */
  let app: DataSource;

  beforeAll(async () => {
    database = await createTestDatabase();
    app = createDataSource({ url: await appLoginUrl(database.url), poolSize: 2, applicationName: 'lantern-test-app' });
    await app.initialize();
  });

  afterAll(async () => {
    if (app?.isInitialized) await app.destroy();
    await database?.drop();
  });

  it('connects as the app login, which is neither the owner nor a superuser', async () => {
    const [me] = await app.query<{ user: string; superuser: boolean; owner: string }[]>(
      `SELECT current_user AS user, (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) AS superuser,
              pg_get_userbyid(c.relowner) AS owner
         FROM pg_class c WHERE c.oid = 'audit_log'::regclass`,
    );
    expect(me).toEqual({ user: TEST_APP_LOGIN, superuser: false, owner: 'postgres' });
  });

  it('the app login may not create, alter or drop anything', async () => {
    expect(await refusal(() => app.query(`CREATE TABLE stolen (x int)`))).toMatch(/^42501 permission denied/);
    expect(await refusal(() => app.query(`CREATE SCHEMA stolen`))).toMatch(/^42501 permission denied/);
    expect(await refusal(() => app.query(`ALTER TABLE patients ADD COLUMN note text`))).toMatch(/^42501 must be owner/);
    expect(await refusal(() => app.query(`DROP TABLE audit_log`))).toMatch(/^42501 must be owner/);
    expect(await refusal(() => app.query(`ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only`))).toMatch(
      /^42501 must be owner/,
    );
    expect(await refusal(() => app.query(`INSERT INTO migrations (timestamp, name) VALUES (1, 'Forged1')`))).toMatch(
      /^42501 permission denied/,
    );
  });

  it('audit_log: the app login appends and reads, and may not UPDATE, DELETE or TRUNCATE it', async () => {
    const audit = new AuditRepository(app);
    await audit.append({ action: 'test.appended', details: { by: 'app login' } });
    const [entry] = await audit.list({ limit: 1 });
    expect(entry).toMatchObject({ action: 'test.appended', details: { by: 'app login' } });
    expect(await refusal(() => app.query(`UPDATE audit_log SET action = 'test.rewritten'`))).toMatch(
      /^42501 permission denied for table audit_log/,
    );
    expect(await refusal(() => app.query(`DELETE FROM audit_log`))).toMatch(
      /^42501 permission denied for table audit_log/,
    );
    expect(await refusal(() => app.query(`TRUNCATE audit_log`))).toMatch(
      /^42501 permission denied for table audit_log/,
    );
    expect((await audit.list({ limit: 10 })).map((e) => e.action)).toContain('test.appended');
  });

  it('audit_log: even the owner cannot UPDATE, DELETE or TRUNCATE it (a trigger; retention disables it explicitly)', async () => {
    const owner = database.dataSource;
    await new AuditRepository(owner).append({ action: 'test.kept' });
    for (const sql of [
      `UPDATE audit_log SET action = 'test.rewritten'`,
      `DELETE FROM audit_log`,
      // A statement trigger: refused even when no row matches.
      `DELETE FROM audit_log WHERE false`,
      `TRUNCATE audit_log`,
    ])
      expect(await refusal(() => owner.query(sql))).toMatch(/^42501 audit_log is append-only/);
    expect(await owner.query(`SELECT action FROM audit_log WHERE action = 'test.kept'`)).toHaveLength(1);

    // Retention, if ever needed, is the owner's explicit act (docs/security.md): shown, and undone.
    const runner = owner.createQueryRunner();
    await runner.startTransaction();
    try {
      await runner.query(`ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only`);
      await runner.query(`DELETE FROM audit_log WHERE action = 'test.kept'`);
    } finally {
      await runner.rollbackTransaction();
      await runner.release();
    }
    expect(await owner.query(`SELECT action FROM audit_log WHERE action = 'test.kept'`)).toHaveLength(1);
  });

  it('PostgreSQL mode: the app login creates the partition of a new day and drops old ones (owner functions)', async () => {
    expect(await detectStorageMode(app)).toBe('postgres');
    const partitions = new ReadingPartitions(app);
    const readings = new ReadingRepository(app, 'postgres', partitions);
    const day = Date.UTC(2031, 4, 17);
    const partitionOwner = async (name: string): Promise<string | undefined> =>
      (
        await app.query<{ owner: string }[]>(
          `SELECT pg_get_userbyid(relowner) AS owner FROM pg_class WHERE oid = to_regclass($1)`,
          [name],
        )
      )[0]?.owner;
    expect(await partitionOwner(partitionName(day))).toBeUndefined();

    const patient = newPatient();
    const batch = series(patient, 'heart_rate', day + 3_600_000, day + 3_660_000, 15_000, (i) => 60 + i);
    expect(await readings.insertBatch(batch)).toBe(batch.length);
    expect(await partitionOwner(partitionName(day))).toBe('postgres');
    await partitions.ensureAhead(day + 10 * DAY, 1);
    expect(await partitionOwner(partitionName(day + 11 * DAY))).toBe('postgres');

    expect(await partitions.dropBefore(day + DAY)).toEqual([partitionName(day)]);
    expect(await partitionOwner(partitionName(day))).toBeUndefined();
    expect(await partitionOwner(partitionName(day + 10 * DAY))).toBe('postgres');
    // The functions are the app role's only way in: no DROP of its own.
    expect(await refusal(() => app.query(`DROP TABLE ${partitionName(day + 10 * DAY)}`))).toMatch(
      /^42501 must be owner/,
    );
  });

  it('migrations run as the owner of DATABASE_MIGRATION_URL; the app login cannot run them itself', async () => {
    const admin = new pg.Client({ connectionString: database.url });
    await admin.connect();
    const name = `lantern_test_fresh_${randomBytes(4).toString('hex')}`;
    await admin.query(`CREATE DATABASE ${name}`);
    await admin.end();
    const ownerUrl = new URL(database.url);
    ownerUrl.pathname = `/${name}`;
    const appUrl = await appLoginUrl(ownerUrl.toString());
    const fresh = createDataSource({ url: appUrl, poolSize: 2, applicationName: 'lantern-test-app' });
    // Its own data source: TypeORM keeps the connection of a migration run that failed.
    const refused = createDataSource({ url: appUrl, poolSize: 2, applicationName: 'lantern-test-app' });
    await fresh.initialize();
    await refused.initialize();
    try {
      expect(await refusal(() => runMigrations(refused))).toMatch(/^42501 permission denied for schema public/);
      const ran = await migrateAsOwner(fresh, ownerUrl.toString());
      expect(ran).toContain('AppRole1766000000000');
      // Now the app login finds nothing pending and works with the tables.
      expect(await migrateAsOwner(fresh, undefined)).toEqual([]);
      await new AuditRepository(fresh).append({ action: 'test.after_migration' });
    } finally {
      await fresh.destroy();
      await refused.destroy();
      const cleanup = new pg.Client({ connectionString: database.url });
      await cleanup.connect();
      await cleanup.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await cleanup.end();
    }
  });
});

describe('the api running as the app login (issue 14)', () => {
  let api: ApiFixture;

  beforeAll(async () => {
    api = await startApi({}, { asAppRole: true });
  });

  afterAll(async () => {
    await api?.close();
  });

  it('serves the usual REST flows, each change audited', async () => {
    const [{ user }] = await api.app.get(DataSource).query<{ user: string }[]>(`SELECT current_user AS user`);
    expect(user).toBe(TEST_APP_LOGIN);

    const admin = await api.login(ADMIN_EMAIL, ADMIN_PASSWORD);
    const patient = bodyOf<PatientDto>(
      await api.http.post('/api/v1/patients').set(auth(admin)).send({ displayName: 'Role Test' }).expect(201),
    );
    const clinician = bodyOf<UserDto>(
      await api.http
        .post('/api/v1/users')
        .set(auth(admin))
        .send({ email: 'doc@roles.test', password: 'a-long-password-1', role: 'clinician', displayName: 'Doc' })
        .expect(201),
    );
    await api.http
      .post(`/api/v1/patients/${patient.id}/care-team`)
      .set(auth(admin))
      .send({ clinicianId: clinician.id })
      .expect(201);
    const doc = await api.login('doc@roles.test', 'a-long-password-1');
    const device = bodyOf<ProvisionedDeviceDto>(
      await api.http.post('/api/v1/devices').set(auth(doc)).send({ patientId: patient.id, type: 'cgm' }).expect(201),
    );
    await api.http.post(`/api/v1/devices/${device.id}/rotate-secret`).set(auth(doc)).expect(200);
    await api.http
      .put(`/api/v1/patients/${patient.id}/alert-rules/glucose.urgent_low`)
      .set(auth(doc))
      .send({ enabled: false })
      .expect(200);
    const [{ id: alertId }] = await api.db.query<{ id: string }[]>(
      `INSERT INTO alerts (patient_id, rule, metric, priority, state, message, value, peak_value, opened_at, last_triggered_at)
       VALUES ($1, 'glucose.low', 'glucose', 'high', 'open', 'Glucose 60 mg/dL', 60, 58, now(), now())
       RETURNING id::text`,
      [patient.id],
    );
    await api.http.post(`/api/v1/alerts/${alertId}/acknowledge`).set(auth(doc)).send({ note: 'seen' }).expect(200);
    await api.http.get(`/api/v1/patients/${patient.id}/latest`).set(auth(doc)).expect(200);
    await api.http.patch(`/api/v1/users/${clinician.id}`).set(auth(admin)).send({ disabled: true }).expect(200);
    await api.http.get('/api/v1/patients').set(auth(doc)).expect(401);

    const actions = (await api.db.query<{ action: string }[]>(`SELECT action FROM audit_log ORDER BY id`)).map(
      (row) => row.action,
    );
    for (const action of [
      'patient.create',
      'user.create',
      'care_team.add',
      'device.create',
      'device.rotate_secret',
      'alert_rule.update',
      'alert.acknowledge',
      'readings.latest',
      'user.disable',
    ])
      expect(actions).toContain(action);
  });
});

const settings = MAINTENANCE_SETTINGS;

describe('TimescaleDB mode as the app role (PGlite)', () => {
  let server: TimescaleServer;
  let ts: DataSource;

  beforeAll(async () => {
    server = await startTimescale();
    // One connection (PGlite): migrated as the owner, then that session becomes the app role.
    ts = createDataSource({ url: server.url, poolSize: 1 });
    await ts.initialize();
    await runMigrations(ts);
    await ts.query(`SET ROLE lantern_app`);
  });

  afterAll(async () => {
    await ts?.destroy();
    await server?.stop();
  });

  it('applies the policies through the owner function, stores and reads readings, and creates nothing itself', async () => {
    expect(await refusal(() => ts.query(`CREATE TABLE stolen (x int)`))).toMatch(/^42501 permission denied/);
    await new StorageMaintenanceService(
      ts,
      'timescaledb',
      settings,
      new ReadingRollupService(ts),
      new ReadingPartitions(ts),
    ).applyTimescalePolicies();
    const jobs = await ts.query<{ n: number }[]>(
      `SELECT count(*)::int AS n FROM timescaledb_information.jobs WHERE hypertable_name IS NOT NULL`,
    );
    expect(jobs[0].n).toBe(6);

    const readings = new ReadingRepository(ts, 'timescaledb', new ReadingPartitions(ts));
    const patient = newPatient();
    const from = Math.floor(Date.now() / 3_600_000) * 3_600_000 - 3 * DAY;
    // Three days: the hypertable gets chunks the app role never created itself.
    const batch = series(patient, 'glucose', from, from + 3 * DAY, 3_600_000, (i) => 100 + i);
    expect(await readings.insertBatch(batch)).toBe(batch.length);
    const buckets = await new ReadingHistoryRepository(ts, 'timescaledb').bucketed(patient.patientId, {
      metric: 'glucose',
      from,
      to: from + 3 * DAY,
      bucket: '1h',
    });
    expect(buckets).toHaveLength(batch.length);
    expect(await refusal(() => ts.query(`UPDATE audit_log SET action = 'x'`))).toMatch(/^42501 permission denied/);
  });
});
