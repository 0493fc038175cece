import { HttpException, HttpStatus, Inject, Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { LANTERN_CONFIG, type LanternConfig } from '@lantern/config';

const WINDOW_MS = 60_000;

interface Window {
  count: number;
  resetAt: number;
}

interface LimitedRequest {
  ip?: string;
}

interface LimitedResponse {
  setHeader(name: string, value: string): void;
}

/**
 * LOGIN_RATE_LIMIT attempts per minute per client address (fixed one-minute windows), counted
 * before the password is checked, so guessing is bounded whatever the outcome. In memory, per api
 * process: N api instances allow N times the limit. (A hand-rolled guard rather than
 * @nestjs/throttler, which is CommonJS and cannot load Nest 12's ES modules under jest.)
 */
@Injectable()
export class LoginRateLimitGuard implements CanActivate {
  private readonly windows = new Map<string, Window>();

  constructor(@Inject(LANTERN_CONFIG) private readonly config: LanternConfig) {}

  canActivate(context: ExecutionContext): boolean {
    const http = context.switchToHttp();
    const key = http.getRequest<LimitedRequest>().ip ?? 'unknown';
    const now = Date.now();
    if (this.windows.size > 10_000) this.sweep(now);
    let window = this.windows.get(key);
    if (window === undefined || window.resetAt <= now) {
      window = { count: 0, resetAt: now + WINDOW_MS };
      this.windows.set(key, window);
    }
    window.count += 1;
    if (window.count > this.config.loginRateLimit) {
      http.getResponse<LimitedResponse>().setHeader('Retry-After', String(Math.ceil((window.resetAt - now) / 1000)));
      throw new HttpException('Too many login attempts; try again in a minute', HttpStatus.TOO_MANY_REQUESTS);
    }
    return true;
  }

  private sweep(now: number): void {
    for (const [key, window] of this.windows) if (window.resetAt <= now) this.windows.delete(key);
  }
}
