import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Browser, Page } from 'playwright-core';
import { launchChromium, openUser, signIn, type PageProblems } from './browser.js';
import { Seeder, startStack, type Stack } from './stack.js';

/**
 * The api's protective headers (issue #14) in Debian's chromium: the dashboard and Swagger UI work
 * under the Content-Security-Policy — no violation reported — and no page of Lantern can be framed.
 * (The full dashboard story, alarms with WebAudio included, runs under the same policy in
 * dashboard.spec.ts, which fails on any console error, CSP violations included.)
 */
describe('content security in a real browser', () => {
  let stack: Stack;
  let browser: Browser;
  let clinician: { email: string; password: string };
  let patientId: string;
  const problems: PageProblems[] = [];

  /** Collects the page's `securitypolicyviolation` events from before its first script runs. */
  async function watchViolations(page: Page): Promise<() => Promise<string[]>> {
    await page.addInitScript(`
      window.__violations = [];
      document.addEventListener('securitypolicyviolation', (e) =>
        window.__violations.push(e.violatedDirective + ' ' + (e.blockedURI || '(inline)')));
    `);
    return () => page.evaluate<string[]>('window.__violations ?? []');
  }

  beforeAll(async () => {
    stack = await startStack();
    browser = await launchChromium();
    const admin = await stack.login(stack.adminEmail, stack.adminPassword);
    const seed = new Seeder(stack, admin);
    const user = await seed.user('clinician', 'Dr Csp Check');
    clinician = user;
    patientId = await seed.patient('Framed Never', 'CSP-1', [user.id]);
    await seed.device(patientId, 'cgm', 'CGM-CSP');
  });

  afterAll(async () => {
    await browser?.close();
    await stack?.close();
  });

  it('runs the dashboard under the policy: board and patient detail render with no violation', async () => {
    const { page, problems: p } = await openUser(browser, stack.url);
    problems.push(p);
    const violations = await watchViolations(page);
    const response = await page.goto('/');
    expect(response?.headers()['content-security-policy']).toContain("frame-ancestors 'none'");
    await signIn(page, clinician.email, clinician.password);
    await page.getByRole('heading', { name: 'Triage board' }).waitFor();
    await page.goto(`/patients/${patientId}`);
    await page.locator('main[data-ready="true"]').waitFor({ timeout: 15_000 });
    expect(await violations()).toEqual([]);
  });

  it('runs Swagger UI (/api/docs) under the same policy', async () => {
    const { page, problems: p } = await openUser(browser, stack.url);
    problems.push(p);
    const violations = await watchViolations(page);
    await page.goto('/api/docs/');
    await page.locator('.swagger-ui .info .title').waitFor({ timeout: 15_000 });
    expect(await page.locator('.swagger-ui .info .title').innerText()).toContain('Lantern API');
    expect(await violations()).toEqual([]);
  });

  it('cannot be framed, not even by a page of its own origin', async () => {
    const { page } = await openUser(browser, stack.url);
    // The api's 404 page is same-origin and not framed itself: a page to host the frame.
    await page.goto('/api/v1/this-does-not-exist');
    // 'load' waits for the frame too, refused or not.
    await page.setContent(`<iframe id="f" src="${stack.url}/" width="400" height="300"></iframe>`, {
      waitUntil: 'load',
    });
    const frame = await (await page.$('#f'))?.contentFrame();
    // Chromium replaces a frame refused by frame-ancestors with an error document: no dashboard in it.
    expect(frame).toBeDefined();
    expect(await frame?.$('#app')).toBeNull();
    expect(frame?.url()).not.toBe(`${stack.url}/`);
  });

  it('logged no console errors and sent no request off the origin', () => {
    for (const p of problems) {
      expect(p.pageErrors).toEqual([]);
      expect(p.consoleErrors).toEqual([]);
      expect(p.offOrigin).toEqual([]);
    }
  });
});
