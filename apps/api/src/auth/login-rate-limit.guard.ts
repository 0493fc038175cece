import {
  HttpException,
  HttpStatus,
  Inject,
  Injectable,
  Logger,
  type CanActivate,
  type ExecutionContext,
} from '@nestjs/common';
import { AuditService } from '@lantern/auth';
import { LANTERN_CONFIG, type LanternConfig } from '@lantern/config';
import { addressKey } from './client-address.js';
import { FailureCounter, type Reservation } from './failure-counter.js';

interface LoginRequest {
  ip?: string;
  body?: unknown;
}

interface LoginResponse {
  statusCode: number;
  setHeader(name: string, value: string): void;
  once(event: 'finish', listener: () => void): void;
}

/** One login attempt's reservations, settled when its answer is sent. */
interface Attempt {
  readonly address: string;
  readonly byAddress: Reservation;
  readonly email: string | undefined;
  readonly byAccount: Reservation | undefined;
  readonly ip: string | undefined;
}

export const TOO_MANY_LOGINS = 'Too many failed logins; try again later';

/**
 * Login throttling on FAILURES, per account and per client address (rate-limiter-flexible, memory
 * store). Successful logins never count: a ward signing in behind one NAT address at shift change
 * is not slowed down, while an account attacked from many addresses is.
 *
 * - More than LOGIN_MAX_FAILURES_PER_ACCOUNT failures for one e-mail (known or not, so the limit
 *   does not reveal which e-mails exist), or LOGIN_MAX_FAILURES_PER_ADDRESS from one address, in
 *   LOGIN_FAILURE_WINDOW: further attempts answer 429 with Retry-After until the window ends —
 *   without checking the password, so a guess made then cannot succeed either.
 * - Each attempt is counted as a failure before the password is checked and given back when the
 *   answer is 200 (an account's count is then cleared), so a burst of parallel guesses cannot
 *   overshoot the limit. An answer other than 200 or 401 (bad request, server error) gives it back.
 * - The failure that reaches a limit is written to the audit log (`auth.login_throttled`), once
 *   per window; every failure itself is already there (`auth.login_failed`).
 *
 * State: one entry per e-mail and per address (IPv6 per /64) that failed in the window. Each
 * failure costs an argon2 verification first, so the entries are bounded by what one process can
 * verify in a window (tens per second). In memory, per api process: N api instances allow N times
 * the limits. Behind a reverse proxy set TRUST_PROXY, or every client shares the proxy's address.
 */
@Injectable()
export class LoginRateLimitGuard implements CanActivate {
  private readonly logger = new Logger('LoginThrottle');
  private readonly accounts: FailureCounter;
  private readonly addresses: FailureCounter;

  constructor(
    @Inject(LANTERN_CONFIG) config: LanternConfig,
    private readonly audit: AuditService,
  ) {
    this.accounts = new FailureCounter(config.loginMaxFailuresPerAccount, config.loginFailureWindowMs, 'login-account');
    this.addresses = new FailureCounter(
      config.loginMaxFailuresPerAddress,
      config.loginFailureWindowMs,
      'login-address',
    );
  }

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const http = context.switchToHttp();
    const request = http.getRequest<LoginRequest>();
    const response = http.getResponse<LoginResponse>();
    const address = addressKey(request.ip);
    const email = emailOf(request.body);

    const byAddress = await this.addresses.reserve(address);
    if (!byAddress.allowed) this.refuse(response, byAddress);
    const byAccount = email === undefined ? undefined : await this.accounts.reserve(email);
    if (byAccount !== undefined && !byAccount.allowed) {
      await this.addresses.refund(address);
      this.refuse(response, byAccount);
    }

    response.once('finish', () => {
      this.settle(response.statusCode, { address, byAddress, email, byAccount, ip: request.ip }).catch(
        (error: unknown) => this.logger.error(`Could not settle a login attempt: ${String(error)}`),
      );
    });
    return true;
  }

  private refuse(response: LoginResponse, reservation: Reservation): never {
    response.setHeader('Retry-After', String(Math.ceil(reservation.msBeforeNext / 1000)));
    throw new HttpException(TOO_MANY_LOGINS, HttpStatus.TOO_MANY_REQUESTS);
  }

  /** After the answer: a 401 keeps the reserved failures, anything else gives them back. */
  private async settle(status: number, attempt: Attempt): Promise<void> {
    const { address, byAddress, email, byAccount, ip } = attempt;
    if (status === 200) {
      await this.addresses.refund(address);
      if (email !== undefined) await this.accounts.clear(email);
      return;
    }
    if (status !== 401) {
      await this.addresses.refund(address);
      if (email !== undefined) await this.accounts.refund(email);
      return;
    }
    const reached = [
      ...(byAccount?.reachesLimit ? (['account'] as const) : []),
      ...(byAddress.reachesLimit ? (['address'] as const) : []),
    ];
    for (const scope of reached) {
      this.logger.warn(`Logins throttled for ${scope === 'account' ? `account ${email}` : `address ${address}`}`);
      await this.audit.record(undefined, {
        action: 'auth.login_throttled',
        details: { scope, ...(scope === 'account' && { email }), address, ...(ip !== undefined && { ip }) },
      });
    }
  }
}

/** The e-mail as the account key (lowercase, like the user lookup); undefined when the body has none. */
function emailOf(body: unknown): string | undefined {
  const email = typeof body === 'object' && body !== null ? (body as { email?: unknown }).email : undefined;
  return typeof email === 'string' && email.length > 0 && email.length <= 254 ? email.trim().toLowerCase() : undefined;
}
