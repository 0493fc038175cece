import { timingSafeEqual } from 'node:crypto';
import {
  HttpException,
  HttpStatus,
  Inject,
  Injectable,
  Logger,
  UnauthorizedException,
  type CanActivate,
  type ExecutionContext,
} from '@nestjs/common';
import { LANTERN_CONFIG, type LanternConfig } from '@lantern/config';
import { addressKey } from '../auth/client-address.js';
import { FailureCounter } from '../auth/failure-counter.js';

/** Name of the hooks' security scheme in the OpenAPI document. */
export const MQTT_HOOK_SECURITY = 'mqttHook';
/** Calls with a missing or wrong secret per client address and minute before the hooks answer 429. */
export const HOOK_MAX_FAILURES = 20;
const HOOK_FAILURE_WINDOW_MS = 60_000;

interface HookRequest {
  ip?: string;
  headers: Record<string, string | string[] | undefined>;
}

interface HookResponse {
  setHeader(name: string, value: string): void;
}

/**
 * The secret in `Authorization`: `Bearer <secret>` (EMQX's `headers`), or the password of `Basic`
 * (mosquitto-go-auth sets only Content-Type and User-Agent itself, but Go's HTTP client sends
 * `user:secret@` from its host option as Basic authentication).
 */
export function presentedHookSecret(authorization: string | string[] | undefined): string | undefined {
  if (typeof authorization !== 'string') return undefined;
  const [scheme, value] = authorization.trim().split(/\s+/, 2);
  if (value === undefined) return undefined;
  if (scheme.toLowerCase() === 'bearer') return value;
  if (scheme.toLowerCase() !== 'basic') return undefined;
  const decoded = Buffer.from(value, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  return colon < 0 ? undefined : decoded.slice(colon + 1);
}

/**
 * Only the broker may ask the auth hooks: every call must carry MQTT_HOOK_SECRET, or it answers
 * 401 before the body is even validated — so the hooks are no longer a public oracle for device
 * secrets or the service password. Unset, the hooks refuse every call (the embedded broker does
 * not use them; an external broker that does needs the secret configured on both sides).
 * Missing or wrong secrets are counted per client address: past HOOK_MAX_FAILURES in a minute,
 * 429 with Retry-After, even for the right secret, until the minute ends.
 */
@Injectable()
export class MqttHookSecretGuard implements CanActivate {
  private readonly logger = new Logger('MqttAuth');
  private readonly secret: Buffer | undefined;
  private readonly failures = new FailureCounter(HOOK_MAX_FAILURES, HOOK_FAILURE_WINDOW_MS, 'mqtt-hook');

  constructor(@Inject(LANTERN_CONFIG) config: LanternConfig) {
    this.secret = config.mqttHookSecret === undefined ? undefined : Buffer.from(config.mqttHookSecret, 'utf8');
    if (this.secret === undefined && config.mqttUrl !== undefined)
      this.logger.warn(
        'MQTT_HOOK_SECRET is unset: the broker auth hooks /api/v1/mqtt/* answer 401 to every call (docs/security.md).',
      );
  }

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const http = context.switchToHttp();
    const request = http.getRequest<HookRequest>();
    const address = addressKey(request.ip);
    // Counted as a failure first and given back when the secret matches: parallel guesses cannot overshoot.
    const reservation = await this.failures.reserve(address);
    if (!reservation.allowed) {
      http.getResponse<HookResponse>().setHeader('Retry-After', String(Math.ceil(reservation.msBeforeNext / 1000)));
      throw new HttpException('Too many calls without the hook secret; try again later', HttpStatus.TOO_MANY_REQUESTS);
    }
    if (this.matches(presentedHookSecret(request.headers.authorization))) {
      await this.failures.refund(address);
      return true;
    }
    if (reservation.reachesLimit) this.logger.warn(`Broker hook calls without the secret throttled for ${address}`);
    http.getResponse<HookResponse>().setHeader('WWW-Authenticate', `Bearer realm="lantern-mqtt-hooks"`);
    throw new UnauthorizedException('Broker hook secret missing or wrong');
  }

  private matches(presented: string | undefined): boolean {
    if (this.secret === undefined || presented === undefined) return false;
    const candidate = Buffer.from(presented, 'utf8');
    return candidate.length === this.secret.length && timingSafeEqual(candidate, this.secret);
  }
}
