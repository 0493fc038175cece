import {
  ForbiddenException,
  Inject,
  Injectable,
  UnauthorizedException,
  type CanActivate,
  type ExecutionContext,
} from '@nestjs/common';
import { isForwarded, metricsAccess, METRICS_LOOPBACK_ONLY, METRICS_TOKEN_REQUIRED } from '@lantern/auth';
import { LANTERN_CONFIG, type LanternConfig } from '@lantern/config';

interface MetricsHttpRequest {
  headers: Record<string, string | string[] | undefined>;
  socket: { remoteAddress?: string };
}

/**
 * /metrics is not public: METRICS_TOKEN as a bearer token when set, otherwise loopback peers only
 * (the TCP peer, not X-Forwarded-For, which anyone can write). See `metricsAccess` in libs/auth.
 */
@Injectable()
export class MetricsAccessGuard implements CanActivate {
  constructor(@Inject(LANTERN_CONFIG) private readonly config: LanternConfig) {}

  canActivate(context: ExecutionContext): boolean {
    const request = context.switchToHttp().getRequest<MetricsHttpRequest>();
    const access = metricsAccess(
      {
        authorization: request.headers.authorization,
        remoteAddress: request.socket.remoteAddress,
        forwarded: isForwarded(request.headers),
      },
      this.config.metricsToken,
    );
    if (access === 'unauthorized') throw new UnauthorizedException(METRICS_TOKEN_REQUIRED);
    if (access === 'forbidden') throw new ForbiddenException(METRICS_LOOPBACK_ONLY);
    return true;
  }
}
