import { duration, int, text } from './parsers.js';
import { ParseError, type Setting } from './setting.js';

const email = (raw: string): string | ParseError =>
  /^[^@\s]+@[^@\s]+$/.test(raw) ? raw.toLowerCase() : new ParseError('must be an e-mail address');

/** Who may sign in and for how long: token signing and lifetimes, the first admin, and login throttling. */
export const AUTH_SETTINGS = {
  jwtSecret: {
    env: 'JWT_SECRET',
    description: 'Secret that signs access tokens (≥ 32 characters). Unset: generated once and kept in DATA_DIR.',
    parse: text(32),
  },
  accessTokenTtl: {
    env: 'ACCESS_TOKEN_TTL',
    description:
      'Lifetime of an access token. Short: revocation is checked on every request anyway, and the dashboard renews it silently.',
    default: '15m',
    parse: duration(5_000),
  },
  refreshTokenTtl: {
    env: 'REFRESH_TOKEN_TTL',
    description:
      'Lifetime of a refresh token; each refresh issues a new one, so a login ends after this long without a refresh.',
    default: '30d',
    parse: duration(60_000),
  },
  adminEmail: {
    env: 'ADMIN_EMAIL',
    description: 'E-mail of the admin created on first start with an empty database.',
    default: 'admin@lantern.local',
    parse: email,
  },
  adminPassword: {
    env: 'ADMIN_PASSWORD',
    description: 'Password of that admin. Unset: generated and printed once.',
    parse: text(12),
  },
  loginMaxFailuresPerAccount: {
    env: 'LOGIN_MAX_FAILURES_PER_ACCOUNT',
    description:
      'Failed logins for one e-mail (from any address) within LOGIN_FAILURE_WINDOW before its logins answer 429 until the window ends; a success clears them.',
    default: '10',
    parse: int(1, 10_000),
  },
  loginMaxFailuresPerAddress: {
    env: 'LOGIN_MAX_FAILURES_PER_ADDRESS',
    description:
      'Failed logins from one client address (any e-mail) within LOGIN_FAILURE_WINDOW before its logins answer 429 until the window ends. Successes never count.',
    default: '100',
    parse: int(1, 1_000_000),
  },
  loginFailureWindowMs: {
    env: 'LOGIN_FAILURE_WINDOW',
    description: 'Window in which failed logins are counted (from the first failure).',
    default: '15m',
    parse: duration(10_000),
  },
} as const satisfies Record<string, Setting<unknown>>;
