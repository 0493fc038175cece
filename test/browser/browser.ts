import { existsSync } from 'node:fs';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';

/** A Chromium of the machine: CHROMIUM_PATH, else Debian's when installed. */
const SYSTEM_CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

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

/**
 * Launches headless Chromium: the machine's (CHROMIUM_PATH, or Debian's `chromium` when installed),
 * else the one `npm ci` brings (`@sparticuz/chromium`, unpacked on first use), so a machine with
 * Node alone runs the browser tests. `LANTERN_BROWSER=bundled` forces the bundled one.
 */
export async function launchChromium(): Promise<Browser> {
  const bundled = process.env.LANTERN_BROWSER === 'bundled';
  if (!bundled && (process.env.CHROMIUM_PATH !== undefined || existsSync(SYSTEM_CHROMIUM))) {
    if (!existsSync(SYSTEM_CHROMIUM)) throw new Error(`No Chromium at CHROMIUM_PATH=${SYSTEM_CHROMIUM}`);
    return chromium.launch({ executablePath: SYSTEM_CHROMIUM, args: FLAGS });
  }
  const { default: packaged } = await import('@sparticuz/chromium');
  return chromium.launch({
    executablePath: await packaged.executablePath(),
    // Not the package's own flags: they are for AWS Lambda, and two of them break what these tests
    // check. --single-process makes every browser context share one cookie jar (a second user opens
    // signed in as the first), and --disable-web-security switches off the same-origin policy and CSP.
    // Software GL only, as it has no GPU stack to load.
    args: [...FLAGS, '--use-gl=angle', '--use-angle=swiftshader', '--lang=en-US'],
    // Its ICU takes the locale from the environment; a POSIX one ("en-US@posix") breaks Intl in pages.
    env: { ...process.env, LANG: 'en_US.UTF-8', LC_ALL: 'en_US.UTF-8' },
  });
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
