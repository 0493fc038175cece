import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Browser } from 'playwright-core';
import type { PatientSettingsResource } from '@lantern/domain';
import { PHONE, launchChromium, openUser, signIn, type PageProblems } from './browser.js';
import { Seeder, startStack, type Stack } from './stack.js';
import { waitFor } from '../support/wait.js';

/**
 * The patient's "Quiet hours" card in Debian's chromium (docs/alerting.md, "Quiet hours"): found by
 * its labels, saved through PUT /me/settings, a refused zone explained in place, and turned off.
 */
describe('quiet hours in a real browser', () => {
  let stack: Stack;
  let browser: Browser;
  let patientUser: { email: string; password: string };
  const problems: PageProblems[] = [];

  beforeAll(async () => {
    stack = await startStack();
    browser = await launchChromium();
    const admin = await stack.login(stack.adminEmail, stack.adminPassword);
    const seed = new Seeder(stack, admin);
    const clinician = await seed.user('clinician', 'Dr Ines Varga');
    const patient = await seed.patient('Noor Haddad', '007701', [clinician.id]);
    patientUser = await seed.user('patient', 'Noor Haddad', patient);
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await stack?.close();
  });

  it('sets quiet hours across midnight, explains a bad time zone, and turns them off', async () => {
    const p = await openUser(browser, stack.url, PHONE);
    problems.push(p.problems);
    await signIn(p.page, patientUser.email, patientUser.password);
    const card = p.page.locator('[data-section="quiet-hours"]');
    await card.getByRole('heading', { name: 'Quiet hours' }).waitFor({ timeout: 15_000 });
    const status = card.getByRole('status');
    await waitFor(async () => /Quiet hours are off/.test((await status.textContent()) ?? ''), 'the setting loaded');

    await card.getByLabel('From').fill('21:30');
    await card.getByLabel('Until').fill('06:45');
    await card.getByLabel('Time zone').fill('Mars/Olympus');
    await card.getByRole('button', { name: 'Save quiet hours' }).click();
    await waitFor(
      async () => /IANA time zone/.test((await card.getByRole('alert').textContent()) ?? ''),
      'the refusal shown',
    );

    await card.getByLabel('Time zone').fill('Asia/Tokyo');
    await card.getByRole('button', { name: 'Save quiet hours' }).click();
    await waitFor(
      async () => (await status.textContent()) === 'Quiet hours are on: from 21:30 to 06:45 (Asia/Tokyo).',
      'the saved window shown',
    );
    await expect(card.getByRole('alert').textContent()).resolves.toBe('');
    const token = await stack.login(patientUser.email, patientUser.password);
    expect((await stack.rest<PatientSettingsResource>('GET', '/me/settings', token)).quietHours).toEqual({
      start: '21:30',
      end: '06:45',
      timeZone: 'Asia/Tokyo',
    });

    await card.getByRole('button', { name: 'Turn quiet hours off' }).click();
    await waitFor(async () => /Quiet hours are off/.test((await status.textContent()) ?? ''), 'turned off');
    expect((await stack.rest<PatientSettingsResource>('GET', '/me/settings', token)).quietHours).toBeNull();
    expect(problems.flatMap((x) => [...x.pageErrors, ...x.offOrigin])).toEqual([]);
  });
});
