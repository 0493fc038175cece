import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { AddressInfo } from 'node:net';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import type { UserDto } from '../../apps/api/src/users/user.dto.js';
import { findDashboardDir } from '../../apps/api/src/dashboard/dashboard-files.js';
import { ADMIN_EMAIL, ADMIN_PASSWORD, startApi, type ApiFixture } from '../api/api-fixture.js';
import { launchChromium, openUser, signIn, type PageProblems } from '../browser/browser.js';
import { waitFor } from '../support/wait.js';

/** Access tokens live this long here, so that the dashboard must renew them several times during the test. */
const TTL_S = 6;

/**
 * The dashboard in Chromium (test/browser/browser.ts) against the real api: with ACCESS_TOKEN_TTL=6s it stays
 * signed in and live across several token lifetimes by renewing silently (one socket throughout:
 * the renewed token reaches it by `authenticate`), a new tab signs in from the refresh cookie, and
 * the moment the user is disabled every tab goes back to sign-in.
 */
describe('dashboard session in a real browser', () => {
  const password = 'a-long-password-1';
  let api: ApiFixture;
  let url: string;
  let browser: Browser;
  let admin: string;
  let context: BrowserContext;
  let page: Page;
  let problems: PageProblems;
  let clinicianId: string;
  const email = 'wall.display@sessions.test';

  /** The access token the page holds now (sessionStorage). Evaluated in the page: this file has no DOM types. */
  const tokenOf = (p: Page): Promise<string | undefined> =>
    p.evaluate<string | undefined>(`JSON.parse(sessionStorage.getItem('lantern.session') ?? 'null')?.token`);

  beforeAll(async () => {
    // npm test builds the dashboard first; a missing build is a failure, never a skip.
    if (findDashboardDir() === null) throw new Error('The dashboard is not built: run npm run build:dashboard');
    api = await startApi({ ACCESS_TOKEN_TTL: `${TTL_S}s` });
    await api.app.listen(0, '127.0.0.1');
    url = `http://127.0.0.1:${(api.app.getHttpServer().address() as AddressInfo).port}`;
    admin = await api.login(ADMIN_EMAIL, ADMIN_PASSWORD);
    const res = await api.http
      .post('/api/v1/users')
      .set('Authorization', `Bearer ${admin}`)
      .send({ email, password, role: 'clinician', displayName: 'Wall Display' })
      .expect(201);
    clinicianId = (res.body as UserDto).id;
    browser = await launchChromium();
    ({ context, page, problems } = await openUser(browser, url));
  });

  afterAll(async () => {
    await browser?.close();
    await api?.close();
  });

  it('stays signed in and live across several access-token lifetimes, on one socket', async () => {
    const refreshes: number[] = [];
    page.on('response', (response) => {
      if (response.url().endsWith('/api/v1/auth/refresh')) refreshes.push(response.status());
    });
    let sockets = 0;
    page.on('websocket', () => (sockets += 1));

    await signIn(page, email, password);
    await page.getByRole('button', { name: 'Sign out' }).waitFor();
    await page.locator('.live-status[data-live="live"]').waitFor();
    const first = await tokenOf(page);
    const started = Date.now();

    // Three renewals take more than two whole lifetimes of the first token.
    await waitFor(() => refreshes.length >= 3, 'three silent renewals', 4 * TTL_S * 1000);
    expect(Date.now() - started).toBeGreaterThan(2 * (TTL_S - 2) * 1000);
    expect(refreshes.filter((s) => s !== 200)).toEqual([]);
    const now = await tokenOf(page);
    expect(now).not.toBe(first);
    // Still signed in, still live, on the socket it opened first (no reconnect at any token's expiry).
    expect(await page.getByRole('button', { name: 'Sign out' }).isVisible()).toBe(true);
    expect(await page.locator('.live-status').getAttribute('data-live')).toBe('live');
    expect(sockets).toBe(1);
    // Nothing went wrong on the way, not even a refused request (no silent sign-in was tried without a cookie).
    expect(problems.consoleErrors).toEqual([]);
    const status = await page.evaluate(
      (token) => fetch('/api/v1/me', { headers: { authorization: `Bearer ${token}` } }).then((r) => r.status),
      now,
    );
    expect(status).toBe(200);
    // The refresh token never reaches the page's storage: it lives in the httpOnly cookie.
    const stored = await page.evaluate<string>('JSON.stringify({ ...sessionStorage }) + document.cookie');
    expect(stored).not.toMatch(/refresh/i);
  });

  it('signs a new tab in from the refresh cookie, without the login form', async () => {
    const tab = await context.newPage();
    await tab.goto('/');
    await tab.getByRole('button', { name: 'Sign out' }).waitFor();
    expect(await tab.getByLabel('Email').count()).toBe(0);
    await tab.locator('.live-status[data-live="live"]').waitFor();
    await tab.close();
  });

  it('goes to sign-in within 5 s of the user being disabled', async () => {
    // The admin's own token of beforeAll has long expired (TTL_S): a fresh login.
    admin = await api.login(ADMIN_EMAIL, ADMIN_PASSWORD);
    const since = Date.now();
    await api.http
      .patch(`/api/v1/users/${clinicianId}`)
      .set('Authorization', `Bearer ${admin}`)
      .send({ disabled: true })
      .expect(200);
    await page.getByLabel('Email').waitFor({ timeout: 5000 });
    const ms = Date.now() - since;
    console.log(`dashboard back at sign-in ${ms} ms after the disable`);
    expect(ms).toBeLessThan(5000);
    expect(await tokenOf(page)).toBeUndefined();
    // A reload does not sign it in again: the cookie's login is over too.
    await page.reload();
    await page.getByLabel('Email').waitFor();
    expect(problems.pageErrors).toEqual([]);
    expect(problems.offOrigin).toEqual([]);
  });
});
