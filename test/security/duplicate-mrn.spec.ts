import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { AuditEntryDto } from '../../apps/api/src/audit/audit.dto.js';
import { bodyOf } from '../support/http.js';
import { ADMIN_EMAIL, ADMIN_PASSWORD, startApi, type ApiFixture } from '../api/api-fixture.js';

/**
 * Issue #14: a duplicate MRN answered a clinician 409 "A patient with MRN … already exists",
 * revealing a patient outside their care team. A clinician must not create a second record of one
 * person, and must not learn about another team's patient: the 409 is the same whichever team holds
 * the record and names nothing of it, each refusal is audited against that patient, and a clinician
 * who keeps hitting taken MRNs is stopped (docs/security.md, "Duplicate MRNs").
 */
let api: ApiFixture;
const token: Record<'admin' | 'inTeam' | 'outOfTeam', string> = { admin: '', inTeam: '', outOfTeam: '' };
const userId: Record<'inTeam' | 'outOfTeam', string> = { inTeam: '', outOfTeam: '' };
let held: string;
const MESSAGE =
  'A patient with this MRN already exists. If they are not among your patients, ask an administrator to add you to their care team.';

const createPatient = (who: keyof typeof token, body: object) =>
  api.http.post('/api/v1/patients').set('Authorization', `Bearer ${token[who]}`).send(body);

beforeAll(async () => {
  api = await startApi();
  token.admin = await api.login(ADMIN_EMAIL, ADMIN_PASSWORD);
  for (const who of ['inTeam', 'outOfTeam'] as const) {
    const email = `${who}@clinic.test`;
    const created = await api.http
      .post('/api/v1/users')
      .set('Authorization', `Bearer ${token.admin}`)
      .send({ email, password: 'a-long-password-1', role: 'clinician', displayName: who })
      .expect(201);
    userId[who] = (created.body as { id: string }).id;
    token[who] = await api.login(email, 'a-long-password-1');
  }
  held = (
    (await createPatient('admin', { displayName: 'Hidden Holder', mrn: 'MRN-HELD' }).expect(201)).body as {
      id: string;
    }
  ).id;
  await api.http
    .post(`/api/v1/patients/${held}/care-team`)
    .set('Authorization', `Bearer ${token.admin}`)
    .send({ clinicianId: userId.inTeam })
    .expect(201);
});

afterAll(async () => {
  await api?.close();
});

async function patientsWithMrn(mrn: string): Promise<number> {
  const [row] = await api.db.query<{ n: number }[]>(`SELECT count(*)::int AS n FROM patients WHERE mrn = $1`, [mrn]);
  return row.n;
}

describe('a duplicate MRN', () => {
  it('is refused with one answer whichever team holds the record, naming nothing of it', async () => {
    const outside = await createPatient('outOfTeam', { displayName: 'Someone', mrn: 'MRN-HELD' });
    const inside = await createPatient('inTeam', { displayName: 'Someone', mrn: 'MRN-HELD' });
    expect(outside.status).toBe(409);
    expect(outside.body).toEqual({ statusCode: 409, error: 'Conflict', message: MESSAGE });
    expect(inside.body).toEqual(outside.body);
    expect(JSON.stringify(outside.body)).not.toMatch(new RegExp(`${held}|Hidden Holder|inTeam`));
    expect(await patientsWithMrn('MRN-HELD')).toBe(1);
  });

  it('tells an admin, who sees every patient, which record holds it', async () => {
    const res = await createPatient('admin', { displayName: 'Again', mrn: 'MRN-HELD' });
    expect(res.status).toBe(409);
    expect(res.body).toEqual({
      statusCode: 409,
      error: 'Conflict',
      message: `A patient with this MRN already exists: ${held}`,
    });
  });

  it('is audited against the existing patient, with who asked', async () => {
    const res = await api.http
      .get(`/api/v1/audit?patientId=${held}`)
      .set('Authorization', `Bearer ${token.admin}`)
      .expect(200);
    const refusals = bodyOf<AuditEntryDto[]>(res).filter((e) => e.action === 'patient.create_duplicate_mrn');
    expect(refusals.map((e) => [e.actorId, e.details])).toEqual(
      expect.arrayContaining([
        [userId.outOfTeam, { mrn: 'MRN-HELD' }],
        [userId.inTeam, { mrn: 'MRN-HELD' }],
      ]),
    );
  });

  it('stops a clinician who keeps hitting taken MRNs (probing), but not their other work', async () => {
    const taken = Array.from({ length: 10 }, (_, i) => `MRN-TAKEN-${i}`);
    for (const mrn of taken) await createPatient('admin', { displayName: mrn, mrn }).expect(201);
    // One refusal was spent in the first test already.
    for (const mrn of taken.slice(0, 9)) await createPatient('outOfTeam', { displayName: 'Probe', mrn }).expect(409);
    const stopped = await createPatient('outOfTeam', { displayName: 'Probe', mrn: 'MRN-NEVER-USED' });
    expect(stopped.status).toBe(429);
    expect(stopped.body).toMatchObject({ statusCode: 429, error: 'Too Many Requests' });
    // A 201 for a free MRN would tell the two apart: creates with an MRN are all refused for now.
    expect(await patientsWithMrn('MRN-NEVER-USED')).toBe(0);
    await createPatient('outOfTeam', { displayName: 'Without an MRN' }).expect(201);
    // Another clinician is not affected, and a free MRN is created as always.
    await createPatient('inTeam', { displayName: 'New one', mrn: 'MRN-FREE' }).expect(201);
  });
});
