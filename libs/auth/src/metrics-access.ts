import { timingSafeEqual } from 'node:crypto';
import { isIP } from 'node:net';

/** What a metrics scrape may see: `allowed`, or the status to answer (401 without/with a wrong token, 403 when not loopback). */
export type MetricsAccess = 'allowed' | 'unauthorized' | 'forbidden';

export interface MetricsRequest {
  /** The `Authorization` header. */
  readonly authorization?: string | string[];
  /** The TCP peer (the socket's remote address, never a forwarded one). */
  readonly remoteAddress?: string;
  /** True when the request names a client behind a proxy (Forwarded, X-Forwarded-For, X-Real-IP). */
  readonly forwarded: boolean;
}

export const METRICS_LOOPBACK_ONLY =
  'Metrics are served to loopback clients only: set METRICS_TOKEN to scrape from elsewhere';
export const METRICS_TOKEN_REQUIRED = 'Metrics need Authorization: Bearer <METRICS_TOKEN>';

/** True for 127.0.0.0/8 and ::1, also IPv4-mapped. */
export function isLoopbackAddress(address: string | undefined): boolean {
  if (address === undefined) return false;
  const v4 = address.replace(/^::ffff:/i, '');
  if (isIP(v4) === 4) return v4.startsWith('127.');
  return address === '::1';
}

/**
 * The one rule for the api's and the ingest's /metrics: with METRICS_TOKEN set, a matching
 * `Authorization: Bearer` from anywhere; without it, loopback peers only. A request a proxy
 * forwarded counts as remote even from a loopback peer — otherwise a reverse proxy on the same
 * machine would publish the metrics to the world.
 */
export function metricsAccess(request: MetricsRequest, token: string | undefined): MetricsAccess {
  if (token !== undefined) {
    const header = typeof request.authorization === 'string' ? request.authorization.trim() : '';
    const match = /^Bearer\s+(\S+)$/i.exec(header);
    if (match === null) return 'unauthorized';
    const presented = Buffer.from(match[1], 'utf8');
    const expected = Buffer.from(token, 'utf8');
    return presented.length === expected.length && timingSafeEqual(presented, expected) ? 'allowed' : 'unauthorized';
  }
  return isLoopbackAddress(request.remoteAddress) && !request.forwarded ? 'allowed' : 'forbidden';
}

/** Whether the headers name a client behind a proxy. */
export function isForwarded(headers: Record<string, string | string[] | undefined>): boolean {
  return ['forwarded', 'x-forwarded-for', 'x-real-ip'].some((name) => headers[name] !== undefined);
}
