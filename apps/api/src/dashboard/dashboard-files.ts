import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Finds the built dashboard (`dist/dashboard`, made by `npm run build:dashboard`) by walking up
 * from this file, so the same lookup works from the sources (tests) and from `dist/apps/api/…`.
 */
export function findDashboardDir(start = dirname(fileURLToPath(import.meta.url))): string | null {
  for (let dir = start; ; dir = dirname(dir)) {
    const candidate = join(dir, 'dist', 'dashboard');
    if (existsSync(join(candidate, 'index.html'))) return candidate;
    if (dirname(dir) === dir) return null;
  }
}

/** Paths that belong to the API, the socket or operations and must never fall back to the page. */
const NOT_PAGES = /^\/(api|socket\.io|health|metrics)(\/|$)/;

/** True when a request should get index.html: a GET for an HTML page at a client-side route. */
export function isPageRequest(method: string, path: string, accept: string | undefined): boolean {
  if (method !== 'GET' && method !== 'HEAD') return false;
  if (NOT_PAGES.test(path)) return false;
  // A path with a file extension is an asset: a missing one is a 404, not the page.
  if (/\.[a-z0-9]+$/i.test(path)) return false;
  return accept === undefined || accept.includes('text/html') || accept.includes('*/*');
}
