import type { NextFunction, Request, RequestHandler, Response } from 'express';
import helmet from 'helmet';

/** HSTS for a year; no includeSubDomains: Lantern does not own its host's sibling names. */
export const HSTS_VALUE = 'max-age=31536000';

/**
 * The Content-Security-Policy of every response. The dashboard (a Vite build served by the api)
 * loads only its own scripts and styles, inserts SVG icons with innerHTML (markup, no script),
 * sets style attributes (chart bands, uPlot) — hence `style-src 'unsafe-inline'`, the one
 * relaxation, which cannot run script —, reaches the api and Socket.IO on its own origin
 * (`connect-src 'self'` covers ws:/wss: of the same host) and plays alarms with WebAudio, which
 * no directive governs. Swagger UI at /api/docs works under the same policy.
 * No `upgrade-insecure-requests`: on a plain-HTTP deployment it would break every asset.
 */
export const CSP_DIRECTIVES = {
  defaultSrc: ["'self'"],
  baseUri: ["'self'"],
  connectSrc: ["'self'"],
  fontSrc: ["'self'", 'data:'],
  formAction: ["'self'"],
  frameAncestors: ["'none'"],
  imgSrc: ["'self'", 'data:'],
  objectSrc: ["'none'"],
  scriptSrc: ["'self'"],
  scriptSrcAttr: ["'none'"],
  styleSrc: ["'self'", "'unsafe-inline'"],
  workerSrc: ["'self'"],
};

/**
 * Protective headers on every response (helmet): the CSP above (with `frame-ancestors 'none'`)
 * and `X-Frame-Options: DENY` against framing, `X-Content-Type-Options: nosniff`,
 * `Referrer-Policy: no-referrer`, `Cross-Origin-Opener-Policy`/`-Resource-Policy: same-origin`.
 * HSTS only on requests that arrived over TLS: the api's own HTTPS, or a proxy trusted by
 * TRUST_PROXY that says `X-Forwarded-Proto: https` — a browser ignores HSTS over plain HTTP
 * anyway, and a plain-HTTP deployment must not be told it is HTTPS-only.
 */
export function securityHeaders(): RequestHandler[] {
  const headers = helmet({
    contentSecurityPolicy: { useDefaults: false, directives: CSP_DIRECTIVES },
    strictTransportSecurity: false,
    xFrameOptions: { action: 'deny' },
    referrerPolicy: { policy: 'no-referrer' },
  });
  const hsts = (req: Request, res: Response, next: NextFunction): void => {
    if (req.secure) res.setHeader('Strict-Transport-Security', HSTS_VALUE);
    next();
  };
  return [headers, hsts];
}
