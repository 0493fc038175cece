import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { PHONE, launchChromium, openUser, signIn, type PageProblems } from './browser.js';
import { Seeder, startStack, type Provisioned, type Stack } from './stack.js';
import { waitFor } from '../support/wait.js';

const IMG = join(process.cwd(), 'docs', 'img');
/** A time of day as the browser's locale writes it: 14:02 or 2:02 PM. */
const TIME = String.raw`\d{1,2}:\d{2}( [AP]M)?`;

/**
 * The care circle in Debian's chromium (contract §4.2): a patient invites a caregiver with only
 * glucose from their page, the caregiver opens the invitation link, signs up and sees the patient's
 * glucose — live — and never the heart rate; the patient reads who looked at their data in plain
 * words, shares heart rate too (the caregiver's open page starts receiving it) and stops sharing.
 */
describe('care circle in a real browser', () => {
  let stack: Stack;
  let browser: Browser;
  let clinician: { id: string; email: string; password: string };
  let anaUser: { email: string; password: string };
  let ana: string;
  let cgm: Provisioned;
  let oximeter: Provisioned;
  const problems: PageProblems[] = [];
  let patientPage: Page;
  let carerPage: Page;
  let invitationLink: string;
  let seq = 0;

  async function send(d: Provisioned, metric: string, value: number): Promise<void> {
    seq += 1;
    await (
      await stack.connectDevice(d)
    ).sendTelemetry({ seq, ts: new Date().toISOString(), readings: [{ metric, value }] });
  }

  beforeAll(async () => {
    stack = await startStack();
    browser = await launchChromium();
    mkdirSync(IMG, { recursive: true });
    const admin = await stack.login(stack.adminEmail, stack.adminPassword);
    const seed = new Seeder(stack, admin);
    clinician = await seed.user('clinician', 'Dr Ada Reyes');
    ana = await seed.patient('Ana Souza', '005501', [clinician.id]);
    anaUser = await seed.user('patient', 'Ana Souza', ana);
    cgm = await seed.device(ana, 'cgm', 'CGM-5501');
    oximeter = await seed.device(ana, 'pulse_oximeter', 'OX-5501');
    await send(cgm, 'glucose', 112);
    await send(oximeter, 'heart_rate', 74);
    await waitFor(
      async () => (await stack.rest<unknown[]>('GET', `/patients/${ana}/latest`, admin)).length === 2,
      'ingest to store both readings',
      15_000,
    );
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await stack?.close();
  });

  it('lets the patient invite someone to see only their glucose, and shows the invitation link once', async () => {
    const p = await openUser(browser, stack.url, PHONE);
    problems.push(p.problems);
    patientPage = p.page;
    await signIn(patientPage, anaUser.email, anaUser.password);
    const circle = patientPage.locator('[data-section="care-circle"]');
    await circle.getByText('Nobody else can see your data.').waitFor({ timeout: 15_000 });
    await circle.getByLabel('Their email').fill('rosa@family.test');
    await circle.getByLabel('Their name (optional)').fill('Rosa Souza');
    // Glucose and alerts come ticked; Ana shares glucose only.
    await circle.locator('.invite-form').getByLabel('Alerts about what I share').uncheck();
    await circle.getByRole('button', { name: 'Invite' }).click();
    const link = circle.getByLabel('Invitation link');
    await link.waitFor();
    invitationLink = await link.inputValue();
    expect(invitationLink).toMatch(new RegExp(`^${stack.url}/invitation#[A-Za-z0-9_-]{43}$`));
    await circle.locator('.caregiver[data-status="invited"]').getByText('Rosa Souza (rosa@family.test)').waitFor();
  });

  it("takes the caregiver from the link to the patient's glucose, live, and never shows the heart rate", async () => {
    const c = await openUser(browser, stack.url, PHONE);
    problems.push(c.problems);
    carerPage = c.page;
    await carerPage.goto(invitationLink);
    await carerPage.getByLabel('Your name').fill('Rosa Souza');
    await carerPage.getByLabel('Password (at least 10 characters)').fill('rosa-password-123');
    await carerPage.getByRole('button', { name: 'Accept and sign in' }).click();
    await carerPage.waitForURL('**/shared');
    // The spent token leaves the address bar and the history.
    expect(carerPage.url()).not.toContain('#');
    const card = carerPage.locator(`.shared-patient[data-patient-id="${ana}"]`);
    await carerPage.locator('main[data-ready="true"]').waitFor({ timeout: 15_000 });
    await expect(card.locator('h2').textContent()).resolves.toBe('Ana Souza');
    await expect(card.locator('li[data-metric="glucose"]').textContent()).resolves.toMatch(
      /Ana Souza's glucose \(blood sugar\) was 112 milligrams per decilitre/,
    );
    expect(await card.locator('li[data-metric="heart_rate"]').count()).toBe(0);
    // Live: a new glucose value appears without reload; a heart rate sent with it never does.
    await send(oximeter, 'heart_rate', 99);
    await send(cgm, 'glucose', 131);
    await waitFor(
      async () => /was 131 milligrams/.test((await card.locator('li[data-metric="glucose"]').textContent()) ?? ''),
      'the live glucose value',
      10_000,
    );
    expect(await card.locator('li[data-metric="heart_rate"]').count()).toBe(0);
    await carerPage.screenshot({ path: join(IMG, 'caregiver-view.png'), fullPage: true });
  });

  it('tells the patient who looked at their data, in plain words', async () => {
    // Dr Reyes looks at Ana's glucose history.
    const doctor = await stack.login(clinician.email, clinician.password);
    const from = new Date(Date.now() - 86_400_000).toISOString();
    await stack.rest('GET', `/patients/${ana}/readings?metric=glucose&bucket=1h&from=${from}`, doctor);
    await patientPage.reload();
    const log = patientPage.locator('[data-section="access-log"] .access-log');
    await log.locator('li[data-action="readings.read"]').first().waitFor({ timeout: 15_000 });
    const lines = (await log.locator('li').allTextContents()).map((t) => t.replace(/\s+/g, ' '));
    expect(lines[0]).toMatch(
      new RegExp(`^Dr Ada Reyes viewed your glucose \\(blood sugar\\) history, today ${TIME}\\.$`),
    );
    expect(lines).toEqual(
      expect.arrayContaining([
        expect.stringMatching(
          new RegExp(`^Rosa Souza started watching your readings as they arrive, today ${TIME}\\.$`),
        ),
        expect.stringMatching(new RegExp(`^Rosa Souza accepted your invitation to see your data, today ${TIME}\\.$`)),
      ]),
    );
    // Ana's own reads are not in it.
    expect(lines.some((l) => l.startsWith('Ana Souza'))).toBe(false);
    await patientPage.locator('[data-section="care-circle"]').screenshot({ path: join(IMG, 'care-circle.png') });
    await patientPage.locator('[data-section="access-log"]').screenshot({ path: join(IMG, 'access-log.png') });
  });

  it("applies the patient's change of what is shared to the caregiver's open page, and stopping sharing", async () => {
    const row = patientPage.locator('.caregiver[data-status="active"]');
    await row.getByLabel('Heart rate and heart pressure').check();
    await row.getByRole('button', { name: 'Save changes' }).click();
    await patientPage.getByText('Saved: Rosa Souza now sees only what is ticked.').waitFor();
    const card = carerPage.locator(`.shared-patient[data-patient-id="${ana}"]`);
    // The caregiver's page is still open: the heart rate starts arriving without reload.
    await waitFor(
      async () => {
        await send(oximeter, 'heart_rate', 88);
        return (await card.locator('li[data-metric="heart_rate"]').count()) === 1;
      },
      'the heart rate on the caregiver page',
      10_000,
      500,
    );
    await expect(card.locator('li[data-metric="heart_rate"]').textContent()).resolves.toMatch(
      /Ana Souza's heart rate was 88 beats per minute/,
    );

    const stop = patientPage.locator('.caregiver[data-status="active"]').getByRole('button', { name: 'Stop sharing' });
    await stop.click();
    await patientPage.getByRole('button', { name: 'Yes, stop sharing with Rosa Souza now' }).click();
    await patientPage.getByText('Rosa Souza can no longer see your data.').waitFor();
    await patientPage.locator('[data-section="care-circle"]').getByText('Nobody else can see your data.').waitFor();
    await carerPage.reload();
    await carerPage.getByText('Nobody shares their data with you at the moment.').waitFor({ timeout: 15_000 });
  });

  it('logged no console errors and sent no request off the origin', () => {
    for (const p of problems) {
      expect(p.pageErrors).toEqual([]);
      expect(p.consoleErrors).toEqual([]);
      expect(p.offOrigin).toEqual([]);
    }
  });
});
