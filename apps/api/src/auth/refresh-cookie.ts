import type { Request, Response } from 'express';
import { ForbiddenError } from '@lantern/domain';

/** The browser's copy of the refresh token: httpOnly, so no script (nor an XSS) can read it. */
export const REFRESH_COOKIE = 'lantern_refresh';
/** Sent only to the auth routes (login, refresh, logout), never with any other request. */
export const REFRESH_COOKIE_PATH = '/api/v1/auth';
/**
 * A readable companion of the refresh cookie holding no secret (`1`): tells the dashboard that a
 * silent sign-in is worth trying, so a page without a login never asks (and logs a 401) for nothing.
 */
export const SIGNED_IN_COOKIE = 'lantern_signed_in';
/** The header a cookie-borne refresh or logout must carry; a cross-site form or image cannot set one. */
export const CSRF_HEADER = 'x-requested-with';

/** The `lantern_refresh` value of a `Cookie` header, or undefined. */
export function refreshTokenFromCookies(header: string | undefined): string | undefined {
  for (const part of (header ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0 || part.slice(0, eq).trim() !== REFRESH_COOKIE) continue;
    const value = part.slice(eq + 1).trim();
    try {
      return value === '' ? undefined : decodeURIComponent(value);
    } catch {
      return undefined;
    }
  }
  return undefined;
}

/**
 * The refresh token of a request: the body's when given (API clients, contract §4.1), otherwise the
 * cookie's (the dashboard). The cookie is honoured only with an `X-Requested-With` header: with
 * SameSite=Strict a cross-site request carries no cookie at all, and the header also stops a sibling
 * subdomain (same site, other origin) — setting it cross-origin needs a CORS preflight Lantern never
 * grants. A cookie without the header is a 403, not a silent 401, so a misbuilt client learns why.
 */
export function refreshTokenOf(request: Request, fromBody: string | undefined): string | undefined {
  if (fromBody !== undefined) return fromBody;
  const fromCookie = refreshTokenFromCookies(request.headers.cookie);
  if (fromCookie === undefined) return undefined;
  if (request.headers[CSRF_HEADER] === undefined)
    throw new ForbiddenError('A refresh cookie is honoured only with an X-Requested-With header');
  return fromCookie;
}

/** Sets the refresh cookie; `Secure` whenever the request came over HTTPS (directly or, with trust proxy, via a proxy). */
export function setRefreshCookie(request: Request, response: Response, token: string, maxAgeMs: number): void {
  response.cookie(REFRESH_COOKIE, token, {
    httpOnly: true,
    sameSite: 'strict',
    secure: request.secure,
    path: REFRESH_COOKIE_PATH,
    maxAge: maxAgeMs,
  });
  response.cookie(SIGNED_IN_COOKIE, '1', { sameSite: 'strict', secure: request.secure, path: '/', maxAge: maxAgeMs });
}

/** Removes the refresh cookie (logout, or a refresh the server refused: the cookie is dead). */
export function clearRefreshCookie(request: Request, response: Response): void {
  response.clearCookie(REFRESH_COOKIE, {
    httpOnly: true,
    sameSite: 'strict',
    secure: request.secure,
    path: REFRESH_COOKIE_PATH,
  });
  response.clearCookie(SIGNED_IN_COOKIE, { sameSite: 'strict', secure: request.secure, path: '/' });
}
