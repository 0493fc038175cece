import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import type { AlertDeliveryResource, AlertResource } from '@lantern/domain';
import { DESKTOP, PHONE, launchChromium, openUser, signIn, type PageProblems } from './browser.js';
import { Seeder, startStack, type Provisioned, type Stack } from './stack.js';
import { waitFor } from '../support/wait.js';

const IMG = join(process.cwd(), 'docs', 'img');
/** A time of day as the browser's locale writes it: 14:02 or 02:02 PM. */
const TIME = String.raw`\d{1,2}:\d{2}( [AP]M)?`;

/**
 * Delivery receipts in the clients (contract §4.3), in a real browser on the real stack: a high
 * alert raised by MQTT readings reaches the patient's page and the clinician's dashboard as socket
 * deliveries that each page acknowledges; the patient says "I'm taking care of it"; the clinician
 * opens the alert and reads who was told, when, how, the receipts and the patient's confirmation.
 * Then the escalation editor (validation errors, save, reset) and a caregiver's "I'm on it".
 */
describe('alert timeline and "I\'m taking care of it" in a real browser', () => {
  let stack: Stack;
  let browser: Browser;
  let admin: string;
  let clinician: { id: string; email: string; password: string };
  let anaUser: { id: string; email: string; password: string };
  let ana: string;
  let cgm: Provisioned;
  const problems: PageProblems[] = [];
  let doctorPage: Page;
  let patientPage: Page;
  let alertId: string;
  let seq = 0;
  let lastTs = 0;

  /**
   * One glucose reading, at least a minute after the one before in event time: the ingest refuses a
   * CGM's readings closer than its 55 s interval (docs/ingest.md), and a device may run up to 5 min ahead.
   */
  async function send(metric: string, value: number, ts = Math.max(Date.now(), lastTs + 60_000)): Promise<void> {
    seq += 1;
    lastTs = ts;
    await (
      await stack.connectDevice(cgm)
    ).sendTelemetry({ seq, ts: new Date(ts).toISOString(), readings: [{ metric, value }] });
  }

  const activeAlerts = async (): Promise<AlertResource[]> =>
    (await stack.rest<{ items: AlertResource[] }>('GET', `/alerts?patientId=${ana}&state=open`, admin)).items.filter(
      (a) => a.rule === 'glucose.urgent_low',
    );

  beforeAll(async () => {
    stack = await startStack();
    browser = await launchChromium();
    mkdirSync(IMG, { recursive: true });
    admin = await stack.login(stack.adminEmail, stack.adminPassword);
    const seed = new Seeder(stack, admin);
    clinician = await seed.user('clinician', 'Dr Ada Reyes');
    ana = await seed.patient('Ana Souza', '006601', [clinician.id]);
    anaUser = await seed.user('patient', 'Ana Souza', ana);
    cgm = await seed.device(ana, 'cgm', 'CGM-6601');
    // A second urgent low may open as soon as the first one's condition cleared (the last test).
    await stack.rest('PUT', `/patients/${ana}/alert-rules/glucose.urgent_low`, admin, { rearmSec: 0 });
    await send('glucose', 112, Date.now() - 180_000);
    await waitFor(
      async () => (await stack.rest<unknown[]>('GET', `/patients/${ana}/latest`, admin)).length === 1,
      'ingest to store the first reading',
      15_000,
    );
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await stack?.close();
  });

  it('shows the patient their high alert, delivered to their open page, with "I\'m taking care of it"', async () => {
    // Both people have a page open before the alert: the chain's socket deliveries reach them there.
    const d = await openUser(browser, stack.url, DESKTOP);
    problems.push(d.problems);
    doctorPage = d.page;
    await signIn(doctorPage, clinician.email, clinician.password);
    await doctorPage.getByRole('heading', { name: 'Triage board' }).waitFor();
    await doctorPage.goto(`/patients/${ana}`);
    await doctorPage.locator('main[data-ready="true"]').waitFor({ timeout: 15_000 });
    await doctorPage.locator('.live-status[data-live="live"]').waitFor();

    const p = await openUser(browser, stack.url, PHONE);
    problems.push(p.problems);
    patientPage = p.page;
    await signIn(patientPage, anaUser.email, anaUser.password);
    await patientPage.locator('main[data-ready="true"]').waitFor({ timeout: 15_000 });
    await patientPage.locator('.live-status[data-live="live"]').waitFor();
    // Nothing needs attention yet: the section is hidden.
    await expect(patientPage.locator('[data-section="own-alerts"]').isHidden()).resolves.toBe(true);

    await send('glucose', 45);
    const [alert] = await waitFor(
      async () => {
        const list = await activeAlerts();
        return list.length === 1 ? list : undefined;
      },
      'the urgent low alert',
      20_000,
    );
    alertId = alert.id;
    expect(alert.priority).toBe('high');

    const item = patientPage.locator(`li.own-alert[data-alert-id="${alertId}"]`);
    await item.waitFor({ timeout: 15_000 });
    await expect(item.textContent()).resolves.toMatch(/Urgent: an alert about your glucose \(blood sugar\), today/);
    // The patient's page acknowledged the socket delivery: its receipt is the delivery's deliveredAt.
    const patientSocket = await waitFor(async () => {
      const list = await stack.rest<AlertDeliveryResource[]>('GET', `/alerts/${alertId}/deliveries`, admin);
      return list.find((x) => x.channel === 'socket' && x.recipient.role === 'patient' && x.deliveredAt);
    }, "the patient's socket receipt");
    expect(Date.parse(patientSocket.deliveredAt!)).toBeGreaterThanOrEqual(Date.parse(patientSocket.sentAt));

    await item.getByRole('button', { name: "I'm taking care of it" }).click();
    await item
      .getByText(new RegExp(`You told your care team you are taking care of it at ${TIME}\\.$`))
      .waitFor({ timeout: 10_000 });
    await expect(item.getByRole('button').count()).resolves.toBe(0);
    const timeline = await stack.rest<{ confirmation: { by: { id: string; role: string } } | null }>(
      'GET',
      `/alerts/${alertId}/timeline`,
      admin,
    );
    expect(timeline.confirmation?.by).toMatchObject({ id: anaUser.id, role: 'patient' });
    // Still there after a reload: the page asks who confirmed.
    await patientPage.reload();
    await patientPage
      .locator(`li.own-alert[data-alert-id="${alertId}"]`)
      .getByText(/You told your care team you are taking care of it at/)
      .waitFor({ timeout: 15_000 });
    await patientPage.locator('[data-section="own-alerts"]').screenshot({ path: join(IMG, 'taking-care-of-it.png') });
  });

  it('shows the clinician the timeline: socket deliveries with their receipts, the confirmation, the steps not needed', async () => {
    const item = doctorPage.locator(`.timeline-item[data-alert-id="${alertId}"]`);
    await item.waitFor({ timeout: 10_000 });
    const toggle = item.getByRole('button', { name: 'Show timeline' });
    await toggle.click();
    const panel = item.locator('.alert-timeline[data-loaded="true"]');
    await panel.waitFor({ timeout: 10_000 });
    await expect(item.getByRole('button', { name: 'Hide timeline' }).getAttribute('aria-expanded')).resolves.toBe(
      'true',
    );
    // Both pages acknowledged their socket deliveries: delivered (or further), never merely sent.
    for (const role of ['patient', 'clinician']) {
      const row = panel.locator(`li[data-kind="delivery"][data-channel="socket"][data-role="${role}"]`).first();
      await row.waitFor();
      await waitFor(
        async () => ['delivered', 'read', 'confirmed'].includes((await row.getAttribute('data-status')) ?? ''),
        `the ${role}'s socket receipt on the timeline`,
        10_000,
      );
      await expect(row.textContent()).resolves.toMatch(
        new RegExp(`Sent to .+ on the open Lantern page \\(step \\d\\)\\..* · delivered ${TIME}`),
      );
    }
    const confirmed = panel.locator('li[data-kind="confirmed"]');
    await expect(confirmed.textContent()).resolves.toMatch(
      /\(the patient\) said they are taking care of it\. Escalation stopped\.$/,
    );
    await expect(panel.locator('.timeline-summary').textContent()).resolves.toMatch(/^Taken care of: .+ confirmed at /);
    // In time order: the raise first, every line no earlier than the one before it.
    const times = await Promise.all((await panel.locator('li time').all()).map((t) => t.getAttribute('datetime')));
    expect(await panel.locator('li').first().getAttribute('data-kind')).toBe('raised');
    const parsed = times.map((t) => Date.parse(t ?? ''));
    expect(parsed.every(Number.isFinite)).toBe(true);
    expect(parsed).toEqual([...parsed].sort((a, b) => a - b));
    // The later steps of the high chain (care team again, webhook) are no longer needed.
    const later = await panel.locator('li[data-kind="next"]').allTextContents();
    expect(later.length).toBeGreaterThan(0);
    for (const line of later) expect(line).toMatch(/not needed, the alert was taken care of first\.$/);
    await item.screenshot({ path: join(IMG, 'alert-timeline.png') });

    // It refreshes while open: the clinician acknowledges, the timeline says so without reopening.
    await item.getByRole('button', { name: 'Acknowledge' }).click();
    await panel.locator('li[data-kind="acknowledged"]').waitFor({ timeout: 10_000 });
    await expect(panel.locator('li[data-kind="acknowledged"]').textContent()).resolves.toMatch(
      /Acknowledged by Dr Ada Reyes\.$/,
    );
  });

  it('edits the escalation steps: server validation errors, save, reset to the defaults', async () => {
    const section = doctorPage.locator('[data-section="escalation"]');
    await section.locator('[data-escalation-source="default"]').waitFor();
    const high = section.locator('fieldset[data-priority="high"]');
    await expect(high.locator('li.escalation-tier').count()).resolves.toBe(5);
    // A blank delay: the server refuses it and names the field.
    await high.locator('li[data-tier="1"] input').fill('');
    await section.getByRole('button', { name: 'Save escalation' }).click();
    await section.locator('[data-escalation-errors] li').first().waitFor();
    await expect(section.locator('[data-escalation-errors]').textContent()).resolves.toMatch(/high\[1\]\.afterSec/);
    await expect(high.locator('li[data-tier="1"] input').getAttribute('aria-invalid')).resolves.toBe('true');

    // The care team again after 4 min instead of 5, and no webhook step.
    await high.locator('li[data-tier="1"] input').fill('0');
    await high.locator('li[data-tier="3"] input').fill('240');
    await high.getByRole('button', { name: 'Remove step 5 of high priority' }).click();
    await section.getByRole('button', { name: 'Save escalation' }).click();
    await section.locator('[data-escalation-source="patient"]').waitFor();
    const stored = await stack.rest<{ high: { notify: string; afterSec: number }[] }>(
      'GET',
      `/patients/${ana}/escalation`,
      admin,
    );
    expect(stored.high.map((t) => [t.notify, t.afterSec])).toEqual([
      ['patient', 0],
      ['caregivers', 0],
      ['care_team', 0],
      ['care_team', 240],
    ]);
    // The sticky top bar would cover the section's heading in an element screenshot.
    await section.screenshot({ path: join(IMG, 'escalation-editor.png'), style: '.topbar { position: static; }' });

    await section.getByRole('button', { name: 'Reset to defaults' }).click();
    await section.locator('[data-escalation-source="default"]').waitFor();
    await expect(high.locator('li.escalation-tier').count()).resolves.toBe(5);
  });

  it('lets a caregiver who sees alerts say "I\'m on it", and tells the patient', async () => {
    // The first alert is taken care of: resolve it, let the glucose recover, then a new urgent low.
    const doctor = await stack.login(clinician.email, clinician.password);
    await stack.rest('POST', `/alerts/${alertId}/resolve`, doctor, {});
    await send('glucose', 120);
    await send('glucose', 44);
    const second = await waitFor(
      async () => (await activeAlerts()).find((a) => a.id !== alertId),
      'a second urgent low alert',
      20_000,
    );

    const patientToken = await stack.login(anaUser.email, anaUser.password);
    const invited = await stack.rest<{ invitation: { token: string } }>('POST', '/me/caregivers', patientToken, {
      email: 'rosa@family.test',
      name: 'Rosa Souza',
      scopes: ['glucose', 'alerts'],
    });
    await stack.rest('POST', '/auth/accept-invitation', undefined, {
      token: invited.invitation.token,
      password: 'rosa-password-123',
      name: 'Rosa Souza',
    });
    const c = await openUser(browser, stack.url, PHONE);
    problems.push(c.problems);
    const carerPage = c.page;
    await signIn(carerPage, 'rosa@family.test', 'rosa-password-123');
    await carerPage.locator('main[data-ready="true"]').waitFor({ timeout: 15_000 });
    const row = carerPage.locator(`.shared-patient[data-patient-id="${ana}"] li[data-alert-id="${second.id}"]`);
    await row.waitFor({ timeout: 10_000 });
    await row.getByRole('button', { name: "I'm on it" }).click();
    await row
      .getByText(new RegExp(`You told Ana Souza's care team you are on it at ${TIME}\\.$`))
      .waitFor({ timeout: 10_000 });

    // The patient's page learns who took care of it when the alert next reaches it (here: a reload).
    await patientPage.reload();
    await patientPage
      .locator(`li.own-alert[data-alert-id="${second.id}"]`)
      .getByText(new RegExp(`Rosa Souza told your care team they are on it at ${TIME}\\.$`))
      .waitFor({ timeout: 15_000 });
  });

  it('logged no console errors (but the refused save) and sent no request off the origin', () => {
    for (const p of problems) {
      expect(p.pageErrors).toEqual([]);
      // The browser logs every 4xx answer; the one expected is the refused escalation save.
      expect(p.consoleErrors.filter((e) => !/status of 400/.test(e))).toEqual([]);
      expect(p.offOrigin).toEqual([]);
    }
  });
});
