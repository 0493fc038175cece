import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page, WebSocketRoute } from 'playwright-core';
import { playPlan } from '../../device-simulator/src/plan-player.js';
import { anchorForSpeed, planDurationMs, scenarioByName } from '../../device-simulator/src/scenarios.js';
import { healthyTimeline, takeUntil } from '../../device-simulator/src/virtual-device.js';
import type { PlanStep } from '../../device-simulator/src/plan.js';
import type { AlertResource } from '@lantern/domain';
import { DESKTOP, PHONE, launchChromium, openUser, signIn, type PageProblems } from './browser.js';
import { Seeder, startStack, type Provisioned, type Stack } from './stack.js';
import { waitFor } from '../support/wait.js';

const IMG = join(process.cwd(), 'docs', 'img');
const HOUR = 3_600_000;
// Evaluated in the page (the test's own TypeScript has no DOM types).
const HORIZONTAL_OVERFLOW = 'document.documentElement.scrollWidth - window.innerWidth';

/**
 * The dashboard end to end in Debian's chromium: api + ingest on real PostgreSQL and Mosquitto,
 * a device playing the simulator's `hypoglycemia` scenario, two clinicians and the patient watching.
 */
describe('dashboard in a real browser', () => {
  let stack: Stack;
  let browser: Browser;
  let seed: Seeder;
  let clinicianA: { id: string; email: string; password: string };
  let clinicianB: { id: string; email: string; password: string };
  let mariaUser: { email: string; password: string };
  let maria: string;
  let john: string;
  let cgm: Provisioned;
  let oximeter: Provisioned;
  const problems: PageProblems[] = [];
  let pageA: Page;
  let pageB: Page;

  /** One connection per device, as a real one holds (a second would take over its client id). */
  /** Publishes a timeline as fast as the broker acknowledges (event times stay as planned). */
  async function backfill(d: Provisioned, steps: Iterable<PlanStep>): Promise<void> {
    const result = await playPlan(await stack.connectDevice(d), steps, { speed: 1e9 });
    expect(result.failed).toBe(0);
  }

  beforeAll(async () => {
    stack = await startStack();
    browser = await launchChromium();
    mkdirSync(IMG, { recursive: true });
    const admin = await stack.login(stack.adminEmail, stack.adminPassword);
    seed = new Seeder(stack, admin);
    clinicianA = await seed.user('clinician', 'Dr Ada Reyes');
    clinicianB = await seed.user('clinician', 'Dr Ben Okafor');
    const team = [clinicianA.id, clinicianB.id];
    maria = await seed.patient('Maria Lopez', '004417', team);
    john = await seed.patient('John Smith', '004418', team);
    const grace = await seed.patient('Grace Kim', '004419', team);
    const tom = await seed.patient('Tom Ward', '004420', team);
    mariaUser = await seed.user('patient', 'Maria Lopez', maria);

    // Six hours of history before the scenario, so the charts and the summary have something to show.
    const now = Date.now();
    cgm = await seed.device(maria, 'cgm', 'CGM-7781');
    await backfill(
      cgm,
      takeUntil(healthyTimeline('cgm', { seed: 'maria', t0: now - 7 * HOUR, startBattery: 70 }), 6 * HOUR),
    );
    oximeter = await seed.device(john, 'pulse_oximeter', 'OX-2231');
    await backfill(
      oximeter,
      takeUntil(healthyTimeline('pulse_oximeter', { seed: 'john', t0: now - 120_000, startBattery: 88 }), 110_000),
    );
    const cuff = await seed.device(grace, 'bp_monitor', 'BP-5520');
    await backfill(
      cuff,
      takeUntil(
        healthyTimeline('bp_monitor', { seed: 'grace', t0: now - 3 * 86_400_000, startBattery: 64 }),
        2.5 * 86_400_000,
      ),
    );
    // Tom's patch is nearly flat: a device that needs attention ranks him above quiet patients.
    const patch = await seed.device(tom, 'wearable_patch', 'WP-9012');
    await backfill(
      patch,
      takeUntil(
        healthyTimeline('wearable_patch', { seed: 'tom', t0: now - 30 * 60_000, startBattery: 9 }),
        29 * 60_000,
      ),
    );
    await waitFor(
      async () => (await stack.rest<unknown[]>('GET', `/patients/${maria}/latest`, admin)).length > 0,
      'ingest to store the history',
      15_000,
    );
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await stack?.close();
  });

  async function boardRank(page: Page, patientId: string): Promise<number> {
    // An expression evaluated in the page (this file has no DOM types).
    return page.evaluate<number>(
      `[...document.querySelectorAll('table.board tbody tr')].findIndex((r) => r.dataset.patientId === ${JSON.stringify(patientId)})`,
    );
  }

  /** Alarm cues that came due / actually played on a page (the dashboard counts them on `<body>`). */
  async function beeps(page: Page, which: 'due' | 'played'): Promise<number> {
    const key = which === 'due' ? 'beepsDue' : 'beepsPlayed';
    return Number(await page.evaluate<string>(`document.body.dataset.${key} ?? '0'`));
  }

  it('shows a clinician the care team as a triage board', async () => {
    const a = await openUser(browser, stack.url);
    problems.push(a.problems);
    pageA = a.page;
    await signIn(pageA, clinicianA.email, clinicianA.password);
    await pageA.getByRole('heading', { name: 'Triage board' }).waitFor();
    await waitFor(async () => (await pageA.locator('table.board tbody tr').count()) === 4, 'four patient rows', 10_000);
    await pageA.locator('.live-status[data-live="live"]').waitFor();
    // A first click, as a clinician's would be: browsers start audio only after a gesture.
    await pageA.getByRole('heading', { name: 'Triage board' }).click();
    // Latest vitals with their age, device battery and state. Maria's CGM history ended an hour ago,
    // beyond a CGM's 20 minutes of signal loss: the board says it cannot see the device instead of
    // showing her last glucose as a current value (contract §4.4). Grace's cuff (daily) is heard.
    const mariaRow = pageA.locator(`tr[data-patient-id="${maria}"]`);
    const mariaGlucose = mariaRow.locator('[data-metric="glucose"]');
    await expect(mariaGlucose.getAttribute('data-monitoring')).resolves.toBe('lost');
    await expect(mariaGlucose.textContent()).resolves.toMatch(/We cannot see this device since .+ \(\d+ h ago\)/);
    expect(await mariaGlucose.locator('.vital-value').count()).toBe(0);
    const graceRow = pageA.locator('tr', { hasText: 'Grace Kim' });
    await expect(graceRow.locator('[data-metric="systolic_bp"] .vital-value').textContent()).resolves.toMatch(/mm/);
    await expect(graceRow.locator('[data-metric="systolic_bp"] .age').textContent()).resolves.toMatch(/ago|just now/);
    await expect(graceRow.locator('[data-metric="systolic_bp"]').getAttribute('data-monitoring')).resolves.toBe('ok');
    const tomRow = pageA.locator('tr', { hasText: 'Tom Ward' });
    await expect(tomRow.textContent()).resolves.toMatch(/battery low/);
    // Before anything happens, the patient with a device problem outranks Maria.
    expect(await boardRank(pageA, maria)).toBeGreaterThan(0);

    const b = await openUser(browser, stack.url);
    problems.push(b.problems);
    pageB = b.page;
    await signIn(pageB, clinicianB.email, clinicianB.password);
    await pageB.locator(`tr[data-patient-id="${maria}"]`).waitFor();
    await pageB.locator('.live-status[data-live="live"]').waitFor();
    // The second clinician mutes the alarm (the click also lets audio start, so only the mute keeps it quiet).
    await pageB.getByRole('button', { name: /Sound on/ }).click();
    await pageB.locator('button.mute[aria-pressed="true"]').waitFor();
  });

  it('raises the hypoglycemia alert live: row to the top, banner, sound, screen-reader announcement', async () => {
    const scenario = scenarioByName('hypoglycemia');
    // Up to the nadir, so the urgent low is still active when the clinicians look at it.
    const full = scenario.build({ seed: 1, t0: 0 });
    const untilNadir = full.filter((s) => s.atMs <= 55 * 60_000);
    const speed = 600;
    const steps = scenario
      .build({ seed: 1, t0: anchorForSpeed(Date.now(), planDurationMs(untilNadir), speed) })
      .filter((s) => s.atMs <= 55 * 60_000);
    const played = await playPlan(await stack.connectDevice(cgm), steps, { speed });
    expect(played.failed).toBe(0);

    const highOpen = pageA.locator(`tr[data-patient-id="${maria}"] li[data-state="open"] [data-priority="high"]`);
    await highOpen.first().waitFor({ timeout: 15_000 });
    await waitFor(async () => (await boardRank(pageA, maria)) === 0, 'Maria to move to the top', 5000);
    const banner = pageA.locator('.alarm-banner');
    await expect(banner.isVisible()).resolves.toBe(true);
    await expect(banner.textContent()).resolves.toContain('Maria Lopez');
    await waitFor(
      async () =>
        /High priority alert for Maria Lopez/.test((await pageA.getByTestId('announcer').textContent()) ?? ''),
      'the announcement',
      3000,
    );
    // The cue played (not merely came due): the audio was running and the sound on.
    await waitFor(async () => (await beeps(pageA, 'played')) >= 1, 'the cue to play', 5000);
    // Muted: the same alert made the cue due on the second clinician's page, and it did not play.
    await waitFor(async () => (await beeps(pageB, 'due')) >= 1, 'the cue to be due for the muted clinician', 5000);
    expect(await beeps(pageB, 'played')).toBe(0);
    // Priority is spelled out, not only coloured.
    await expect(highOpen.first().textContent()).resolves.toContain('High');
    await waitFor(async () => (await boardRank(pageB, maria)) === 0, 'Maria at the top for the second clinician', 5000);
    // The nadir (47 mg/dL, the scenario's last reading) reaches the board as the latest value.
    await pageA
      .locator(`tr[data-patient-id="${maria}"] [data-metric="glucose"] .vital-value`, { hasText: '47 mg/dL' })
      .waitFor();
    await pageA.screenshot({ path: join(IMG, 'board.png'), fullPage: true });
  });

  it('opens the patient detail with charts, thresholds and the alert timeline; acknowledging shows for the other clinician', async () => {
    await pageA.locator(`tr[data-patient-id="${maria}"] .patient a`).click();
    await pageA.locator('main[data-ready="true"]').waitFor({ timeout: 15_000 });
    await pageA.locator('figure.chart[data-metric="glucose"] canvas').waitFor();
    await expect(pageA.locator('tr[data-rule="glucose.urgent_low"]').count()).resolves.toBe(1);
    const item = pageA
      .locator('.timeline-item[data-state="open"]', { has: pageA.locator('[data-priority="high"]') })
      .first();
    await item.waitFor();
    await pageA.screenshot({ path: join(IMG, 'patient-detail.png'), fullPage: true });

    const alertId = await item.getAttribute('data-alert-id');
    await item.getByRole('button', { name: 'Acknowledge' }).click();
    await pageA.locator(`.timeline-item[data-alert-id="${alertId}"][data-state="acknowledged"]`).waitFor();
    // The second clinician's board changes without a reload.
    await pageB
      .locator(`tr[data-patient-id="${maria}"] li[data-alert-id="${alertId}"][data-state="acknowledged"]`)
      .waitFor({ timeout: 5000 });
    await expect(pageB.locator(`.alarm-banner [data-alert-id="${alertId}"]`).count()).resolves.toBe(0);
  });

  it('edits a per-patient rule override and reverts it', async () => {
    const row = pageA.locator('tr[data-rule="glucose.low"]');
    await row.locator('input[name="threshold"]').fill('75');
    await row.getByRole('button', { name: 'Save' }).click();
    await pageA.locator('tr[data-rule="glucose.low"].overridden').waitFor();
    await expect(pageA.locator('tr[data-rule="glucose.low"] input[name="threshold"]').inputValue()).resolves.toBe('75');
    await pageA.locator('tr[data-rule="glucose.low"]').getByRole('button', { name: 'Revert' }).click();
    await pageA.locator('tr[data-rule="glucose.low"]:not(.overridden)').waitFor();
  });

  it('provisions a device and shows its credentials once', async () => {
    await pageA.getByLabel('Type').selectOption('weight_scale');
    await pageA.getByPlaceholder('Serial (optional)').fill('WS-1');
    await pageA.getByRole('button', { name: 'Provision device' }).click();
    const password = await pageA.locator('[data-credential="password"]').textContent();
    expect(password?.length).toBeGreaterThan(10);
    await pageA.getByRole('button', { name: /I have copied them/ }).click();
    await expect(pageA.locator('[data-credential="password"]').count()).resolves.toBe(0);
    await pageA.reload();
    await pageA.locator('main[data-ready="true"]').waitFor();
    await expect(pageA.locator('.device-list').textContent()).resolves.toContain('Weight scale');
    await expect(pageA.locator('[data-credential="password"]').count()).resolves.toBe(0);
    // After a reload (session kept) the browser holds sound back until a gesture: the header says so,
    // and clicking it lets sound play without muting it.
    const sound = pageA.locator('button.mute');
    await expect(sound.textContent()).resolves.toMatch(/Sound blocked/);
    await sound.click();
    await pageA.locator('button.mute:not(.blocked)', { hasText: 'Sound on' }).waitFor();
    await expect(sound.getAttribute('aria-pressed')).resolves.toBe('false');
  });

  it('shows the patient their readings, notification and time in range in plain words on a phone', async () => {
    const p = await openUser(browser, stack.url, PHONE);
    problems.push(p.problems);
    await signIn(p.page, mariaUser.email, mariaUser.password);
    await p.page.locator('main[data-ready="true"]').waitFor({ timeout: 15_000 });
    await expect(p.page.locator('.plain-readings').textContent()).resolves.toMatch(
      /Your glucose \(blood sugar\) was \d+ milligrams per decilitre/,
    );
    // Maria's hypoglycaemia (alerts opened, then acknowledged by her clinician) is one thread, its
    // latest words on top and the earlier messages folded under it (spec/alerting.md §5).
    const note = p.page.locator('.notification', { has: p.page.locator('.thread-history') }).first();
    await note.waitFor({ timeout: 10_000 });
    await expect(note.textContent()).resolves.not.toMatch(/mg\/dL/);
    await expect(note.locator('.thread-history summary').textContent()).resolves.toMatch(
      /^Earlier in this conversation \(\d+\)$/,
    );
    const threadId = await note.getAttribute('data-notification-id');
    await p.page.locator('[data-section="tir"] .tir-bar').waitFor();
    await expect(p.page.locator('.patient-devices').textContent()).resolves.toMatch(/Glucose sensor/);
    const overflow = await p.page.evaluate<number>(HORIZONTAL_OVERFLOW);
    expect(overflow).toBeLessThanOrEqual(0);
    await p.page.screenshot({ path: join(IMG, 'patient-view.png'), fullPage: true });
    await note.getByRole('button', { name: 'Mark as read' }).click();
    await p.page.locator(`.notification.read[data-notification-id="${threadId}"]`).waitFor();
  });

  it('fits the board on a phone', async () => {
    await pageB.setViewportSize(PHONE);
    await pageB.locator(`tr[data-patient-id="${maria}"]`).waitFor();
    const overflow = await pageB.evaluate<number>(HORIZONTAL_OVERFLOW);
    expect(overflow).toBeLessThanOrEqual(0);
    await pageB.screenshot({ path: join(IMG, 'board-phone.png') });
    await pageB.setViewportSize(DESKTOP);
  });

  it('catches up after the socket drops: alerts raised and resolved meanwhile and a new patient appear without reload; Resolve works', async () => {
    const c = await openUser(browser, stack.url);
    problems.push(c.problems);
    const page = c.page;
    // Every /live websocket passes through here, so the test can cut the connection and keep it cut.
    let down = false;
    const connections: { page: WebSocketRoute; server: WebSocketRoute }[] = [];
    await page.routeWebSocket(/\/socket\.io\//, async (ws) => {
      if (down) return ws.close({ code: 1001, reason: 'network down' });
      connections.push({ page: ws, server: ws.connectToServer() });
    });
    await page.route('**/socket.io/**', (route) => (down ? route.abort() : route.fallback()));
    await signIn(page, clinicianA.email, clinicianA.password);
    await page.locator('.live-status[data-live="live"]').waitFor();
    await page.getByRole('heading', { name: 'Triage board' }).click();
    const clinician = await stack.login(clinicianA.email, clinicianA.password);
    const alertsOf = async (patientId: string, state: string): Promise<AlertResource[]> =>
      (await stack.rest<{ items: AlertResource[] }>('GET', `/alerts?patientId=${patientId}&state=${state}`, clinician))
        .items;
    const active = [...(await alertsOf(maria, 'open')), ...(await alertsOf(maria, 'acknowledged'))];
    expect(active.length).toBeGreaterThan(0);
    const resolvedMeanwhile = active[0].id;
    await page.locator(`tr[data-patient-id="${maria}"] li[data-alert-id="${resolvedMeanwhile}"]`).waitFor();
    const johnHigh = page.locator(`tr[data-patient-id="${john}"] li[data-state="open"] [data-priority="high"]`);
    await expect(johnHigh.count()).resolves.toBe(0);

    // The network drops, and stays down while things happen.
    down = true;
    for (const { page: p, server } of connections.splice(0)) {
      await p.close({ code: 1006, reason: 'network blip' }).catch(() => undefined);
      await server.close().catch(() => undefined);
    }
    await page.locator('.live-status[data-live="offline"]').waitFor({ timeout: 5000 });

    // John desaturates (spo2.critical opens, high), one of Maria's alerts is resolved elsewhere,
    // and a patient joins the care team.
    const desaturation = scenarioByName('desaturation')
      .build({ seed: 2, t0: Date.now() })
      .filter((s) => s.atMs <= 150_000);
    const played = await playPlan(await stack.connectDevice(oximeter), desaturation, { speed: 1e9 });
    expect(played.failed).toBe(0);
    const raised = await waitFor(
      async () => (await alertsOf(john, 'open')).find((a) => a.rule === 'spo2.critical'),
      'spo2.critical to open',
      15_000,
    );
    await stack.rest('POST', `/alerts/${resolvedMeanwhile}/resolve`, clinician, {});
    const rosa = await seed.patient('Rosa Diaz', '004421', [clinicianA.id]);
    // Still down: nothing of this could have arrived live.
    await expect(page.locator('.live-status').getAttribute('data-live')).resolves.toBe('offline');
    await expect(page.locator(`li[data-alert-id="${raised.id}"]`).count()).resolves.toBe(0);

    // The network comes back; the page catches up without a reload.
    down = false;
    // socket.io retries with backoff (up to 5 s), and an attempt made while down may hang until its 20 s connect timeout.
    await page.locator('.live-status[data-live="live"]').waitFor({ timeout: 40_000 });
    await page.locator(`tr[data-patient-id="${john}"] li[data-alert-id="${raised.id}"][data-state="open"]`).waitFor();
    await page.locator(`.alarm-banner [data-alert-id="${raised.id}"]`).waitFor();
    await waitFor(async () => (await beeps(page, 'due')) >= 1, 'the missed high alert to sound', 5000);
    await page.locator(`tr[data-patient-id="${rosa}"]`).waitFor();
    await waitFor(
      async () => (await page.locator(`li[data-alert-id="${resolvedMeanwhile}"]`).count()) === 0,
      'the alert resolved meanwhile to leave the board',
      5000,
    );

    // Live again: resolving from the patient detail closes the alert and clears the banner.
    await page.locator(`tr[data-patient-id="${john}"] .patient a`).click();
    await page.locator('main[data-ready="true"]').waitFor({ timeout: 15_000 });
    const item = page.locator(`.timeline-item[data-alert-id="${raised.id}"]`);
    await item.getByRole('button', { name: 'Resolve' }).click();
    await page.locator(`.timeline-item[data-alert-id="${raised.id}"][data-state="resolved"]`).waitFor();
    await waitFor(
      async () => (await page.locator(`.alarm-banner [data-alert-id="${raised.id}"]`).count()) === 0,
      'the banner to clear',
      5000,
    );
    const stored = await stack.rest<AlertResource>('GET', `/alerts/${raised.id}`, clinician);
    expect(stored.state).toBe('resolved');
    await c.context.close();
  }, 120_000);

  it('logged no console errors and sent no request off the origin', () => {
    for (const p of problems) {
      expect(p.pageErrors).toEqual([]);
      expect(p.consoleErrors).toEqual([]);
      expect(p.offOrigin).toEqual([]);
    }
  });
});
