import { isIP } from 'node:net';
import { bool, int, text } from './parsers.js';
import { ParseError, type Setting } from './setting.js';

/** "https://a.example.org, http://localhost:5173": browser origins, each exactly scheme://host[:port]. */
const origins = (raw: string): string[] | ParseError => {
  const list = raw
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item !== '');
  for (const item of list) {
    let origin: string | undefined;
    try {
      const parsed = new URL(item);
      origin = parsed.protocol === 'http:' || parsed.protocol === 'https:' ? parsed.origin : undefined;
    } catch {
      origin = undefined;
    }
    // Compared as the browser sends it in the Origin header: no path, no trailing slash, no default port.
    if (origin !== item)
      return new ParseError(
        `must list origins like https://dashboard.example.org (no path, no trailing slash), got '${item}'`,
      );
  }
  return list;
};

const PROXY_KEYWORDS = ['loopback', 'linklocal', 'uniquelocal'];
/** Express's `trust proxy`: a hop count, or the proxies' addresses, subnets and keywords (never "trust everyone"). */
const trustedProxies = (raw: string): number | string[] | ParseError => {
  if (/^\d+$/.test(raw.trim())) {
    const hops = Number(raw.trim());
    return hops >= 1 && hops <= 10 ? hops : new ParseError(`as a hop count must be between 1 and 10, got ${hops}`);
  }
  const list = raw
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item !== '');
  for (const item of list) {
    const [address, bits, extra] = item.split('/');
    const valid =
      PROXY_KEYWORDS.includes(item) ||
      (extra === undefined && isIP(address) !== 0 && (bits === undefined || /^\d{1,3}$/.test(bits)));
    if (!valid)
      return new ParseError(
        `must be a hop count, or addresses/subnets of the proxies (or ${PROXY_KEYWORDS.join(', ')}), got '${item}'`,
      );
  }
  return list.length > 0 ? list : new ParseError('must name at least one proxy');
};

/**
 * The api role's HTTP and Socket.IO surface: where it listens, which browser origins and proxies
 * it trusts, what its /health requires, who may read /metrics, and how often live readings go out.
 */
export const HTTP_SETTINGS = {
  port: {
    env: 'PORT',
    description: 'HTTP port of the api role (REST, Socket.IO, dashboard).',
    default: '3000',
    parse: int(0, 65535),
  },
  host: { env: 'HOST', description: 'Address the api role listens on.', default: '0.0.0.0', parse: text() },
  corsOrigins: {
    env: 'CORS_ORIGINS',
    description:
      'Comma-separated browser origins (https://host[:port]) allowed to call the REST API and Socket.IO from other pages. Unset: same-origin only.',
    parse: origins,
  },
  trustProxy: {
    env: 'TRUST_PROXY',
    description:
      "Reverse proxies whose X-Forwarded-For/-Proto the api believes: a hop count or their addresses/subnets (loopback, 10.0.0.0/8, …). Unset: none (the client's address is the socket's).",
    parse: trustedProxies,
  },
  healthRequireIngest: {
    env: 'HEALTH_REQUIRE_INGEST',
    description:
      "The api's /health answers 503 unless an ingest is consuming; false only for an api run without an ingest (tests).",
    default: 'true',
    parse: bool,
  },
  metricsToken: {
    env: 'METRICS_TOKEN',
    description:
      "Bearer token required by the api's and the ingest's /metrics (≥ 16 characters). Unset: /metrics answers loopback clients only.",
    parse: text(16),
  },
  liveReadingMinIntervalMs: {
    env: 'LIVE_READING_MIN_INTERVAL_MS',
    description: 'Live readings per (patient, metric) are throttled to one per this interval; the latest wins.',
    default: '1000',
    parse: int(0, 60_000),
  },
} as const satisfies Record<string, Setting<unknown>>;
