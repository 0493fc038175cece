import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { ADMIN_EMAIL, ADMIN_PASSWORD, startApi, type ApiFixture } from '../api/api-fixture.js';
import { bodyOf } from '../support/http.js';
import type { PatientDto } from '../../apps/api/src/patients/patient.dto.js';
import type { ProvisionedDeviceDto } from '../../apps/api/src/devices/device.dto.js';
import type { UserDto } from '../../apps/api/src/users/user.dto.js';

const auth = (token: string) => ({ Authorization: `Bearer ${token}` });

/**
 * Issue 14: a change and its audit entry are one transaction. The audit insert is made to fail from
 * outside (a trigger in the test database refuses one action), then the change's route is called:
 * the request fails and the change is not stored. When the entry was written after the change, the
 * change stuck (for rotate-secret, a new secret nobody was told and nobody recorded).
 */
describe('an audited change and its audit entry commit together (issue 14)', () => {
  let api: ApiFixture;
  let admin: string;
  let patientId: string;

  /** From now on the audit log refuses entries of `action` (as a full disk or a lost grant would). */
  const refuseAudit = async (action: string): Promise<void> => {
    await api.db.query(`UPDATE audit_refusals SET action = $1`, [action]);
  };
  const count = async (sql: string, params: unknown[] = []): Promise<number> =>
    (await api.db.query<{ n: number }[]>(`SELECT count(*)::int AS n FROM (${sql}) s`, params))[0].n;

  beforeAll(async () => {
    api = await startApi();
    admin = await api.login(ADMIN_EMAIL, ADMIN_PASSWORD);
    patientId = bodyOf<PatientDto>(
      await api.http.post('/api/v1/patients').set(auth(admin)).send({ displayName: 'Audited' }).expect(201),
    ).id;
    await api.db.query(`CREATE TABLE audit_refusals (action text)`);
    await api.db.query(`INSERT INTO audit_refusals VALUES (NULL)`);
    await api.db.query(`
      CREATE FUNCTION refuse_audit() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF NEW.action = (SELECT action FROM audit_refusals) THEN
          RAISE EXCEPTION 'audit insert refused for %', NEW.action;
        END IF;
        RETURN NEW;
      END $$`);
    await api.db.query(
      `CREATE TRIGGER refuse_audit BEFORE INSERT ON audit_log FOR EACH ROW EXECUTE FUNCTION refuse_audit()`,
    );
  });

  beforeEach(() => refuseAudit(''));

  afterAll(async () => {
    await api?.close();
  });

  it('rotate-secret: the request fails and the stored secret is the old one', async () => {
    const device = bodyOf<ProvisionedDeviceDto>(
      await api.http.post('/api/v1/devices').set(auth(admin)).send({ patientId, type: 'cgm' }).expect(201),
    );
    const hashOf = async () =>
      (await api.db.query<{ h: string }[]>(`SELECT secret_hash AS h FROM devices WHERE id = $1`, [device.id]))[0].h;
    const before = await hashOf();
    await refuseAudit('device.rotate_secret');
    const res = await api.http.post(`/api/v1/devices/${device.id}/rotate-secret`).set(auth(admin));
    expect(res.status).toBe(500);
    expect(JSON.stringify(res.body)).not.toContain('password');
    expect(await hashOf()).toBe(before);
  });

  it('device create and decommission: nothing stored without its entry', async () => {
    await refuseAudit('device.create');
    const before = await count(`SELECT 1 FROM devices`);
    expect((await api.http.post('/api/v1/devices').set(auth(admin)).send({ patientId, type: 'cgm' })).status).toBe(500);
    expect(await count(`SELECT 1 FROM devices`)).toBe(before);

    await refuseAudit('');
    const device = bodyOf<ProvisionedDeviceDto>(
      await api.http.post('/api/v1/devices').set(auth(admin)).send({ patientId, type: 'cgm' }).expect(201),
    );
    await refuseAudit('device.decommission');
    expect((await api.http.delete(`/api/v1/devices/${device.id}`).set(auth(admin))).status).toBe(500);
    expect(await count(`SELECT 1 FROM devices WHERE id = $1 AND decommissioned_at IS NULL`, [device.id])).toBe(1);
  });

  it('alert acknowledge: the request fails and the alert is still open', async () => {
    const [{ id }] = await api.db.query<{ id: string }[]>(
      `INSERT INTO alerts (patient_id, rule, metric, priority, state, message, value, peak_value, opened_at, last_triggered_at)
       VALUES ($1, 'glucose.urgent_low', 'glucose', 'high', 'open', 'Glucose 48 mg/dL', 48, 45, now(), now())
       RETURNING id::text`,
      [patientId],
    );
    await refuseAudit('alert.acknowledge');
    const res = await api.http.post(`/api/v1/alerts/${id}/acknowledge`).set(auth(admin)).send({});
    expect(res.status).toBe(500);
    expect(await count(`SELECT 1 FROM alerts WHERE id = $1 AND state = 'open' AND acknowledged_at IS NULL`, [id])).toBe(
      1,
    );
    expect(await count(`SELECT 1 FROM patient_notifications WHERE alert_id = $1`, [id])).toBe(0);
  });

  it('alert rule change: the override is not stored', async () => {
    await refuseAudit('alert_rule.update');
    const res = await api.http
      .put(`/api/v1/patients/${patientId}/alert-rules/glucose.urgent_low`)
      .set(auth(admin))
      .send({ enabled: false });
    expect(res.status).toBe(500);
    expect(await count(`SELECT 1 FROM alert_rule_overrides WHERE patient_id = $1`, [patientId])).toBe(0);
  });

  it('patient create: no patient without its entry', async () => {
    await refuseAudit('patient.create');
    const res = await api.http.post('/api/v1/patients').set(auth(admin)).send({ displayName: 'Never stored' });
    expect(res.status).toBe(500);
    expect(await count(`SELECT 1 FROM patients WHERE display_name = 'Never stored'`)).toBe(0);
  });

  it('user create and disable: nothing changes, the user keeps their login', async () => {
    await refuseAudit('user.create');
    const refused = await api.http
      .post('/api/v1/users')
      .set(auth(admin))
      .send({ email: 'ghost@clinic.test', password: 'a-long-password-1', role: 'clinician', displayName: 'Ghost' });
    expect(refused.status).toBe(500);
    expect(await count(`SELECT 1 FROM users WHERE email = 'ghost@clinic.test'`)).toBe(0);

    await refuseAudit('');
    const user = bodyOf<UserDto>(
      await api.http
        .post('/api/v1/users')
        .set(auth(admin))
        .send({ email: 'doc@clinic.test', password: 'a-long-password-1', role: 'clinician', displayName: 'Doc' })
        .expect(201),
    );
    const doc = await api.login('doc@clinic.test', 'a-long-password-1');
    await refuseAudit('user.disable');
    expect((await api.http.patch(`/api/v1/users/${user.id}`).set(auth(admin)).send({ disabled: true })).status).toBe(
      500,
    );
    expect(await count(`SELECT 1 FROM users WHERE id = $1 AND disabled_at IS NULL`, [user.id])).toBe(1);
    // Their login was not ended either.
    await api.http.get('/api/v1/patients').set(auth(doc)).expect(200);
  });

  it('password reset: the old password still works', async () => {
    await api.http
      .post('/api/v1/users')
      .set(auth(admin))
      .send({ email: 'nurse@clinic.test', password: 'a-long-password-1', role: 'clinician', displayName: 'Nurse' })
      .expect(201);
    const [{ id }] = await api.db.query<{ id: string }[]>(`SELECT id::text FROM users WHERE email = $1`, [
      'nurse@clinic.test',
    ]);
    await refuseAudit('user.password_reset');
    expect((await api.http.post(`/api/v1/users/${id}/reset-password`).set(auth(admin))).status).toBe(500);
    await refuseAudit('');
    await api.login('nurse@clinic.test', 'a-long-password-1');
  });

  it('login: no session is started without its entry', async () => {
    const before = await count(`SELECT 1 FROM sessions`);
    await refuseAudit('auth.login');
    const res = await api.http.post('/api/v1/auth/login').send({ email: ADMIN_EMAIL, password: ADMIN_PASSWORD });
    expect(res.status).toBe(500);
    expect(await count(`SELECT 1 FROM sessions`)).toBe(before);
  });

  it('a change whose entry is written commits both', async () => {
    const before = await count(`SELECT 1 FROM audit_log WHERE action = 'patient.create'`);
    await api.http.post('/api/v1/patients').set(auth(admin)).send({ displayName: 'Stored' }).expect(201);
    expect(await count(`SELECT 1 FROM audit_log WHERE action = 'patient.create'`)).toBe(before + 1);
    expect(await count(`SELECT 1 FROM patients WHERE display_name = 'Stored'`)).toBe(1);
  });
});
