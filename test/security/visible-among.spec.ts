import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { PatientAccessService, type Principal } from '@lantern/auth';
import { CareCircleRepository, CareTeamRepository, PatientRepository } from '@lantern/storage';
import { TestData } from '../support/builders.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';

/**
 * The live access re-check asks visibleAmong once per person instead of canSeePatient once per
 * subscription: for every role the answer must be the same patients, whatever the case of the ids.
 */
describe('PatientAccessService.visibleAmong: canSeePatient for many patients at once', () => {
  let db: TestDatabase;
  let access: PatientAccessService;
  let people: TestData;
  let onTeam: string;
  let offTeam: string;
  let revoked: string;
  const unknown = randomUUID();

  beforeAll(async () => {
    db = await createTestDatabase();
    const ds = db.dataSource;
    access = new PatientAccessService(
      new PatientRepository(ds),
      new CareTeamRepository(ds),
      new CareCircleRepository(ds),
    );
    people = new TestData(ds);
    [onTeam, offTeam, revoked] = [await people.patient('On'), await people.patient('Off'), await people.patient('Rev')];
  });

  afterAll(async () => {
    await db?.drop();
  });

  async function share(patientId: string, caregiver: Principal, revokedAt: Date | null): Promise<void> {
    await db.dataSource.query(
      `INSERT INTO caregiver_shares (patient_id, email, scopes, caregiver_id, invited_by, accepted_at, revoked_at)
       VALUES ($1, $2, ARRAY['alerts'], $3, $3, now(), $4)`,
      [patientId, caregiver.email, caregiver.userId, revokedAt],
    );
  }

  async function expectSameAsOneByOne(principal: Principal, expected: string[]): Promise<void> {
    const ids = [onTeam, offTeam, revoked, unknown, onTeam.toUpperCase(), 'not-a-uuid'];
    const oneByOne = new Set<string>();
    for (const id of ids) if (await access.canSeePatient(principal, id)) oneByOne.add(id.toLowerCase());
    expect([...(await access.visibleAmong(principal, ids))].sort()).toEqual([...oneByOne].sort());
    expect([...oneByOne].sort()).toEqual([...expected].sort());
  }

  it('admin: every patient that exists', async () => {
    await expectSameAsOneByOne(await people.user('admin'), [onTeam, offTeam, revoked]);
  });

  it("clinician: the patients of the clinician's care team", async () => {
    const clinician = await people.user('clinician');
    await people.careTeam(onTeam, clinician.userId);
    await expectSameAsOneByOne(clinician, [onTeam]);
  });

  it('patient: only their own record', async () => {
    await expectSameAsOneByOne(await people.user('patient', offTeam), [offTeam]);
  });

  it('caregiver: the patients who share anything with them, not a revoked share', async () => {
    const caregiver = await people.user('caregiver');
    await share(onTeam, caregiver, null);
    await share(revoked, caregiver, new Date());
    await expectSameAsOneByOne(caregiver, [onTeam]);
  });

  it('no ids, or none valid: nobody asked', async () => {
    expect((await access.visibleAmong(await people.user('admin'), ['nope'])).size).toBe(0);
  });
});
