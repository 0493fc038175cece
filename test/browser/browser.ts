import { existsSync } from 'node:fs';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';

/** Debian's chromium (`apt-get install -y chromium`, done by .ci/run). */
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

// Playwright gives every launch a fresh temporary --user-data-dir of its own (it refuses one in args).
const FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM))
    throw new Error(
      `No Chromium at ${CHROMIUM}: the browser tests need it. Install Debian's (apt-get install -y chromium, as .ci/run does) or set CHROMIUM_PATH.`,
    );
  return chromium.launch({ executablePath: CHROMIUM, args: FLAGS });
}

/** What the page did wrong: console errors, uncaught exceptions, requests that left the origin. */
export interface PageProblems {
  consoleErrors: string[];
  pageErrors: string[];
  offOrigin: string[];
}

export const PHONE = { width: 390, height: 844 };
export const DESKTOP = { width: 1360, height: 900 };

/**
 * A fresh browser context (own storage: a separate user) on `baseUrl`. Every request that would
 * leave the origin is recorded and aborted, so a CDN or web font cannot slip in unnoticed.
 */
export async function openUser(
  browser: Browser,
  baseUrl: string,
  viewport = DESKTOP,
): Promise<{ context: BrowserContext; page: Page; problems: PageProblems }> {
  const context = await browser.newContext({ viewport, baseURL: baseUrl, deviceScaleFactor: 1 });
  const problems: PageProblems = { consoleErrors: [], pageErrors: [], offOrigin: [] };
  const origin = new URL(baseUrl).origin;
  await context.route('**/*', (route) => {
    const url = route.request().url();
    if (url.startsWith('data:') || new URL(url).origin === origin) return route.continue();
    problems.offOrigin.push(url);
    return route.abort();
  });
  // WebSocket upgrades do not pass through route(): check them separately.
  context.on('page', (p) =>
    p.on('websocket', (ws) => new URL(ws.url()).host !== new URL(baseUrl).host && problems.offOrigin.push(ws.url())),
  );
  const page = await context.newPage();
  page.on('websocket', (ws) => {
    if (new URL(ws.url()).host !== new URL(baseUrl).host) problems.offOrigin.push(ws.url());
  });
  page.on('console', (msg) => {
    if (msg.type() === 'error') problems.consoleErrors.push(msg.text());
  });
  page.on('pageerror', (error) => problems.pageErrors.push(error.message));
  return { context, page, problems };
}

/** Signs in through the login form. */
export async function signIn(page: Page, email: string, password: string): Promise<void> {
  await page.goto('/');
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
}
